"""What terminal agents sync with the central server: the catalog change feed they pull, and
the batches of offline sales they push.

An offline sale already happened: the customer left with the goods and the till took the
money. So the server never refuses one for stock, price or an unknown code; it applies what it
can and records a conflict for each mismatch, for a manager to resolve (makhzan.conflicts).
A batch is one transaction, which is what makes a blackout's backlog cheap to apply: one
commit for hundreds of sales instead of one each.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from pydantic import ValidationError

from makhzan import errors, tenancy, units
from makhzan.catalog import product_out, resolve_codes_offline
from makhzan.db import Connection
from makhzan.inventory import Move, fingerprint, merge_moves
from makhzan.models import OfflineSaleIn
from makhzan.pricing import ScannedItem, price_line, round_line_total
from makhzan.queries import Q

# --- the catalog change feed ------------------------------------------------------------------


async def catalog_changes(conn: Connection, tenant_id: UUID, *, since: int, limit: int) -> dict[str, Any]:
    """The catalog changes after ``since``, each with the entity's current state (None: removed)."""
    cur = await conn.execute(Q.catalog_changes_page, {"tenant_id": tenant_id, "since": since, "limit": limit})
    page = await cur.fetchall()
    # An entity changed twice in the page is sent once, at its last position.
    latest: dict[tuple[str, str], int] = {}
    for row in page:
        latest[(row["entity"], row["entity_key"])] = row["seq"]
    keys: dict[str, list[str]] = {"product": [], "barcode": [], "barcode_rule": [], "settings": []}
    for entity, key in latest:
        keys[entity].append(key)

    state: dict[tuple[str, str], Any] = {}
    if keys["product"]:
        cur = await conn.execute(
            Q.changed_products, {"tenant_id": tenant_id, "product_ids": [UUID(k) for k in keys["product"]]})
        for row in await cur.fetchall():
            state[("product", str(row["product_id"]))] = product_out(row)
    if keys["barcode"]:
        cur = await conn.execute(Q.changed_barcodes, {"tenant_id": tenant_id, "barcodes": keys["barcode"]})
        for row in await cur.fetchall():
            state[("barcode", row["barcode"])] = dict(row)
    if keys["barcode_rule"]:
        cur = await conn.execute(
            Q.changed_barcode_rules, {"tenant_id": tenant_id, "prefixes": keys["barcode_rule"]})
        for row in await cur.fetchall():
            state[("barcode_rule", row["prefix"])] = dict(row)
    if keys["settings"]:
        cur = await conn.execute(Q.till_settings, {"tenant_id": tenant_id})
        row = await cur.fetchone()
        state[("settings", "tenant")] = dict(row) if row else None

    changes = [
        {"seq": str(seq), "entity": entity, "key": key, "data": state.get((entity, key))}
        for (entity, key), seq in sorted(latest.items(), key=lambda item: item[1])
    ]
    next_cursor = page[-1]["seq"] if page else since
    return {"changes": changes, "next_cursor": str(next_cursor), "more": len(page) == limit}


def parse_cursor(text: str | None) -> int:
    if text is None or text == "":
        return 0
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise errors.InvalidInput("since must be a cursor returned as next_cursor.", {"field": "since"})
    return int(text)


# --- offline sales ------------------------------------------------------------------------------


@dataclass
class _Line:
    product_id: UUID | None
    barcode: str | None
    quantity: Decimal
    unit_price: Decimal
    line_total: Decimal
    stock_after: Decimal = Decimal(0)


@dataclass
class _Sale:
    """One offline sale on its way into the ledger."""

    index: int
    request: OfflineSaleIn
    location_id: UUID
    exchange_rate: Decimal
    lines: list[_Line] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    total: Decimal = Decimal(0)


def _result(sale_id: Any, status: str, *, conflicts: list[dict[str, Any]] | None = None,
            error: errors.MakhzanError | None = None) -> dict[str, Any]:
    return {
        "id": sale_id, "status": status, "conflicts": conflicts or [],
        "error": None if error is None else {"code": error.code, "message": error.message, "details": error.details},
    }


async def sync_sales(
    conn: Connection, who: tenancy.Principal, raw_sales: list[Any]
) -> list[dict[str, Any]]:
    """Apply a batch of offline sales; one result per sale, in the request's order."""
    results: list[dict[str, Any] | None] = [None] * len(raw_sales)
    parsed: list[tuple[int, OfflineSaleIn, UUID]] = []
    seen: set[UUID] = set()
    for index, raw in enumerate(raw_sales):
        sale_id = raw.get("id") if isinstance(raw, dict) else None
        try:
            sale = OfflineSaleIn.model_validate(raw)
            location_id = who.location(sale.location_id)
        except ValidationError as exc:
            detail = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors(include_url=False)]
            results[index] = _result(sale_id, "rejected",
                                     error=errors.InvalidInput("This sale is malformed.", {"errors": detail}))
            continue
        except errors.MakhzanError as exc:
            results[index] = _result(sale_id, "rejected", error=exc)
            continue
        if sale.id in seen:
            results[index] = _result(sale.id, "duplicate")
            continue
        seen.add(sale.id)
        parsed.append((index, sale, location_id))

    if parsed:
        for index, result in (await _apply(conn, who, parsed)).items():
            results[index] = result
    return [r for r in results if r is not None]


async def _apply(
    conn: Connection, who: tenancy.Principal, parsed: list[tuple[int, OfflineSaleIn, UUID]]
) -> dict[int, dict[str, Any]]:
    tenant_id = who.tenant_id
    results: dict[int, dict[str, Any]] = {}

    # Round trip 1: what the till's codes and product ids stand for, which locations exist,
    # and today's rate (the pipeline sends these together).
    codes = list({ln.barcode for _, s, _ in parsed for ln in s.lines if ln.barcode is not None})
    product_ids = list({ln.product_id for _, s, _ in parsed for ln in s.lines if ln.product_id is not None})
    location_ids = list({loc for _, _, loc in parsed})
    settings_cur = await conn.execute(Q.till_settings, {"tenant_id": tenant_id})
    locations_cur = await conn.execute(Q.existing_locations, {"tenant_id": tenant_id, "location_ids": location_ids})
    products_cur = await conn.execute(Q.products_by_ids, {"tenant_id": tenant_id, "product_ids": product_ids})
    items, unresolved = await resolve_codes_offline(conn, tenant_id, codes)
    settings = await settings_cur.fetchone()
    assert settings is not None
    existing = {row["location_id"] for row in await locations_cur.fetchall()}
    products = {row["product_id"]: row for row in await products_cur.fetchall()}

    sales: list[_Sale] = []
    for index, request, location_id in parsed:
        if location_id not in existing:
            results[index] = _result(request.id, "rejected",
                                     error=errors.NotFound("Location not found.", {"location_id": str(location_id)}))
            continue
        sale = _Sale(index, request, location_id, request.exchange_rate or settings["lbp_rate"])
        try:
            _price(sale, items, unresolved, products)
        except errors.MakhzanError as exc:
            results[index] = _result(request.id, "rejected", error=exc)
            continue
        sales.append(sale)
    if not sales:
        return results

    # Round trip 2: the headers. An id that is already recorded inserts nothing: a duplicate
    # (the till's online attempt that did commit, or an earlier or concurrent batch).
    cur = await conn.execute(
        Q.insert_synced_sales,
        {
            "tenant_id": tenant_id, "key_id": who.key_id,
            "sales": _json([
                {"sale_id": s.request.id, "location_id": s.location_id, "occurred_at": s.request.occurred_at,
                 "currency": s.request.currency, "exchange_rate": s.exchange_rate, "total": s.total,
                 "request_hash": fingerprint(s.request, s.location_id).hex()}
                for s in sales
            ]),
        },
    )
    inserted = {row["sale_id"] for row in await cur.fetchall()}
    new_sales = []
    for sale in sales:
        if sale.request.id in inserted:
            new_sales.append(sale)
        else:
            results[sale.index] = _result(sale.request.id, "duplicate")
    if not new_sales:
        return results

    # Round trip 3: the ledger rows, then every level the batch touches, moved at once (offline
    # sales may take a level below zero: the goods are gone). The ledger rows go first so that
    # the levels stay locked for as short a time as possible.
    ledger = [(s, ln) for s in new_sales for ln in s.lines if ln.product_id is not None]
    await _write_ledger(conn, tenant_id, ledger)
    moves = merge_moves([Move(ln.product_id, s.location_id, "sale", -ln.quantity) for s, ln in ledger])
    levels: dict[tuple[UUID, UUID], Decimal] = {}
    thresholds: dict[UUID, Decimal] = {}
    if moves:
        cur = await conn.execute(
            Q.move_levels,
            {
                "tenant_id": tenant_id, "allow_negative": True,
                "product_ids": [m.product_id for m in moves], "location_ids": [m.location_id for m in moves],
                "deltas": [m.delta for m in moves], "counted": [None] * len(moves),
            },
        )
        for row in await cur.fetchall():
            # The level before the batch; each sale takes its share below, in order.
            levels[(row["product_id"], row["location_id"])] = row["quantity"] - row["delta"]
            thresholds[row["product_id"]] = row["low_stock_threshold"]

    crossed: list[tuple[_Sale, UUID, Decimal]] = []
    for sale in new_sales:
        before: dict[UUID, Decimal] = {}
        requested: dict[UUID, Decimal] = {}
        for line in sale.lines:
            if line.product_id is None:
                continue
            key = (line.product_id, sale.location_id)
            before.setdefault(line.product_id, levels[key])
            requested[line.product_id] = requested.get(line.product_id, Decimal(0)) + line.quantity
            levels[key] -= line.quantity
            line.stock_after = levels[key]
        for product_id, quantity in requested.items():
            after = levels[(product_id, sale.location_id)]
            if after < 0:
                sale.conflicts.append({
                    "kind": "insufficient_stock", "product_id": product_id, "location_id": sale.location_id,
                    "requested": quantity, "available": max(before[product_id], Decimal("0.000")),
                    "stock_after": after,
                })
            if before[product_id] > thresholds[product_id] >= after:
                crossed.append((sale, product_id, after))

    # Queued: they travel to the server with the COMMIT.
    await _write_lines(conn, tenant_id, new_sales)
    await _write_conflicts(conn, tenant_id, new_sales)
    if crossed:
        await conn.execute(
            Q.raise_low_stock_alerts,
            {
                "tenant_id": tenant_id,
                "document_ids": [s.request.id for s, _, _ in crossed],
                "product_ids": [p for _, p, _ in crossed],
                "location_ids": [s.location_id for s, _, _ in crossed],
                "quantities_after": [after for _, _, after in crossed],
                "thresholds": [thresholds[p] for _, p, _ in crossed],
            },
        )
    for sale in new_sales:
        results[sale.index] = _result(sale.request.id, "applied", conflicts=sale.conflicts)
    return results


def _price(sale: _Sale, items: dict[str, ScannedItem], unresolved: dict[str, errors.MakhzanError],
           products: dict[UUID, dict[str, Any]]) -> None:
    """The lines as the till charged them, and the conflicts with what the catalog says."""
    request = sale.request
    currency = request.currency
    line_total_sum = Decimal(0)
    for line in request.lines:
        if line.barcode is not None and line.barcode in unresolved:
            # Kept in the conflict: the money was taken for it, but no product can move.
            error = unresolved[line.barcode]
            scans = line.quantity if line.quantity is not None else Decimal(1)
            money = round_line_total(line.price * scans, currency) if line.price is not None else None
            line_total_sum += money or 0
            sale.conflicts.append({
                "kind": "unknown_barcode", "barcode": line.barcode, "quantity": scans, "price": line.price,
                "line_total": money, "reason": error.code,
            })
            continue
        if line.barcode is not None:
            item = items[line.barcode]
        else:
            product = products.get(line.product_id)  # type: ignore[arg-type]
            if product is None:
                raise errors.NotFound("Product not found.", {"product_id": str(line.product_id)})
            item = ScannedItem(barcode="", unit=product["base_unit"], factor=Decimal(1), quantity=Decimal(1),
                               product=product)
        # What central would charge, then what the till did charge when it says so.
        quantity, price, line_total = price_line(line.quantity, item, currency, sale.exchange_rate,
                                                 by_barcode=line.barcode is not None)
        product = item.product
        unit_price = price
        if line.price is not None:
            unit_price, line_total = line.price, round_line_total(quantity * line.price, currency)
        line_total_sum += line_total
        if line.price is not None and line.price != price:
            sale.conflicts.append({
                "kind": "price_changed", "product_id": product["product_id"], "barcode": line.barcode,
                "till_price": line.price, "price": price, "currency": currency,
            })
        if not product["active"]:
            sale.conflicts.append({
                "kind": "unknown_barcode", "product_id": product["product_id"], "barcode": line.barcode,
                "quantity": quantity, "price": unit_price, "reason": "product_inactive",
            })
        sale.lines.append(_Line(product["product_id"], line.barcode, quantity, unit_price, line_total))
    sale.total = request.total if request.total is not None else line_total_sum.quantize(units.QUANTUM)


async def _write_ledger(conn: Connection, tenant_id: UUID, ledger: list[tuple[_Sale, _Line]]) -> None:
    if ledger:
        movements = [
            {"product_id": ln.product_id, "location_id": s.location_id, "delta": -ln.quantity,
             "document_id": s.request.id, "occurred_at": s.request.occurred_at}
            for s, ln in ledger
        ]
        await conn.execute(Q.insert_synced_movements, {"tenant_id": tenant_id, "movements": _json(movements)})


async def _write_lines(conn: Connection, tenant_id: UUID, sales: list[_Sale]) -> None:
    lines = [
        {"sale_id": s.request.id, "line_no": n, "product_id": ln.product_id, "barcode": ln.barcode,
         "quantity": ln.quantity, "unit_price": ln.unit_price, "line_total": ln.line_total,
         "stock_after": ln.stock_after}
        for s in sales for n, ln in enumerate(s.lines, start=1)
    ]
    if lines:
        await conn.execute(Q.insert_synced_sale_lines, {"tenant_id": tenant_id, "lines": _json(lines)})


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _json(rows: Any) -> str:
    # Decimals as strings: PostgreSQL reads them into numeric exactly.
    return orjson.dumps(rows, default=_json_default).decode()


# Kept in their own columns; the rest of a conflict goes in its details.
_CONFLICT_COLUMNS = ("id", "kind", "product_id", "barcode", "location_id")


async def _write_conflicts(conn: Connection, tenant_id: UUID, sales: list[_Sale]) -> None:
    rows = []
    for sale in sales:
        for conflict in sale.conflicts:
            conflict["id"] = uuid.uuid4()
            details = {k: v for k, v in conflict.items() if k not in _CONFLICT_COLUMNS}
            rows.append((conflict, sale, details))
    if not rows:
        return
    await conn.execute(
        Q.insert_conflicts,
        {
            "tenant_id": tenant_id,
            "conflicts": _json([
                {"conflict_id": c["id"], "kind": c["kind"], "sale_id": s.request.id, "location_id": s.location_id,
                 "product_id": c.get("product_id"), "barcode": c.get("barcode"), "details": details}
                for c, s, details in rows
            ]),
        },
    )
