"""Applying central's catalog change feed to the local copy.

Each page is applied in one SQLite transaction together with the cursor it advances to, so a
kill at any point leaves either the page and its cursor or neither: the next pull starts from
the last cursor committed and re-applies nothing twice (every change is the entity's current
state, so applying one again would be harmless anyway).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from makhzan.agent import store
from makhzan.agent.store import AQ
from makhzan.text import normalize_for_search

CURSOR = "catalog_cursor"


def cursor(conn: sqlite3.Connection) -> str:
    return store.get_meta(conn, CURSOR, "0") or "0"


def apply_page(conn: sqlite3.Connection, changes: list[dict[str, Any]], next_cursor: str) -> int:
    """Apply one page of changes in feed order, and store the cursor in the same transaction."""
    products: list[dict[str, Any]] = []
    barcodes: list[tuple[str, dict[str, Any] | None]] = []
    rules: list[tuple[str, dict[str, Any] | None]] = []
    settings: list[tuple[str, str]] = []
    for change in changes:
        entity, key, data = change.get("entity"), str(change.get("key")), change.get("data")
        if entity == "product" and data is not None:
            products.append(_product_params(data))
        elif entity == "barcode":
            barcodes.append((key, data))
        elif entity == "barcode_rule":
            rules.append((key, data))
        elif entity == "settings" and data is not None:
            settings.extend((str(k), str(v)) for k, v in data.items() if v is not None)
        # Anything else is a kind of change this agent does not know yet: skipped, not fatal.
    with store.transaction(conn):
        # Entities of different kinds do not depend on each other's order (a barcode names its
        # product by id), so each kind is applied in bulk; within a kind the feed order holds.
        conn.executemany(AQ.upsert_product, products)
        for code, data in barcodes:
            if data is None:
                conn.execute(AQ.delete_barcode, (code,))
            else:
                conn.execute(AQ.upsert_barcode, (code, str(data["product_id"]), data.get("unit") or "piece",
                                                 str(data.get("factor") or "1"), data.get("kind") or "gs1"))
        for prefix, data in rules:
            if data is None:
                conn.execute(AQ.delete_barcode_rule, (prefix,))
            else:
                conn.execute(AQ.upsert_barcode_rule, (prefix, data["pattern"]))
        conn.executemany(AQ.upsert_setting, settings)
        store.set_meta(conn, CURSOR, str(next_cursor))
    return len(changes)


def _product_params(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(data["id"]), "sku": data["sku"], "name": data["name"], "name_ar": data.get("name_ar"),
        "base_unit": data["base_unit"], "price": str(data["price"]), "currency": data["currency"],
        "low_stock_threshold": str(data.get("low_stock_threshold") or "0"),
        "active": 1 if data.get("active", True) else 0,
        "search_text": normalize_for_search(" ".join([data["sku"], data["name"], data.get("name_ar") or ""])),
    }
