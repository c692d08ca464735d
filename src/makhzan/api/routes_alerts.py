"""Low-stock alerts (managers) and webhooks (admins)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from makhzan import alerts, errors, tenancy, webhooks
from makhzan.api.json import DecimalRoute, JSONResponse, respond
from makhzan.api.state import app_state, authenticated, read, transact
from makhzan.models import WebhookIn

router = APIRouter(route_class=DecimalRoute, tags=["alerts"])
Who = tenancy.Principal


@router.get("/alerts")
async def list_alerts(
    request: Request,
    who: Who = Depends(authenticated),
    since: datetime | None = Query(None, description="RFC 3339 time with offset: alerts raised after it"),
    location_id: UUID | None = Query(None),
    limit: int = Query(100, ge=1, le=1000),
) -> JSONResponse:
    """Low-stock alerts raised after ``since``, oldest first; pass ``next_since`` back for the next page."""
    who.require("manager")
    if since is None:
        since = alerts.EPOCH
    elif since.tzinfo is None:
        raise errors.InvalidInput("since needs a time zone offset (RFC 3339).", {"field": "since"})
    if who.location_id is not None:
        location_id = who.location(location_id)
    rows = await read(request, who, lambda conn: alerts.list_alerts(
        conn, who.tenant_id, since=since, location_id=location_id, limit=limit))
    next_since = rows[-1]["created_at"] if len(rows) == limit else None
    return respond({"alerts": rows, "next_since": next_since})


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge_alert(alert_id: UUID, request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    who.require("manager")
    alert = await transact(request, who, lambda conn: alerts.acknowledge(
        conn, who.tenant_id, alert_id, key_id=who.key_id, location_id=who.location_id))
    return respond(alert)


@router.post("/webhooks", status_code=201)
async def create_webhook(body: WebhookIn, request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    """Register a receiver; its secret signs every delivery and is never sent back."""
    who.require("admin")
    allowed = app_state(request).settings.webhook_allowed_hosts
    if not webhooks.host_allowed(body.url, allowed):
        raise errors.InvalidInput("Webhooks may only be sent to the allowed hosts.",
                                  {"field": "url", "allowed_hosts": list(allowed)})
    webhook = await transact(request, who, lambda conn: webhooks.create_webhook(
        conn, who.tenant_id, url=body.url, secret=body.secret, events=body.events))
    return respond(webhook, 201)


@router.get("/webhooks")
async def list_webhooks(request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    who.require("admin")
    return respond({"webhooks": await read(request, who, lambda conn: webhooks.list_webhooks(conn, who.tenant_id))})
