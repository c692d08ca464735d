"""Pricing a sale on the terminal when central cannot be reached.

The arithmetic is central's own (``makhzan.pricing``): unit price converted to the sale's
currency at the tenant's LBP rate, line totals rounded to the currency's smallest coin. The
result is both the answer the POS program gets and the sale the outbox later sends to
``POST /api/v1/sync/sales``, carrying the prices the till charged so central can tell a price
that changed meanwhile (a ``price_changed`` conflict).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from makhzan import errors
from makhzan.agent import scan, store
from makhzan.models import SaleIn
from makhzan.pricing import price_line


@dataclass(frozen=True)
class OfflineSale:
    answer: dict[str, Any]
    payload: dict[str, Any]
    # Base quantity per product, what the sale takes off the local stock estimate.
    takes: dict[str, Decimal]


def lbp_rate(conn: sqlite3.Connection) -> Decimal:
    rate = store.settings(conn).get("lbp_rate")
    if rate is None:
        # No catalog yet: the agent has never reached central, and cannot price anything.
        raise errors.ServiceBusy("The terminal has no catalog yet; it must reach the server once first.")
    return Decimal(rate)


def price_offline(conn: sqlite3.Connection, sale: SaleIn, rules: scan.RuleCache, *,
                  location_id: str | None, now: datetime | None = None) -> OfflineSale:
    """Price ``sale`` from the local catalog; raises what central would for a bad line."""
    now = now or datetime.now(UTC)
    rate = lbp_rate(conn)
    occurred_at = sale.occurred_at or now
    items = [scan.resolve(conn, line.barcode, rules) if line.barcode is not None
             else scan.resolve_product(conn, str(line.product_id)) for line in sale.lines]
    priced = [price_line(line.quantity, item, sale.currency, rate, by_barcode=line.barcode is not None)
              for line, item in zip(sale.lines, items, strict=True)]
    takes: dict[str, Decimal] = {}
    for item, (quantity, _, _) in zip(items, priced, strict=True):
        pid = item.product["product_id"]
        takes[pid] = takes.get(pid, Decimal(0)) + quantity
    # Like central, each line reports the level after the whole sale.
    after = {pid: store.stock_of(conn, pid)[0] - taken for pid, taken in takes.items()}
    total = sum((line_total for _, _, line_total in priced), Decimal("0.000"))
    lines = []
    payload_lines = []
    for n, (line, item, (quantity, unit_price, line_total)) in enumerate(zip(sale.lines, items, priced, strict=True),
                                                                         start=1):
        pid = item.product["product_id"]
        lines.append({"line_no": n, "product_id": pid, "barcode": item.barcode if line.barcode is not None else None,
                      "quantity": quantity, "unit_price": unit_price, "line_total": line_total,
                      "stock_after": after[pid]})
        sent: dict[str, Any]
        if line.barcode is not None:
            sent = {"barcode": line.barcode}
            if line.quantity is not None:
                sent["quantity"] = line.quantity
        else:
            sent = {"product_id": pid, "quantity": line.quantity}
        # A priced label fixes its own amount; every other line says what the till charged per base unit.
        if item.amount is None:
            sent["price"] = unit_price
        payload_lines.append(sent)
    answer = {
        "id": str(sale.id), "location_id": str(sale.location_id) if sale.location_id else location_id,
        "occurred_at": occurred_at.isoformat(), "recorded_at": now.isoformat(), "currency": sale.currency,
        "exchange_rate": rate, "total": total, "offline": True, "lines": lines,
    }
    payload: dict[str, Any] = {
        "id": str(sale.id), "occurred_at": occurred_at.isoformat(), "currency": sale.currency,
        "exchange_rate": rate, "offline": True, "total": total, "lines": payload_lines,
    }
    if sale.location_id is not None:
        payload["location_id"] = str(sale.location_id)
    return OfflineSale(answer=answer, payload=payload, takes=takes)
