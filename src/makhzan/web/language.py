"""The language switch: a cookie, then back to the page the person was on."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from makhzan.web import i18n


def _safe_next(next_path: str | None, default: str) -> str:
    """Only a local path (never another site)."""
    if next_path and next_path.startswith("/") and not next_path.startswith("//") and "\\" not in next_path:
        return next_path
    return default


def language_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/lang/{code}")
    async def switch_language(code: str, next: str | None = None) -> Response:  # noqa: A002
        response = RedirectResponse(_safe_next(next, "/"), status_code=303)
        if code in i18n.LANGUAGES:
            response.set_cookie(i18n.LANG_COOKIE, code, max_age=400 * 86400, samesite="strict", path="/")
        return response

    return router
