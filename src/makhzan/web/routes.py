"""Every router of the screens, and the one call that puts them into the FastAPI app.

A page module is a ``makhzan.web.<name>`` module with a ``router`` (an ``APIRouter``); list its
name in ``PAGE_MODULES``.
"""

from __future__ import annotations

import importlib

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from makhzan.config import Settings
from makhzan.web import auth
from makhzan.web.language import language_router
from makhzan.web.render import render
from makhzan.web.static_files import static_router

# The modules of makhzan.web whose ``router`` serves pages, in matching order. A module not
# (yet) in the tree is skipped, so the back-office pages built beside these join by existing.
PAGE_MODULES = ["routes_auth", "routes_dashboard", "routes_settings", "routes_products", "routes_stock",
                "routes_reports"]


def _routers(app: FastAPI) -> list[APIRouter]:
    # Imported here, not at module level: route modules import api.state, which imports
    # web.auth; importing them lazily keeps api.app -> web.routes free of a cycle.
    from makhzan.web import till

    routers = [static_router(), language_router(), till.till_router(mode="central")]
    # Which page modules are in, for the menu (render.BACKOFFICE_NAV).
    app.state.makhzan_web_pages = set()
    for name in PAGE_MODULES:
        try:
            module = importlib.import_module(f"makhzan.web.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"makhzan.web.{name}":
                raise
            continue
        routers.append(module.router)
        app.state.makhzan_web_pages.add(name)
    return routers


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, auth.SignInRequired)
    target = auth.sign_in_url(str(exc))
    if request.headers.get("hx-request"):
        # htmx swaps responses in place; tell it to navigate instead.
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _page_forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, auth.PageForbidden)
    return render(request, "forbidden.html", {"required": exc.required}, status_code=403)


def include_web(app: FastAPI, settings: Settings) -> None:
    """Add the back office, the till and their static files to ``app``."""
    auth.install_session_cache(app, settings.key_cache_seconds)
    app.add_exception_handler(auth.SignInRequired, _sign_in_required)
    app.add_exception_handler(auth.PageForbidden, _page_forbidden)
    for router in _routers(app):
        app.include_router(router)
