"""The Jinja2 environment and the one function every page renders through."""

from __future__ import annotations

from functools import cache, partial
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from makhzan.web import i18n

# Back-office menu entries after the dashboard: (path, message key, page module). An entry
# shows only when its module of makhzan.web is part of the app, so a part of the screens
# appears in the menu when it lands.
BACKOFFICE_NAV: list[tuple[str, str, str]] = [("/products", "nav.products", "routes_products"),
                                              ("/stock", "nav.stock", "routes_stock"),
                                              ("/reports", "nav.reports", "routes_reports")]


def _nav(request: Request) -> list[dict[str, str]]:
    included: set[str] = getattr(request.app.state, "makhzan_web_pages", set())
    return [{"href": href, "label": label} for href, label, module in BACKOFFICE_NAV if module in included]


@cache
def environment() -> Environment:
    env = Environment(loader=PackageLoader("makhzan", "web/templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    return env


def language(request: Request) -> str:
    return i18n.pick_language(request.cookies.get(i18n.LANG_COOKIE), request.headers.get("accept-language"))


def page_context(request: Request) -> dict[str, Any]:
    """What every template gets: the language, its helpers, and who is signed in."""
    lang = language(request)
    return {
        "request": request,
        "lang": lang,
        "dir": i18n.direction(lang),
        "js_locale": i18n.JS_LOCALE[lang],
        "t": partial(i18n.translate, lang),
        "number": partial(i18n.number, lang),
        "money": partial(i18n.money, lang),
        "date_time": partial(i18n.date_time, lang),
        "user": getattr(request.state, "web_user", None),
        "path": request.url.path,
        # Where the language switch comes back to: this page, with its query.
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "backoffice_nav": _nav(request),
    }


def render(request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:
    """Render ``template`` with the page context plus ``context``."""
    values = page_context(request)
    values.update(context or {})
    html = environment().get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code, headers=headers)
