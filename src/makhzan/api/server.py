"""The application as uvicorn's factory, configured from the environment (one per worker)."""

from __future__ import annotations

from fastapi import FastAPI

from makhzan.config import Settings


def app_from_env() -> FastAPI:
    from makhzan.api.app import create_app

    settings = Settings.from_env()
    if settings.database_url is None:
        raise RuntimeError("MAKHZAN_DATABASE_URL is not set; start the server with `makhzan serve`.")
    return create_app(settings.database_url, settings)
