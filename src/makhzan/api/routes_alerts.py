"""Low-stock alerts (managers) and webhooks (admins)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.responses import StreamingResponse

from makhzan import alerts, errors, tenancy, webhooks
from makhzan.api.json import DecimalRoute, JSONResponse, dumps, respond
from makhzan.api.state import app_state, authenticated, read, transact
from makhzan.db import Connection
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


@router.get("/alerts/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream_alerts(
    request: Request,
    who: Who = Depends(authenticated),
    since: datetime | None = Query(None, description="RFC 3339 time with offset: first replay alerts raised after it"),
    location_id: UUID | None = Query(None),
    last_event_id: str | None = Header(None, description="The id of the last event received: resume after it"),
) -> StreamingResponse:
    """Low-stock alerts as Server-Sent Events (``event: low_stock``), live as they are raised.

    Replays the alerts after ``Last-Event-ID`` (or ``since``) first; without either, starts now.
    """
    who.require("manager")
    if who.location_id is not None:
        location_id = who.location(location_id)
    if last_event_id:
        cursor = alerts.StreamCursor.parse(last_event_id)
    elif since is not None:
        if since.tzinfo is None:
            raise errors.InvalidInput("since needs a time zone offset (RFC 3339).", {"field": "since"})
        cursor = alerts.StreamCursor.after_moment(since)
    else:
        cursor = alerts.StreamCursor.after_moment(await read(request, who, alerts.database_clock))
    return StreamingResponse(
        _alert_events(request, who, cursor, location_id),
        media_type="text/event-stream",
        # No caching, and no buffering by a proxy in front (nginx): each event goes out at once.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _alert_events(request: Request, who: Who, cursor: alerts.StreamCursor,
                        location_id: UUID | None) -> AsyncIterator[str]:
    # A pooled connection is taken for each poll and given back before the sleep: a stream
    # left open all day must not keep one of the pool's few connections.
    def poll(conn: Connection) -> Awaitable[list[dict[str, Any]]]:
        return alerts.next_stream_alerts(conn, who.tenant_id, cursor, location_id=location_id)

    last_sent = time.monotonic()
    while not await request.is_disconnected():
        batch = await read(request, who, poll)
        cursor.record(batch)
        for alert in batch:
            yield (f"id: {alerts.StreamCursor.event_id(alert)}\nevent: low_stock\n"
                   f"data: {dumps(alert).decode()}\n\n")
            last_sent = time.monotonic()
        if len(batch) == alerts.STREAM_BATCH:
            continue  # a long replay: the next page at once
        if time.monotonic() - last_sent >= alerts.STREAM_KEEPALIVE_SECONDS:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        await asyncio.sleep(alerts.STREAM_POLL_SECONDS)


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
