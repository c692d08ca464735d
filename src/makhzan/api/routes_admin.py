"""Locations, API keys and tenant settings (admin)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from makhzan import barcodes, errors, tenancy
from makhzan.api.json import DecimalRoute, JSONResponse, respond
from makhzan.api.state import authenticated, transact
from makhzan.db import Connection
from makhzan.models import BarcodeRuleIn, KeyIn, LocationIn, RateIn
from makhzan.queries import Q

router = APIRouter(route_class=DecimalRoute, tags=["set-up"])
Who = tenancy.Principal


@router.post("/locations", status_code=201)
async def create_location(body: LocationIn, request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    who.require("admin")
    location = await transact(request, who, lambda conn: tenancy.create_location(
        conn, who.tenant_id, name=body.name, kind=body.kind, location_id=body.id))
    return respond(location, 201)


@router.get("/locations")
async def list_locations(request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    locations = await transact(request, who, lambda conn: tenancy.list_locations(conn, who.tenant_id))
    return respond({"locations": locations})


@router.post("/keys", status_code=201)
async def create_key(body: KeyIn, request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    who.require("admin")
    key = await transact(request, who, lambda conn: tenancy.create_key(
        conn, who.tenant_id, name=body.name, role=body.role, location_id=body.location_id))
    return respond(key, 201)


@router.get("/keys/me")
async def who_am_i(who: Who = Depends(authenticated)) -> JSONResponse:
    """The calling key (or signed-in person): its tenant, role and the location it is bound to.
    A terminal agent asks this at start, to know its store before it has sold anything."""
    return respond({"id": who.key_id, "tenant_id": who.tenant_id, "role": who.role, "location_id": who.location_id})


@router.get("/settings")
async def get_settings(request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    tenant = await transact(request, who, lambda conn: tenancy.get_tenant(conn, who.tenant_id))
    return respond(_settings(tenant))


@router.put("/settings/exchange-rate")
async def set_exchange_rate(body: RateIn, request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    """The owner's LBP rate of the day; every sale from now on records it."""
    who.require("admin")
    if body.lbp_rate <= 0:
        raise errors.InvalidInput("lbp_rate must be positive.", {"field": "lbp_rate"})

    async def work(conn: Connection) -> dict[str, object]:
        cur = await conn.execute(Q.set_lbp_rate, {"tenant_id": who.tenant_id, "lbp_rate": body.lbp_rate})
        row = await cur.fetchone()
        assert row is not None
        return dict(row)

    return respond(_settings(await transact(request, who, work)))


def _settings(tenant: dict[str, object]) -> dict[str, object]:
    return {"tenant_id": tenant["tenant_id"], "name": tenant["name"], "base_currency": tenant["base_currency"],
            "lbp_rate": tenant["lbp_rate"], "time_zone": tenant["time_zone"]}


@router.get("/barcode-rules")
async def list_barcode_rules(request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    async def work(conn: Connection) -> list[dict[str, object]]:
        cur = await conn.execute(Q.list_barcode_rules, {"tenant_id": who.tenant_id})
        return list(await cur.fetchall())

    return respond({"rules": await transact(request, who, work)})


@router.post("/barcode-rules", status_code=201)
async def put_barcode_rule(body: BarcodeRuleIn, request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    """Add or replace the weighed/priced label rule for a prefix, e.g. ``21PPPPPWWWWWC``."""
    who.require("admin")
    try:
        rule = barcodes.WeighedRule(body.pattern)
    except ValueError as exc:
        raise errors.InvalidInput(str(exc), {"field": "pattern"}) from None

    async def work(conn: Connection) -> dict[str, object]:
        cur = await conn.execute(
            Q.insert_barcode_rule, {"tenant_id": who.tenant_id, "prefix": rule.prefix, "pattern": rule.pattern})
        row = await cur.fetchone()
        assert row is not None
        return dict(row)

    return respond(await transact(request, who, work), 201)
