"""The FastAPI application: the v1 API under /api/v1, docs at /docs and /openapi.json."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from makhzan import __version__, daily_report, mail, tenancy, webhooks
from makhzan.api import (
    errors,
    routes_admin,
    routes_alerts,
    routes_catalog,
    routes_daily_reports,
    routes_email,
    routes_products_io,
    routes_reports,
    routes_stock,
    routes_sync,
)
from makhzan.api.json import respond
from makhzan.api.state import AppState
from makhzan.config import Settings
from makhzan.db import open_pool
from makhzan.migrate import migrate
from makhzan.web.routes import include_web


def create_app(database_url: str, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        migrate(database_url)
        pool = open_pool(database_url, settings.pool_min_size, settings.pool_max_size)
        await pool.open(wait=True)
        app.state.makhzan = AppState(pool=pool, keys=tenancy.KeyCache(settings.key_cache_seconds),
                                      settings=settings)
        # Sends the webhook outbox after commit; every server process runs one (they share the
        # work through SKIP LOCKED and leases).
        delivery = asyncio.create_task(webhooks.run_delivery_worker(database_url, settings),
                                       name="makhzan-webhook-delivery")
        # Makes each tenant's morning report when due; every process runs one, and the report's
        # unique key lets only one of them make (and send) each day's.
        scheduler = asyncio.create_task(daily_report.run_scheduler(database_url, settings),
                                        name="makhzan-daily-report")
        # Sends the e-mail outbox (alerts, morning reports) the same way as the webhook worker.
        mailer = asyncio.create_task(mail.run_delivery_worker(database_url, settings), name="makhzan-mail-delivery")
        try:
            yield
        finally:
            for task in (scheduler, delivery, mailer):
                task.cancel()
            for task in (scheduler, delivery, mailer):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await pool.close()

    app = FastAPI(
        title="Makhzan",
        version=__version__,
        description="Live, barcode-driven inventory wired into the point of sale.",
        lifespan=lifespan,
    )
    errors.install(app)
    # Before the catalog's routes: /products/export and /products/import are not product ids.
    app.include_router(routes_products_io.router, prefix="/api/v1")
    for router in (routes_admin.router, routes_catalog.router, routes_stock.router, routes_reports.router,
                   routes_alerts.router, routes_daily_reports.router, routes_sync.router):
        app.include_router(router, prefix="/api/v1")
    app.include_router(routes_email.router, prefix="/api/v1")
    # The screens: back office, till, sign-in and their static files (makhzan.web).
    include_web(app, settings)

    @app.get("/health", tags=["health"])
    async def health() -> object:
        return respond({"status": "ok", "version": __version__})

    return app
