"""Stock movements: sell, receive, transfer, adjust, count.

Plain functions taking a connection inside a transaction the caller owns. Every one of them
writes its ledger rows and moves the materialized levels in that same transaction, and is
idempotent by the client's id: a replay finds the recorded document and returns it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from makhzan import errors, units
from makhzan.catalog import resolve_codes
from makhzan.db import Connection
from makhzan.models import AdjustmentIn, CountIn, ItemRef, ReceiptIn, SaleIn, TransferIn
from makhzan.pricing import ScannedItem, price_line
from makhzan.queries import Q


@dataclass(frozen=True)
class Move:
    """One change to one level: a signed delta, or (for a count) the level to set."""

    product_id: UUID
    location_id: UUID
    kind: str
    delta: Decimal = Decimal(0)
    counted: Decimal | None = None


@dataclass(frozen=True)
class Applied:
    """What a move did: the level after it and the delta the ledger recorded."""

    after: Decimal
    delta: Decimal


async def apply_moves(
    conn: Connection,
    tenant_id: UUID,
    moves: list[Move],
    *,
    document_id: UUID,
    occurred_at: datetime,
    reason: str | None = None,
    allow_negative: bool = False,
) -> dict[tuple[UUID, UUID], Applied]:
    """Move the levels and append the ledger rows for one sale or document.

    One statement locks the existing levels in (product, location) order, so that two
    baskets touching the same products never deadlock, then applies every change; a
    deduction is conditional on enough stock being left. If any line finds too little,
    InsufficientStock carries every short line and the caller's transaction rolls back with
    nothing written.
    """
    merged = merge_moves(moves)
    counted = [m for m in merged if m.counted is not None]
    if counted:
        # A count sets a level, so the level must exist to be locked first: otherwise a
        # receipt creating it concurrently would be added to the count instead of replaced.
        await conn.execute(
            Q.ensure_stock_levels,
            {"tenant_id": tenant_id, "product_ids": [m.product_id for m in counted],
             "location_ids": [m.location_id for m in counted]},
        )
    cur = await conn.execute(
        Q.move_levels,
        {
            "tenant_id": tenant_id, "allow_negative": allow_negative,
            "product_ids": [m.product_id for m in merged],
            "location_ids": [m.location_id for m in merged],
            "deltas": [m.delta for m in merged],
            "counted": [m.counted for m in merged],
        },
    )
    rows = {(row["product_id"], row["location_id"]): row for row in await cur.fetchall()}

    applied: dict[tuple[UUID, UUID], Applied] = {}
    short: list[Move] = []
    ledger: list[tuple[Move, Decimal]] = []
    crossed: list[dict[str, Any]] = []
    for move in merged:
        row = rows.get((move.product_id, move.location_id))
        if row is None:
            short.append(move)
            continue
        applied[(move.product_id, move.location_id)] = Applied(after=row["quantity"], delta=row["delta"])
        if row["delta"] != 0:
            ledger.append((move, row["delta"]))
        # Once per crossing: the level was locked, so exactly one document takes it from above
        # the threshold to at or below; later ones go from below to below and raise nothing.
        threshold = row["low_stock_threshold"]
        if row["quantity"] - row["delta"] > threshold >= row["quantity"]:
            crossed.append(row)
    if short:
        raise errors.InsufficientStock(await _shortfalls(conn, tenant_id, short))
    if ledger:
        # Not awaited further: in a pipelined transaction it travels with the COMMIT.
        await conn.execute(
            Q.insert_movements,
            {
                "tenant_id": tenant_id, "document_id": document_id, "reason": reason,
                "occurred_at": occurred_at,
                "product_ids": [m.product_id for m, _ in ledger],
                "location_ids": [m.location_id for m, _ in ledger],
                "deltas": [d for _, d in ledger],
                "kinds": [m.kind for m, _ in ledger],
            },
        )
    if crossed:
        # Queued like the ledger rows: the alerts and their webhook outbox rows commit with the
        # sale, and nothing is written or sent for one that rolls back.
        await conn.execute(
            Q.raise_low_stock_alerts,
            {
                "tenant_id": tenant_id, "document_ids": [document_id] * len(crossed),
                "product_ids": [r["product_id"] for r in crossed],
                "location_ids": [r["location_id"] for r in crossed],
                "quantities_after": [r["quantity"] for r in crossed],
                "thresholds": [r["low_stock_threshold"] for r in crossed],
            },
        )
    return applied


def merge_moves(moves: list[Move]) -> list[Move]:
    """One move per (product, location): a level is changed once per statement."""
    merged: dict[tuple[UUID, UUID], Move] = {}
    for move in moves:
        key = (move.product_id, move.location_id)
        previous = merged.get(key)
        if previous is None:
            merged[key] = move
        elif move.counted is not None or previous.counted is not None:
            raise errors.InvalidInput(
                "A count lists the same product twice.", {"product_id": str(move.product_id)}
            )
        else:
            # Lines of one document move one level one way (a sale, a receipt...): a transfer's
            # two sides are at two locations.
            assert previous.kind == move.kind, (previous, move)
            merged[key] = Move(move.product_id, move.location_id, move.kind, previous.delta + move.delta)
    return list(merged.values())


async def _shortfalls(conn: Connection, tenant_id: UUID, short: list[Move]) -> list[dict[str, Any]]:
    lines = []
    for move in short:
        cur = await conn.execute(
            Q.stock_at, {"tenant_id": tenant_id, "product_id": move.product_id, "location_id": move.location_id}
        )
        row = await cur.fetchone()
        lines.append({
            "product_id": move.product_id,
            "location_id": move.location_id,
            "requested": -move.delta,
            "available": row["quantity"] if row else Decimal("0.000"),
        })
    return lines


def fingerprint(request: BaseModel, *extra: object) -> bytes:
    """A request's identity: the same client id with another body is refused, not answered."""
    text = request.model_dump_json() + "".join(f"|{e}" for e in extra)
    return hashlib.sha256(text.encode("utf-8")).digest()


# --- sales ----------------------------------------------------------------------------------


async def sell(
    conn: Connection, tenant_id: UUID, *, key_id: UUID | None, location_id: UUID, sale: SaleIn, now: datetime
) -> tuple[dict[str, Any], bool]:
    """Record a sale and deduct its stock. Returns the sale and whether it was new."""
    request_hash = fingerprint(sale, location_id)
    occurred_at = sale.occurred_at or now
    cur = await conn.execute(
        Q.insert_sale,
        {
            "tenant_id": tenant_id, "sale_id": sale.id, "location_id": location_id, "key_id": key_id,
            "occurred_at": occurred_at, "currency": sale.currency, "request_hash": request_hash,
            "offline": False,
        },
    )
    # The header and the catalog lookups share one round trip (the connection pipelines);
    # a replay is answered from the recorded sale even if the catalog has changed since.
    try:
        items = await resolve_items(conn, tenant_id, sale.lines, active_only=True)
    except errors.MakhzanError:
        if await cur.fetchone() is None:
            return await _replayed_sale(conn, tenant_id, sale.id, request_hash), False
        raise
    inserted = await cur.fetchone()
    if inserted is None:
        return await _replayed_sale(conn, tenant_id, sale.id, request_hash), False
    rate: Decimal = inserted["exchange_rate"]
    priced = [price_line(line.quantity, item, sale.currency, rate, by_barcode=line.barcode is not None)
              for line, item in zip(sale.lines, items, strict=True)]
    moves = [Move(item.product["product_id"], location_id, "sale", -quantity)
             for item, (quantity, _, _) in zip(items, priced, strict=True)]
    applied = await apply_moves(conn, tenant_id, moves, document_id=sale.id, occurred_at=occurred_at)

    total = sum((line_total for _, _, line_total in priced), Decimal("0.000"))
    lines = [
        {
            "line_no": n, "product_id": item.product["product_id"],
            "barcode": item.barcode if line.barcode is not None else None,
            "quantity": quantity, "unit_price": unit_price, "line_total": line_total,
            "stock_after": applied[(item.product["product_id"], location_id)].after,
        }
        for n, (line, item, (quantity, unit_price, line_total))
        in enumerate(zip(sale.lines, items, priced, strict=True), start=1)
    ]
    # Queued, not awaited: they travel with the ledger rows and the COMMIT.
    await conn.execute(
        Q.insert_sale_lines,
        {
            "tenant_id": tenant_id, "sale_id": sale.id,
            "line_nos": [ln["line_no"] for ln in lines],
            "product_ids": [ln["product_id"] for ln in lines],
            "barcodes": [ln["barcode"] for ln in lines],
            "quantities": [ln["quantity"] for ln in lines],
            "unit_prices": [ln["unit_price"] for ln in lines],
            "line_totals": [ln["line_total"] for ln in lines],
            "stock_afters": [ln["stock_after"] for ln in lines],
        },
    )
    await conn.execute(Q.set_sale_total, {"tenant_id": tenant_id, "sale_id": sale.id, "total": total})
    return {
        "id": sale.id, "location_id": location_id, "occurred_at": occurred_at,
        "recorded_at": inserted["recorded_at"], "currency": sale.currency, "exchange_rate": rate,
        "total": total, "offline": False, "lines": lines,
    }, True


async def _replayed_sale(conn: Connection, tenant_id: UUID, sale_id: UUID, request_hash: bytes) -> dict[str, Any]:
    sale = await get_sale(conn, tenant_id, sale_id, with_hash=True)
    if sale.pop("request_hash") != request_hash:
        raise errors.IdempotencyConflict(
            "This sale id was already used for a different sale.", {"id": str(sale_id)}
        )
    return sale


async def get_sale(conn: Connection, tenant_id: UUID, sale_id: UUID, *, with_hash: bool = False) -> dict[str, Any]:
    cur = await conn.execute(Q.get_sale, {"tenant_id": tenant_id, "sale_id": sale_id})
    header = await cur.fetchone()
    if header is None:
        raise errors.NotFound("Sale not found.", {"id": str(sale_id)})
    cur = await conn.execute(Q.get_sale_lines, {"tenant_id": tenant_id, "sale_id": sale_id})
    sale = {
        "id": header["sale_id"], "location_id": header["location_id"], "occurred_at": header["occurred_at"],
        "recorded_at": header["recorded_at"], "currency": header["currency"],
        "exchange_rate": header["exchange_rate"], "total": header["total"], "offline": header["offline"],
        "lines": list(await cur.fetchall()),
    }
    if with_hash:
        sale["request_hash"] = bytes(header["request_hash"])
    return sale


async def resolve_items(
    conn: Connection, tenant_id: UUID, lines: list[Any], *, active_only: bool
) -> list[ScannedItem]:
    """The product (and per-scan quantity) behind each line's barcode or product id."""
    by_code = await resolve_codes(conn, tenant_id, [ln.barcode for ln in lines if ln.barcode is not None])
    product_ids = list({ln.product_id for ln in lines if ln.product_id is not None})
    products: dict[UUID, dict[str, Any]] = {}
    if product_ids:
        cur = await conn.execute(Q.products_by_ids, {"tenant_id": tenant_id, "product_ids": product_ids})
        products = {row["product_id"]: row for row in await cur.fetchall()}
    items = []
    for line in lines:
        if line.barcode is not None:
            items.append(by_code[line.barcode])
            continue
        product = products.get(line.product_id)
        if product is None:
            raise errors.NotFound("Product not found.", {"product_id": str(line.product_id)})
        if active_only and not product["active"]:
            raise errors.ProductInactive("This product is no longer sold.", {"product_id": str(line.product_id)})
        items.append(ScannedItem(barcode="", unit=product["base_unit"], factor=Decimal(1), quantity=Decimal(1),
                                 product=product))
    return items


# --- stock documents: receipts, transfers, adjustments, counts --------------------------------


async def receive(conn: Connection, tenant_id: UUID, *, key_id: UUID | None, location_id: UUID,
                  receipt: ReceiptIn, now: datetime) -> tuple[dict[str, Any], bool]:
    """Goods in from a supplier."""
    return await _record(
        conn, tenant_id, key_id=key_id, kind="receipt", request=receipt, location_id=location_id,
        to_location_id=None, supplier=receipt.supplier, reason=None, now=now,
        lines=[(ln, ln.quantity) for ln in receipt.lines],
        moves=lambda pid, qty: [Move(pid, location_id, "receipt", qty)],
    )


async def transfer(conn: Connection, tenant_id: UUID, *, key_id: UUID | None, request: TransferIn,
                   now: datetime) -> tuple[dict[str, Any], bool]:
    """Stock moved between two locations; refused like a sale when the source lacks it."""
    source, destination = request.from_location_id, request.to_location_id
    return await _record(
        conn, tenant_id, key_id=key_id, kind="transfer", request=request, location_id=source,
        to_location_id=destination, supplier=None, reason=None, now=now,
        lines=[(ln, ln.quantity) for ln in request.lines],
        moves=lambda pid, qty: [Move(pid, source, "transfer_out", -qty), Move(pid, destination, "transfer_in", qty)],
    )


async def adjust(conn: Connection, tenant_id: UUID, *, key_id: UUID | None, location_id: UUID,
                 request: AdjustmentIn, now: datetime) -> tuple[dict[str, Any], bool]:
    """Waste, damage, theft or a correction: a signed delta with a reason."""
    reason = request.reason if request.note is None else f"{request.reason}: {request.note}"
    return await _record(
        conn, tenant_id, key_id=key_id, kind="adjustment", request=request, location_id=location_id,
        to_location_id=None, supplier=None, reason=reason, now=now,
        lines=[(ln, ln.delta) for ln in request.lines],
        moves=lambda pid, delta: [Move(pid, location_id, "adjustment", delta)],
    )


async def count(conn: Connection, tenant_id: UUID, *, key_id: UUID | None, location_id: UUID,
                request: CountIn, now: datetime) -> tuple[dict[str, Any], bool]:
    """A shelf count: the level becomes what was counted, through a movement of the difference.

    It also settles the open shortfalls that offline sales left for what it counted there:
    the shelf now says what the stock is.
    """
    document, created = await _record(
        conn, tenant_id, key_id=key_id, kind="count", request=request, location_id=location_id,
        to_location_id=None, supplier=None, reason="count", now=now,
        lines=[(ln, ln.counted) for ln in request.lines],
        moves=lambda pid, counted: [Move(pid, location_id, "count", counted=counted)],
    )
    if created:
        await conn.execute(
            Q.resolve_stock_conflicts_by_count,
            {"tenant_id": tenant_id, "location_id": location_id, "key_id": key_id,
             "product_ids": [ln["product_id"] for ln in document["lines"]],
             "resolution": json.dumps({"action": "count", "note": None, "document_id": str(request.id)})},
        )
    return document, created


async def _record(
    conn: Connection, tenant_id: UUID, *, key_id: UUID | None, kind: str, request: Any,
    location_id: UUID, to_location_id: UUID | None, supplier: str | None, reason: str | None,
    now: datetime, lines: list[tuple[ItemRef, Decimal]], moves: Any,
) -> tuple[dict[str, Any], bool]:
    request_hash = fingerprint(request, kind, location_id)
    occurred_at = request.occurred_at or now
    cur = await conn.execute(
        Q.insert_document,
        {
            "tenant_id": tenant_id, "document_id": request.id, "kind": kind, "location_id": location_id,
            "to_location_id": to_location_id, "supplier": supplier, "reason": reason, "key_id": key_id,
            "occurred_at": occurred_at, "request_hash": request_hash,
        },
    )
    if await cur.fetchone() is None:
        return await _replayed_document(conn, tenant_id, request.id, request_hash), False

    items = await resolve_items(conn, tenant_id, [ln for ln, _ in lines], active_only=False)
    quantities = [_base_quantity(amount, item) for (_, amount), item in zip(lines, items, strict=True)]
    all_moves = [m for item, qty in zip(items, quantities, strict=True) for m in moves(item.product["product_id"], qty)]
    applied = await apply_moves(conn, tenant_id, all_moves, document_id=request.id, occurred_at=occurred_at,
                                reason=reason)
    rows = []
    for n, (item, qty) in enumerate(zip(items, quantities, strict=True), start=1):
        effect = applied[(item.product["product_id"], location_id)]
        rows.append({"line_no": n, "product_id": item.product["product_id"], "quantity": qty,
                     "delta": effect.delta, "quantity_after": effect.after})
    await conn.execute(
        Q.insert_document_lines,
        {
            "tenant_id": tenant_id, "document_id": request.id,
            "line_nos": [r["line_no"] for r in rows], "product_ids": [r["product_id"] for r in rows],
            "quantities": [r["quantity"] for r in rows], "deltas": [r["delta"] for r in rows],
            "quantities_after": [r["quantity_after"] for r in rows],
        },
    )
    return await get_document(conn, tenant_id, request.id), True


def _base_quantity(amount: Decimal, item: ScannedItem) -> Decimal:
    """A line's amount in base units: times the barcode's factor (a case of 24) when scanned."""
    quantity = amount * item.quantity if item.barcode else amount
    if quantity != quantity.quantize(units.QUANTUM) or abs(quantity) >= units.MAX_QUANTITY:
        raise errors.InvalidQuantity(
            "The line's quantity in base units must have at most 3 decimals and be in range.",
            {"quantity": format(quantity, "f")},
        )
    return quantity.quantize(units.QUANTUM)


async def _replayed_document(conn: Connection, tenant_id: UUID, document_id: UUID,
                             request_hash: bytes) -> dict[str, Any]:
    document = await get_document(conn, tenant_id, document_id, with_hash=True)
    if document.pop("request_hash") != request_hash:
        raise errors.IdempotencyConflict(
            "This id was already used for a different document.", {"id": str(document_id)}
        )
    return document


async def get_document(conn: Connection, tenant_id: UUID, document_id: UUID, *,
                       with_hash: bool = False) -> dict[str, Any]:
    cur = await conn.execute(Q.get_document, {"tenant_id": tenant_id, "document_id": document_id})
    header = await cur.fetchone()
    if header is None:
        raise errors.NotFound("Document not found.", {"id": str(document_id)})
    cur = await conn.execute(Q.get_document_lines, {"tenant_id": tenant_id, "document_id": document_id})
    document: dict[str, Any] = {
        "id": header["document_id"], "kind": header["kind"], "location_id": header["location_id"],
        "occurred_at": header["occurred_at"], "recorded_at": header["recorded_at"],
        "lines": list(await cur.fetchall()),
    }
    if header["kind"] == "transfer":
        document["from_location_id"] = header["location_id"]
        document["to_location_id"] = header["to_location_id"]
    if header["kind"] == "receipt":
        document["supplier"] = header["supplier"]
    if header["kind"] == "adjustment":
        document["reason"] = header["reason"]
    if with_hash:
        document["request_hash"] = bytes(header["request_hash"])
    return document


async def list_stock(conn: Connection, tenant_id: UUID, *, location_id: UUID | None, product_id: UUID | None,
                     limit: int, after_sku: str = "", after_location: UUID | None = None) -> list[dict[str, Any]]:
    cur = await conn.execute(
        Q.list_stock,
        {"tenant_id": tenant_id, "location_id": location_id, "product_id": product_id, "limit": limit,
         "after_sku": after_sku, "after_location": after_location or UUID(int=0)},
    )
    return list(await cur.fetchall())


async def list_movements(conn: Connection, tenant_id: UUID, product_id: UUID, *, location_id: UUID | None,
                         before: int, limit: int) -> list[dict[str, Any]]:
    cur = await conn.execute(
        Q.list_movements,
        {"tenant_id": tenant_id, "product_id": product_id, "location_id": location_id, "before": before,
         "limit": limit},
    )
    return list(await cur.fetchall())
