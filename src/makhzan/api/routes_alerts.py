"""Low-stock alerts (managers) and webhooks (admins)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime
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


def _aware(since: datetime | None, field: str = "since") -> datetime | None:
    if since is not None and since.tzinfo is None:
        raise errors.InvalidInput(f"{field} needs a time zone offset (RFC 3339).", {"field": field})
    return since


@router.get("/alerts")
async def list_alerts(
    request: Request,
    who: Who = Depends(authenticated),
    since: datetime | None = Query(None, description="RFC 3339 time with offset: only alerts raised after it"),
    cursor: str | None = Query(None, max_length=100,
                               description="next_cursor of the previous page: the alerts after it"),
    location_id: UUID | None = Query(None),
    limit: int = Query(100, ge=1, le=1000),
) -> JSONResponse:
    """Low-stock alerts, oldest transaction first; pass ``next_cursor`` back as ``cursor`` for the next page.

    Polling with ``cursor`` never misses an alert, even one whose sale committed after a later
    one's. ``since`` alone (a time) lists by time as before, with ``next_since`` for the next
    page; once a page is not full, its ``next_cursor`` lets the client go on with cursors.
    With both, ``since`` filters the cursor's pages.
    """
    who.require("manager")
    since = _aware(since)
    after = alerts.Cursor.parse(cursor, "cursor") if cursor is not None else alerts.Cursor()
    if who.location_id is not None:
        location_id = who.location(location_id)
    if since is not None and cursor is None:
        # By time, as before cursors: the order and next_since an older client pages with.
        page = await read(request, who, lambda conn: alerts.list_alerts_by_time(
            conn, who.tenant_id, since=since, location_id=location_id, limit=limit))
    else:
        page = await read(request, who, lambda conn: alerts.list_alerts(
            conn, who.tenant_id, after=after, since=since, location_id=location_id, limit=limit))
    next_since = max(a["created_at"] for a in page.alerts) if len(page.alerts) == limit else None
    next_cursor = str(page.next_cursor) if page.next_cursor is not None else None
    return respond({"alerts": page.alerts, "next_cursor": next_cursor, "next_since": next_since})


@router.get("/alerts/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream_alerts(
    request: Request,
    who: Who = Depends(authenticated),
    since: datetime | None = Query(None, description="RFC 3339 time with offset: first replay alerts raised after it"),
    cursor: str | None = Query(None, max_length=100,
                               description="A cursor of GET /alerts: first replay the alerts after it"),
    location_id: UUID | None = Query(None),
    last_event_id: str | None = Header(None, description="The id of the last event received: resume after it"),
) -> StreamingResponse:
    """Low-stock alerts as Server-Sent Events (``event: low_stock``), live as they are raised.

    Replays the alerts after ``Last-Event-ID`` (or ``cursor``, or ``since``) first; without
    any, starts now. Each event's ``id`` is a cursor, the same as ``GET /alerts`` gives out.
    """
    who.require("manager")
    if who.location_id is not None:
        location_id = who.location(location_id)
    since = _aware(since)
    not_in: str | None = None
    if last_event_id:
        after = _event_cursor(last_event_id)
        if isinstance(after, datetime):
            # An event id of the earlier, time-stamped form: resume after its moment.
            since, after = after, alerts.Cursor()
    elif cursor is not None:
        after = alerts.Cursor.parse(cursor, "cursor")
    elif since is not None:
        after = alerts.Cursor()
    else:
        # Start now: everything committed at this moment is left out, everything else (alerts
        # of transactions still running now included) is sent as it commits.
        not_in = await read(request, who, alerts.current_snapshot)
        after = alerts.Cursor()
    return StreamingResponse(
        _alert_events(request, who, after, since=since, not_in=not_in, location_id=location_id),
        media_type="text/event-stream",
        # No caching, and no buffering by a proxy in front (nginx): each event goes out at once.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _event_cursor(text: str) -> alerts.Cursor | datetime:
    """A ``Last-Event-ID``: a cursor, or the ``<created_at>/<alert id>`` ids streams sent before cursors."""
    moment, slash, _ = text.strip().partition("/")
    if slash:
        try:
            stamp = datetime.fromisoformat(moment)
        except ValueError:
            stamp = None
        if stamp is not None and stamp.tzinfo is not None:
            return stamp
    return alerts.Cursor.parse(text, "Last-Event-ID")


async def _alert_events(request: Request, who: Who, after: alerts.Cursor, *, since: datetime | None,
                        not_in: str | None, location_id: UUID | None) -> AsyncIterator[str]:
    # A pooled connection is taken for each poll and given back before the sleep: a stream
    # left open all day must not keep one of the pool's few connections.
    def poll(conn: Connection) -> Awaitable[alerts.Page]:
        return alerts.list_alerts(conn, who.tenant_id, after=after, since=since, location_id=location_id,
                                  limit=alerts.STREAM_BATCH, not_in=not_in)

    last_sent = time.monotonic()
    while not await request.is_disconnected():
        page = await read(request, who, poll)
        after = page.next_cursor or after  # list_alerts always gives one
        for alert, event_id in zip(page.alerts, page.cursors, strict=True):
            yield f"id: {event_id}\nevent: low_stock\ndata: {dumps(alert).decode()}\n\n"
            last_sent = time.monotonic()
        if len(page.alerts) == alerts.STREAM_BATCH:
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
