"""The agent's local HTTP API: the same scan and sale as central, plus /agent/status.

A POS program integrates once against these paths and never needs to know whether the link is
up. The agent listens on loopback and holds the terminal's key, so local callers send none; one
that does send a key must send the agent's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Query, Request, Response

from makhzan import __version__, errors
from makhzan.agent import catalog_sync, loop, outbox, pricing, scan, store
from makhzan.agent.central import Central, CentralUnavailable
from makhzan.agent.config import AgentConfig
from makhzan.api import errors as api_errors
from makhzan.api.json import DecimalRoute, JSONResponse, respond
from makhzan.models import SaleIn
from makhzan.text import normalize_for_search

log = logging.getLogger("makhzan.agent")

_SCAN_CODE = re.compile(r"[A-Za-z0-9._\- ]{1,64}")


@dataclass
class Agent:
    config: AgentConfig
    conn: sqlite3.Connection
    central: Central
    state: loop.AgentState
    rules: scan.RuleCache

    def location_id(self) -> str | None:
        return store.get_meta(self.conn, "location_id")


def _agent(request: Request) -> Agent:
    agent: Agent = request.app.state.agent
    header = request.headers.get("authorization")
    if header is None and agent.config.require_key:
        raise errors.Unauthorized("This agent listens beyond loopback; send the terminal's key.")
    # compare_digest: the key is a secret; no timing hint about how much of it matched.
    if header is not None and not hmac.compare_digest(header.encode(), f"Bearer {agent.config.key}".encode()):
        raise errors.Unauthorized("This agent answers its own terminal; send no key or the agent's key.")
    return agent


router = APIRouter(route_class=DecimalRoute)


# The till's hot path: the parameter is read by hand rather than through FastAPI's dependency
# injection, which costs more than the SQLite lookup itself (as on central's scan route).
@router.get("/api/v1/scan/{barcode}", tags=["till"], openapi_extra={"parameters": [
    {"name": "barcode", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}]})
async def scan_route(request: Request) -> JSONResponse:
    """What a scanned code is, from the local catalog; the stock is the last known level."""
    agent = _agent(request)
    barcode: str = request.path_params["barcode"]
    if not _SCAN_CODE.fullmatch(barcode):
        raise errors.InvalidBarcode("A barcode is 1 to 64 letters, digits, '.', '_' or '-'.", {"barcode": barcode[:64]})
    return respond(scan.scan_answer(agent.conn, barcode, agent.rules, agent.location_id()))


@router.post("/api/v1/sales", status_code=201, tags=["till"])
async def sale_route(body: SaleIn, request: Request) -> Response:
    """Forwarded to central at once; taken offline (durably, before the answer) if central does not answer."""
    agent = _agent(request)
    location = agent.location_id()
    if body.location_id is not None and location is not None and str(body.location_id) != location:
        raise errors.Forbidden("This terminal sells at its own location only.", {"location_id": str(body.location_id)})
    previous = outbox.answered(agent.conn, body)
    if previous is not None:
        return Response(previous.body, status_code=previous.status, media_type="application/json")
    if _worth_forwarding(agent):
        try:
            reply = await agent.central.forward_sale(await request.body())
        except CentralUnavailable as exc:
            agent.state.mark_offline(str(exc))
            log.warning("sale %s taken offline: %s", body.id, exc)
        else:
            if not agent.state.online:
                # The link is back before the loop's next try: let it push the backlog now. Tills
                # come back at the random moments of their next customers, so this keeps them apart.
                agent.state.wake.set()
            agent.state.mark_online()
            if reply.status in (200, 201):
                outbox.remember_online(agent.conn, body, reply.body, location)
            # Central's answer as it is, refusals included (409 insufficient_stock, 422...).
            return Response(reply.body, status_code=reply.status, media_type="application/json")
    priced = pricing.price_offline(agent.conn, body, agent.rules, location_id=location)
    answer = outbox.record_offline(agent.conn, body, priced)
    return Response(answer.body, status_code=answer.status, media_type="application/json")


@router.get("/api/v1/sales/{sale_id}", tags=["till"])
async def get_sale_route(sale_id: uuid.UUID, request: Request) -> Response:
    """A sale this till made (as answered), else central's record of it; 404 until there is one."""
    agent = _agent(request)
    body = outbox.answer_of(agent.conn, str(sale_id))
    if body is not None:
        return Response(body, media_type="application/json")
    if _worth_forwarding(agent):
        try:
            reply = await agent.central.get_sale(str(sale_id))
        except CentralUnavailable as exc:
            agent.state.mark_offline(str(exc))
        else:
            return Response(reply.body, status_code=reply.status, media_type="application/json")
    raise errors.NotFound("Sale not found at this terminal, and the server cannot be asked now.",
                          {"id": str(sale_id)})


def _worth_forwarding(agent: Agent) -> bool:
    failed_at = agent.state.failed_at
    return failed_at is None or time.monotonic() - failed_at >= agent.config.offline_grace


@router.get("/api/v1/products", tags=["till"])
async def products_route(
    request: Request,
    q: str | None = Query(None, max_length=100, pattern=r"^[^\x00]*$"),
    limit: int = Query(50, ge=1, le=500),
) -> JSONResponse:
    """Local search of sku, names (Arabic-aware) and barcodes, for the POS screen."""
    agent = _agent(request)
    products = store.search_products(agent.conn, normalize_for_search(q or ""), limit)
    return respond({"products": [_product_out(p) for p in products]})


def _product_out(p: dict[str, Any]) -> dict[str, Any]:
    return {**scan.product_out(p), "low_stock_threshold": p["low_stock_threshold"], "active": p["active"],
            "barcodes": p.get("barcodes", [])}


@router.get("/api/v1/settings", tags=["till"])
async def settings_route(request: Request) -> JSONResponse:
    """The local copy of the tenant's settings the till prices with."""
    agent = _agent(request)
    local = store.settings(agent.conn)
    return respond({"base_currency": local.get("base_currency"), "lbp_rate": local.get("lbp_rate"),
                    "time_zone": local.get("time_zone")})


@router.get("/agent/status", tags=["agent"])
async def status_route(request: Request) -> JSONResponse:
    agent = _agent(request)
    numbers = store.counts(agent.conn)
    return respond({
        "online": agent.state.online,
        "pending_sales": numbers["pending_sales"],
        "last_sync_at": agent.state.last_sync_at or store.get_meta(agent.conn, "last_sync_at"),
        "catalog_cursor": catalog_sync.cursor(agent.conn),
        "rejected_sales": numbers["rejected_sales"],
        "synced_since_start": agent.state.synced,
        "rejected": outbox.dead_letters(agent.conn),
        "products": numbers["products"],
        "location_id": agent.location_id(),
        "last_error": agent.state.last_error,
    })


def create_agent_app(config: AgentConfig) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        conn = store.open_store(config.data_dir)
        loop_conn = store.open_store(config.data_dir)
        central = Central(config.central_url, config.key, forward_timeout=config.forward_timeout)
        state = loop.AgentState()
        app.state.agent = Agent(config=config, conn=conn, central=central, state=state, rules=scan.RuleCache())
        task = (asyncio.create_task(loop.run(loop_conn, central, state, config.loop), name="makhzan-agent-sync")
                if config.run_loop else None)
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await central.close()
            conn.close()
            loop_conn.close()

    app = FastAPI(title="Makhzan terminal agent", version=__version__, lifespan=lifespan)
    api_errors.install(app)
    app.include_router(router)
    _include_till(app)

    @app.get("/health", tags=["agent"])
    async def health() -> object:
        return respond({"status": "ok", "version": __version__})

    return app


def _include_till(app: FastAPI) -> None:
    """The POS screen at /till (makhzan.web.till's ``agent_router``: page, static files, language).

    The till's API calls are this app's own routes. A screen that fails to load must not take the
    POS program's API down with it, so the agent then runs without it and says why.
    """
    try:
        from makhzan.web.till import agent_router
    except Exception:
        log.exception("the POS screen (makhzan.web.till) could not be loaded; serving the API only")
        return
    app.include_router(agent_router)
