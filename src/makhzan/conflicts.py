"""Conflicts left by offline sales, and how a manager resolves them.

A conflict never blocks anything: the sale is in the ledger already. It says where the
ledger and the shop floor may disagree (stock sold that the ledger did not have, a price the
till did not know had changed, a code the catalog does not know), and stays open until a
manager settles it: with a count of the shelf, an adjustment, or by accepting it as is.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from makhzan import errors, inventory
from makhzan.db import Connection
from makhzan.models import AdjustmentIn, AdjustmentLineIn, ConflictResolveIn, CountIn, CountLineIn
from makhzan.queries import Q

# Before any real conflict: the first page's keyset bound.
_END_OF_TIME = datetime(9999, 1, 1, tzinfo=UTC)


def conflict_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["conflict_id"], "kind": row["kind"], "status": row["status"], "sale_id": row["sale_id"],
        "location_id": row["location_id"], "product_id": row["product_id"], "barcode": row["barcode"],
        "details": row["details"], "created_at": row["created_at"], "resolved_at": row["resolved_at"],
        "resolution": row["resolution"],
    }


async def list_conflicts(
    conn: Connection, tenant_id: UUID, *, status: str | None, location_id: UUID | None,
    before: datetime | None, before_id: UUID | None, limit: int,
) -> list[dict[str, Any]]:
    cur = await conn.execute(
        Q.list_conflicts,
        {"tenant_id": tenant_id, "status": status, "location_id": location_id,
         "before": before or _END_OF_TIME, "before_id": before_id or UUID(int=(1 << 128) - 1), "limit": limit},
    )
    return [conflict_out(row) for row in await cur.fetchall()]


async def resolve(
    conn: Connection, tenant_id: UUID, conflict_id: UUID, *, key_id: UUID | None, request: ConflictResolveIn,
    now: datetime,
) -> dict[str, Any]:
    """Settle one open conflict, moving stock if the manager counted or adjusted."""
    cur = await conn.execute(Q.get_conflict_for_update, {"tenant_id": tenant_id, "conflict_id": conflict_id})
    conflict = await cur.fetchone()
    if conflict is None:
        raise errors.NotFound("Conflict not found.", {"id": str(conflict_id)})
    if conflict["status"] == "resolved":
        raise errors.ConflictResolved(
            "This conflict is already resolved.", {"id": str(conflict_id), "resolution": conflict["resolution"]}
        )
    product_id = conflict["product_id"]
    if request.action != "accept" and product_id is None:
        raise errors.InvalidInput(
            "This conflict names no product (an unknown barcode): accept it, then fix the catalog.",
            {"action": request.action},
        )

    document_id = None
    if request.action == "count":
        assert request.counted is not None
        document_id = uuid.uuid4()
        await inventory.count(
            conn, tenant_id, key_id=key_id, location_id=conflict["location_id"], now=now,
            request=CountIn(id=document_id, lines=[CountLineIn(product_id=product_id, counted=request.counted)]),
        )
    elif request.action == "adjustment":
        assert request.delta is not None
        document_id = uuid.uuid4()
        await inventory.adjust(
            conn, tenant_id, key_id=key_id, location_id=conflict["location_id"], now=now,
            request=AdjustmentIn(id=document_id, reason=request.reason, note=request.note,
                                 lines=[AdjustmentLineIn(product_id=product_id, delta=request.delta)]),
        )
    resolution = {"action": request.action, "note": request.note,
                  "document_id": str(document_id) if document_id else None}
    # A count resolves every open shortfall of its product there, this one included; the
    # update below then records this conflict's own resolution.
    cur = await conn.execute(
        Q.resolve_conflict,
        {"tenant_id": tenant_id, "conflict_id": conflict_id, "key_id": key_id,
         "resolution": orjson.dumps(resolution).decode()},
    )
    row = await cur.fetchone()
    assert row is not None
    return conflict_out(row)
