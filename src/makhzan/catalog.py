"""Products, their barcodes, search, and what a scanned code stands for."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from makhzan import errors
from makhzan.barcodes import WeighedRule, decode_weighed, lookup_form, normalize_barcode
from makhzan.db import Connection
from makhzan.models import BarcodeIn, ProductIn, ProductPatch
from makhzan.pricing import ScannedItem, scanned, scanned_label, unknown_code
from makhzan.queries import Q
from makhzan.text import normalize_for_search


def _search_text(sku: str, name: str, name_ar: str | None, barcodes: list[str]) -> str:
    return normalize_for_search(" ".join([sku, name, name_ar or "", *barcodes]))


def _normalized_barcodes(barcodes: list[BarcodeIn]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    result = []
    for b in barcodes:
        code = normalize_barcode(b.barcode, b.kind)
        if code in seen:
            raise errors.InvalidInput("The same barcode is listed twice.", {"barcode": code})
        seen.add(code)
        result.append({"barcode": code, "unit": b.unit, "factor": b.factor, "kind": b.kind})
    return result


async def create_product(conn: Connection, tenant_id: UUID, data: ProductIn) -> dict[str, Any]:
    product_id = data.id or uuid4()
    barcodes = _normalized_barcodes(data.barcodes)
    await conn.execute(
        Q.insert_product,
        {
            "tenant_id": tenant_id, "product_id": product_id, "sku": data.sku, "name": data.name,
            "name_ar": data.name_ar, "base_unit": data.base_unit, "price": data.price,
            "currency": data.currency, "low_stock_threshold": data.low_stock_threshold,
            "active": data.active,
            "search_text": _search_text(data.sku, data.name, data.name_ar, [b["barcode"] for b in barcodes]),
        },
    )
    await _insert_barcodes(conn, tenant_id, product_id, barcodes)
    return await get_product(conn, tenant_id, product_id)


async def _insert_barcodes(
    conn: Connection, tenant_id: UUID, product_id: UUID, barcodes: list[dict[str, Any]]
) -> None:
    for b in barcodes:
        await conn.execute(Q.insert_barcode, {"tenant_id": tenant_id, "product_id": product_id, **b})


async def update_product(conn: Connection, tenant_id: UUID, product_id: UUID, patch: ProductPatch) -> dict[str, Any]:
    cur = await conn.execute(Q.get_product_for_update, {"tenant_id": tenant_id, "product_id": product_id})
    current = await cur.fetchone()
    if current is None:
        raise errors.NotFound("Product not found.", {"product_id": str(product_id)})
    changes = patch.model_dump(exclude_unset=True, exclude={"barcodes"})
    for field in ("sku", "name", "base_unit", "price", "currency", "low_stock_threshold", "active"):
        if field in changes and changes[field] is None:
            raise errors.InvalidInput(f"{field} cannot be null.", {"field": field})
    merged = {**current, **changes}
    if patch.barcodes is not None:
        barcodes = _normalized_barcodes(patch.barcodes)
        await conn.execute(Q.delete_product_barcodes, {"tenant_id": tenant_id, "product_id": product_id})
        await _insert_barcodes(conn, tenant_id, product_id, barcodes)
        codes = [b["barcode"] for b in barcodes]
    else:
        codes = [b["barcode"] for b in await _barcodes_of(conn, tenant_id, [product_id])]
    merged["search_text"] = _search_text(merged["sku"], merged["name"], merged["name_ar"], codes)
    await conn.execute(Q.update_product, {**merged, "tenant_id": tenant_id, "product_id": product_id})
    return await get_product(conn, tenant_id, product_id)


async def _barcodes_of(conn: Connection, tenant_id: UUID, product_ids: list[UUID]) -> list[dict[str, Any]]:
    cur = await conn.execute(Q.barcodes_of_products, {"tenant_id": tenant_id, "product_ids": product_ids})
    return list(await cur.fetchall())


async def get_product(conn: Connection, tenant_id: UUID, product_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(Q.get_product, {"tenant_id": tenant_id, "product_id": product_id})
    row = await cur.fetchone()
    if row is None:
        raise errors.NotFound("Product not found.", {"product_id": str(product_id)})
    return (await _with_barcodes(conn, tenant_id, [row]))[0]


async def _with_barcodes(conn: Connection, tenant_id: UUID, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_product: dict[UUID, list[dict[str, Any]]] = {row["product_id"]: [] for row in rows}
    if rows:
        for b in await _barcodes_of(conn, tenant_id, list(by_product)):
            by_product[b["product_id"]].append(
                {"barcode": b["barcode"], "unit": b["unit"], "factor": b["factor"], "kind": b["kind"]}
            )
    return [product_out(row, by_product[row["product_id"]]) for row in rows]


def product_out(row: dict[str, Any], barcodes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out = {
        "id": row["product_id"], "sku": row["sku"], "name": row["name"], "name_ar": row["name_ar"],
        "base_unit": row["base_unit"], "price": row["price"], "currency": row["currency"],
        "low_stock_threshold": row["low_stock_threshold"], "active": row["active"],
    }
    if barcodes is not None:
        out["barcodes"] = barcodes
    if "updated_at" in row:
        out["updated_at"] = row["updated_at"]
    return out


async def search_products(conn: Connection, tenant_id: UUID, q: str, limit: int) -> list[dict[str, Any]]:
    folded = normalize_for_search(q)
    if not folded:
        return await list_products(conn, tenant_id, "", limit)
    # LIKE metacharacters in the query are matched literally.
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    cur = await conn.execute(
        Q.search_products, {"tenant_id": tenant_id, "q": folded, "pattern": f"%{escaped}%", "limit": limit}
    )
    return await _with_barcodes(conn, tenant_id, list(await cur.fetchall()))


async def list_products(conn: Connection, tenant_id: UUID, after_sku: str, limit: int) -> list[dict[str, Any]]:
    cur = await conn.execute(Q.list_products, {"tenant_id": tenant_id, "after_sku": after_sku, "limit": limit})
    return await _with_barcodes(conn, tenant_id, list(await cur.fetchall()))


# --- scanning -------------------------------------------------------------------------------


async def scan(conn: Connection, tenant_id: UUID, raw: str, location_id: UUID) -> dict[str, Any]:
    """The till's lookup: product, unit, quantity one scan stands for and live stock."""
    code = lookup_form(raw)
    cur = await conn.execute(Q.scan, {"tenant_id": tenant_id, "barcode": code, "location_id": location_id})
    row = await cur.fetchone()
    if row is not None:
        item = scanned(row, code, row["factor"])
        stock = row["stock_quantity"]
    else:
        item = (await resolve_codes(conn, tenant_id, [raw]))[raw]
        cur = await conn.execute(
            Q.stock_at,
            {"tenant_id": tenant_id, "product_id": item.product["product_id"], "location_id": location_id},
        )
        level = await cur.fetchone()
        stock = level["quantity"] if level else None
    return {
        "barcode": item.barcode,
        "product": {k: v for k, v in product_out(item.product).items()
                    if k in ("id", "sku", "name", "name_ar", "base_unit", "price", "currency")},
        "unit": item.unit,
        "factor": item.factor,
        "quantity": item.quantity,
        "stock": {"location_id": location_id, "quantity": stock if stock is not None else Decimal("0.000")},
    }


async def resolve_codes(conn: Connection, tenant_id: UUID, raws: list[str]) -> dict[str, ScannedItem]:
    """What each scanned code stands for, in as few round trips as a basket allows."""
    found, failed = await _resolve(conn, tenant_id, raws, include_inactive=False)
    for error in failed.values():
        raise error
    return found


async def resolve_codes_offline(
    conn: Connection, tenant_id: UUID, raws: list[str]
) -> tuple[dict[str, ScannedItem], dict[str, errors.MakhzanError]]:
    """The same for sales that already happened at an offline till: a retired product still
    resolves (its goods are gone all the same), and a code that resolves to nothing comes back
    with its error instead of failing the whole batch."""
    return await _resolve(conn, tenant_id, raws, include_inactive=True)


async def _resolve(
    conn: Connection, tenant_id: UUID, raws: list[str], *, include_inactive: bool
) -> tuple[dict[str, ScannedItem], dict[str, errors.MakhzanError]]:
    codes = {raw: lookup_form(raw) for raw in raws}
    found = await _rows_by_barcode(conn, tenant_id, set(codes.values()))
    result: dict[str, ScannedItem] = {}
    failed: dict[str, errors.MakhzanError] = {}
    labels = {}
    for raw, code in codes.items():
        if code in found:
            try:
                result[raw] = scanned(found[code], code, found[code]["factor"], include_inactive=include_inactive)
            except errors.MakhzanError as exc:
                failed[raw] = exc
        else:
            labels[raw] = code
    if labels:
        rules = await _weighed_rules(conn, tenant_id)
        decoded = {raw: decode_weighed(code, rules) for raw, code in labels.items()}
        bases = await _rows_by_barcode(conn, tenant_id, {d.base_barcode for d in decoded.values() if d})
        for raw, code in labels.items():
            label = decoded[raw]
            try:
                if label is None or label.base_barcode not in bases:
                    raise unknown_code(code)
                result[raw] = scanned_label(bases[label.base_barcode], code, label.value_kind, label.value,
                                            include_inactive=include_inactive)
            except errors.MakhzanError as exc:
                failed[raw] = exc
    return result, failed


async def _rows_by_barcode(conn: Connection, tenant_id: UUID, codes: set[str]) -> dict[str, dict[str, Any]]:
    if not codes:
        return {}
    cur = await conn.execute(Q.resolve_barcodes, {"tenant_id": tenant_id, "barcodes": list(codes)})
    return {row["barcode"]: row for row in await cur.fetchall()}


async def _weighed_rules(conn: Connection, tenant_id: UUID) -> list[WeighedRule]:
    cur = await conn.execute(Q.list_barcode_rules, {"tenant_id": tenant_id})
    return [WeighedRule(row["pattern"]) for row in await cur.fetchall()]
