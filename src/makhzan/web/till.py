"""The POS till: one server-rendered page and a small script (``static/till.js``, no build step)
that talks to the same-origin API, so the same page works in both places it is served:

* ``till_router(mode="central")`` — on the central server at ``/till``, for a signed-in person
  (any role; the session cookie authenticates the script's API calls). A person whose account
  is not bound to a location picks the store on the page.
* ``till_router(mode="agent")`` — on the terminal agent, at ``/till`` (and ``/``), with no
  sign-in: the agent holds the terminal's key. The router also serves ``/static/*`` and the
  language switch, so the page works with no network at all. ``agent_router`` is that router,
  ready to include: ``app.include_router(makhzan.web.till.agent_router)``.

What the script calls: ``GET /api/v1/scan/{barcode}``, ``POST /api/v1/sales`` (the sale id is a
UUID made in the browser when the basket starts, so a retry is idempotent),
``GET /api/v1/products?q=`` (search by name for a damaged label), ``GET /api/v1/settings`` (the
LBP rate and the sale currency), and at the agent ``GET /agent/status`` (online flag, pending
sales); on central it checks ``GET /health`` for the online banner.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from makhzan import tenancy
from makhzan.api.state import read
from makhzan.web import auth, i18n
from makhzan.web.accounts import SessionUser
from makhzan.web.language import language_router
from makhzan.web.render import language, render
from makhzan.web.static_files import static_router

Mode = Literal["central", "agent"]


def _messages(lang: str) -> dict[str, str]:
    """The till's texts for its script, in the page's language (English where one is missing)."""
    english = {k: v for k, v in i18n.catalog("en").items() if k.startswith("till.")}
    return {k: i18n.catalog(lang).get(k, v) for k, v in english.items()}


def _page(request: Request, mode: Mode, *, location_id: Any, locations: list[dict[str, Any]]) -> Response:
    lang = language(request)
    config = {
        "mode": mode,
        "location_id": str(location_id) if location_id else None,
        "locations": [{"id": str(loc["id"]), "name": loc["name"]} for loc in locations],
        "locale": i18n.JS_LOCALE[lang],
        "lang": lang,
        "messages": _messages(lang),
    }
    return render(request, "till/till.html", {"config": config, "mode": mode})


def till_router(mode: Mode = "central") -> APIRouter:
    """The till page for the central server (signed in) or the terminal agent (no sign-in)."""
    router = APIRouter(include_in_schema=False)

    if mode == "agent":
        router.include_router(static_router())
        router.include_router(language_router())

        @router.get("/")
        async def agent_home() -> Response:
            return RedirectResponse("/till", status_code=303)

        @router.get("/till")
        async def agent_till(request: Request) -> Response:
            # The agent is bound to its terminal's location; the script learns it from /agent/status.
            return _page(request, "agent", location_id=None, locations=[])

        return router

    @router.get("/till")
    async def central_till(request: Request, user: SessionUser = Depends(auth.signed_in)) -> Response:
        who = user.principal
        locations: list[dict[str, Any]] = []
        if who.location_id is None:
            everywhere = await read(request, who, lambda conn: tenancy.list_locations(conn, who.tenant_id))
            # Tills sell in stores; a tenant with no store yet still gets a choice.
            locations = [loc for loc in everywhere if loc["kind"] == "store"] or everywhere
        return _page(request, "central", location_id=who.location_id, locations=locations)

    return router


agent_router = till_router(mode="agent")
