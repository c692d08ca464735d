"""What a scanned code stands for, answered from the local copy of the catalog.

The same decisions as central's ``catalog.scan`` (canonical lookup form, the tenant's weighed
and priced label rules, case factors, retired products refused), made on the terminal so the
till keeps scanning through a blackout.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any

from makhzan import errors
from makhzan.agent import store
from makhzan.barcodes import WeighedRule, decode_weighed, lookup_form
from makhzan.pricing import ScannedItem, scanned, scanned_label, unknown_code

# What one scan (or one product line) stands for: the same record central prices.
LocalItem = ScannedItem


class RuleCache:
    """The tenant's label rules, parsed once per catalog change rather than on every scan."""

    def __init__(self) -> None:
        self._patterns: list[str] | None = None
        self._rules: list[WeighedRule] = []

    def rules(self, conn: sqlite3.Connection) -> list[WeighedRule]:
        patterns = store.barcode_patterns(conn)
        if patterns != self._patterns:
            parsed = []
            for pattern in patterns:
                try:
                    parsed.append(WeighedRule(pattern))
                except ValueError:
                    # Central validates rules when saved; one it sends that we cannot read must not
                    # stop the till from scanning everything else.
                    continue
            self._patterns, self._rules = patterns, parsed
        return self._rules


def resolve(conn: sqlite3.Connection, raw: str, rules: RuleCache) -> LocalItem:
    """The product behind a scanned code, or the error central would give for it."""
    code = lookup_form(raw)
    row = store.product_by_barcode(conn, code)
    if row is not None:
        return scanned(row, code, row["factor"])
    label = decode_weighed(code, rules.rules(conn))
    base = store.product_by_barcode(conn, label.base_barcode) if label else None
    if label is None or base is None:
        raise unknown_code(code)
    return scanned_label(base, code, label.value_kind, label.value)


def resolve_product(conn: sqlite3.Connection, product_id: str) -> LocalItem:
    """A line given by product id: one base unit per ``quantity``."""
    row = store.product_by_id(conn, product_id)
    if row is None:
        raise errors.NotFound("Product not found.", {"product_id": product_id})
    if not row["active"]:
        raise errors.ProductInactive("This product is no longer sold.", {"product_id": product_id})
    return LocalItem(barcode="", unit=row["base_unit"], factor=Decimal(1), quantity=Decimal(1), product=row)


def product_out(product: dict[str, Any]) -> dict[str, Any]:
    return {"id": product["product_id"], "sku": product["sku"], "name": product["name"],
            "name_ar": product["name_ar"], "base_unit": product["base_unit"], "price": product["price"],
            "currency": product["currency"]}


def scan_answer(conn: sqlite3.Connection, raw: str, rules: RuleCache, location_id: str | None) -> dict[str, Any]:
    """The body of ``GET /api/v1/scan/{barcode}``, with the last known stock and its age."""
    item = resolve(conn, raw, rules)
    quantity, as_of = store.stock_of(conn, item.product["product_id"])
    return {
        "barcode": item.barcode,
        "product": product_out(item.product),
        "unit": item.unit,
        "factor": item.factor,
        "quantity": item.quantity,
        "stock": {"location_id": location_id, "quantity": quantity, "as_of": as_of},
    }
