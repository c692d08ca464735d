"""What terminal agents sync: the catalog change feed, batches of offline sales, and the
conflicts those sales leave for a manager."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from makhzan import conflicts, sync, tenancy
from makhzan.api.json import DecimalRoute, JSONResponse, respond
from makhzan.api.state import authenticated, transact
from makhzan.db import Connection
from makhzan.models import ConflictResolveIn, SyncBatchIn

router = APIRouter(route_class=DecimalRoute, tags=["sync"])
Who = tenancy.Principal


@router.get("/catalog/changes")
async def catalog_changes(
    request: Request,
    who: Who = Depends(authenticated),
    since: str | None = Query(None, max_length=18,
                              description="The next_cursor of the previous page; 0 or absent: from the start"),
    limit: int = Query(1000, ge=1, le=5000),
) -> JSONResponse:
    """Products, barcodes, weighed-label rules and settings changed since a cursor, in commit order."""
    cursor = sync.parse_cursor(since)
    return respond(await transact(request, who, lambda conn: sync.catalog_changes(
        conn, who.tenant_id, since=cursor, limit=limit)))


@router.post("/sync/sales")
async def sync_sales(body: SyncBatchIn, request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    """A batch of sales an offline till already made: each applied once, with its own status."""
    results = await transact(request, who, lambda conn: sync.sync_sales(conn, who, body.sales))
    return respond({"results": results})


@router.get("/conflicts")
async def list_conflicts(
    request: Request,
    who: Who = Depends(authenticated),
    status: Literal["open", "resolved", "all"] = "open",
    location_id: UUID | None = None,
    before: datetime | None = Query(None, description="next_before of the previous page"),
    before_id: UUID | None = Query(None, description="next_before_id of the previous page"),
    limit: int = Query(100, ge=1, le=500),
) -> JSONResponse:
    who.require("manager")
    if location_id is not None:
        who.check_location(location_id)
    location = location_id if location_id is not None else who.location_id
    if before is not None and before.tzinfo is None:
        before = before.replace(tzinfo=UTC)
    rows = await transact(request, who, lambda conn: conflicts.list_conflicts(
        conn, who.tenant_id, status=None if status == "all" else status, location_id=location,
        before=before, before_id=before_id, limit=limit))
    more = len(rows) == limit
    return respond({
        "conflicts": rows,
        "next_before": rows[-1]["created_at"] if more else None,
        "next_before_id": rows[-1]["id"] if more else None,
    })


@router.post("/conflicts/{conflict_id}/resolve")
async def resolve_conflict(
    conflict_id: UUID, body: ConflictResolveIn, request: Request, who: Who = Depends(authenticated)
) -> JSONResponse:
    """Settle a conflict with a count, an adjustment, or by accepting it."""
    who.require("manager")
    now = datetime.now(UTC)

    async def work(conn: Connection) -> dict[str, Any]:
        resolved = await conflicts.resolve(conn, who.tenant_id, conflict_id, key_id=who.key_id, request=body, now=now)
        who.check_location(resolved["location_id"])
        return resolved

    return respond(await transact(request, who, work))
