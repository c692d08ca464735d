"""The outbox of sales central has not acknowledged, and the record of every sale answered.

A sale taken offline is written (answer, outbox row, its quantities, the stock estimate) in one
durable SQLite transaction before the POS program hears "201". It leaves the outbox only when
central's answer for it is in: ``applied`` or ``duplicate`` (central already had it, e.g. a
forwarded sale whose response was lost) delete it; ``rejected`` moves it to ``dead_letters``.
A crash between central's commit and the delete only means the next push hears ``duplicate``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from makhzan import errors
from makhzan.agent import store
from makhzan.agent.pricing import OfflineSale
from makhzan.agent.store import AQ
from makhzan.api.json import dumps
from makhzan.models import SaleIn

# What the outbox must hold: a till offline for days at a busy supermarket.
CAPACITY = 100_000


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


def request_hash(sale: SaleIn) -> str:
    """A sale's identity: the same id with another body is refused, not answered."""
    return hashlib.sha256(sale.model_dump_json().encode("utf-8")).hexdigest()


def answered(conn: sqlite3.Connection, sale: SaleIn) -> Answer | None:
    """The answer already given for this sale id (a retry gets 200 and the same sale)."""
    row = conn.execute(AQ.answered_sale, (str(sale.id),)).fetchone()
    if row is None:
        return None
    if row[0] != request_hash(sale):
        raise errors.IdempotencyConflict("This sale id was already used for a different sale.", {"id": str(sale.id)})
    return Answer(200, row[1].encode("utf-8"))


def answer_of(conn: sqlite3.Connection, sale_id: str) -> bytes | None:
    row = conn.execute(AQ.answered_sale, (sale_id,)).fetchone()
    return row[1].encode("utf-8") if row else None


def remember_online(conn: sqlite3.Connection, sale: SaleIn, body: bytes, location_id: str | None) -> None:
    """Keep central's answer to a forwarded sale, and the levels it reported, for retries and scans."""
    try:
        document = json.loads(body)
    except ValueError:
        return
    if not isinstance(document, dict):
        return
    now = store.now_text()
    with store.transaction(conn):
        conn.execute(AQ.insert_answer, (str(sale.id), request_hash(sale), body.decode("utf-8"), now))
        where = document.get("location_id")
        if location_id is None and isinstance(where, str):
            store.set_meta(conn, "location_id", where)
        for line in document.get("lines") or []:
            if isinstance(line, dict) and line.get("stock_after") is not None and line.get("product_id"):
                pending = _pending(conn, line["product_id"])
                _set_stock(conn, line["product_id"], Decimal(line["stock_after"]) - pending, now)


def record_offline(conn: sqlite3.Connection, sale: SaleIn, priced: OfflineSale) -> Answer:
    """Write an offline sale durably; the answer is 201, or 200 for an id answered meanwhile."""
    now = store.now_text()
    body = dumps(priced.answer)
    with store.transaction(conn):
        inserted = conn.execute(AQ.insert_answer,
                                (str(sale.id), request_hash(sale), body.decode("utf-8"), now)).rowcount
        if not inserted:
            # A retry of the same sale raced this one (the POS program timed out and resent it).
            previous = answered(conn, sale)
            assert previous is not None
            return previous
        if _pending_sales(conn) >= CAPACITY:
            # Refused before anything is written (the transaction rolls back): the cashier hears it.
            raise errors.ServiceBusy(f"The terminal holds {CAPACITY:,} unsynced sales; it must reach the server.")
        conn.execute(AQ.insert_outbox, (str(sale.id), dumps(priced.payload).decode("utf-8"), now))
        conn.executemany(AQ.insert_outbox_line, [(str(sale.id), pid, str(q)) for pid, q in priced.takes.items()])
        for pid, taken in priced.takes.items():
            quantity, as_of = store.stock_of(conn, pid)
            # as_of stays the time central last told us: the estimate is that level less local sales.
            _set_stock(conn, pid, quantity - taken, as_of or now)
    return Answer(201, body)


def _pending_sales(conn: sqlite3.Connection) -> int:
    # The span of seq bounds the count from above and costs two index probes (sales leave the
    # outbox oldest first, so it is the count unless one left out of order); counting 100,000
    # rows on every sale of a long blackout is what this avoids.
    span = conn.execute(AQ.outbox_span).fetchone()[0]
    if span < CAPACITY:
        return int(span)
    return int(conn.execute(AQ.outbox_count).fetchone()[0])


def _pending(conn: sqlite3.Connection, product_id: str) -> Decimal:
    rows = conn.execute(AQ.pending_of_product, (product_id,)).fetchall()
    return sum((Decimal(r[0]) for r in rows), Decimal(0))


def _set_stock(conn: sqlite3.Connection, product_id: str, quantity: Decimal, as_of: str) -> None:
    conn.execute(AQ.set_stock, (product_id, format(quantity.quantize(Decimal("0.001")), "f"), as_of))


def set_levels(conn: sqlite3.Connection, levels: list[tuple[str, Decimal]], as_of: str) -> None:
    """Central's levels, less what the outbox still takes: the till's best estimate."""
    pending: dict[str, Decimal] = {}
    for pid, quantity in conn.execute(AQ.all_pending_lines):
        pending[pid] = pending.get(pid, Decimal(0)) + Decimal(quantity)
    for pid, quantity in levels:
        _set_stock(conn, pid, quantity - pending.get(pid, Decimal(0)), as_of)


# --- pushing --------------------------------------------------------------------------------


def next_batch(conn: sqlite3.Connection, size: int) -> list[dict[str, Any]]:
    """The oldest pending sales, as they are sent."""
    rows = conn.execute(AQ.next_batch, (size,)).fetchall()
    return [json.loads(row[0]) for row in rows]


def acknowledge(conn: sqlite3.Connection, results: list[dict[str, Any]]) -> dict[str, int]:
    """Apply central's per-sale results: acknowledged sales leave, rejected ones go aside."""
    done = {"applied": 0, "duplicate": 0, "rejected": 0}
    now = store.now_text()
    with store.transaction(conn):
        for result in results:
            sale_id, status = str(result.get("id")), result.get("status")
            if status in ("applied", "duplicate"):
                _remove(conn, sale_id)
            elif status == "rejected":
                row = conn.execute(AQ.outbox_payload, (sale_id,)).fetchone()
                if row is not None:
                    conn.execute(AQ.insert_dead_letter, (sale_id, row[0], json.dumps(result.get("error")), now))
                _remove(conn, sale_id)
            else:
                # An answer we do not understand acknowledges nothing: the sale stays and is sent again.
                continue
            done[str(status)] += 1
        conn.execute(AQ.count_attempts, (json.dumps([str(r.get("id")) for r in results]),))
    return done


def reject_alone(conn: sqlite3.Connection, sale_id: str, error: dict[str, Any]) -> None:
    """A sale central refused even as a batch of one: set aside, never silently dropped."""
    acknowledge(conn, [{"id": sale_id, "status": "rejected", "error": error}])


def _remove(conn: sqlite3.Connection, sale_id: str) -> None:
    conn.execute(AQ.delete_outbox, (sale_id,))
    conn.execute(AQ.delete_outbox_lines, (sale_id,))


def forget_old_answers(conn: sqlite3.Connection, older_than: str) -> int:
    """Drop answers kept for retries once no POS program will retry them; never a pending sale's."""
    with store.transaction(conn):
        return conn.execute(AQ.forget_old_answers, (older_than,)).rowcount


def dead_letters(conn: sqlite3.Connection, limit: int = 20) -> list[dict[str, Any]]:
    rows = conn.execute(AQ.dead_letters, (limit,)).fetchall()
    return [{"id": r[0], "error": json.loads(r[1]), "rejected_at": r[2]} for r in rows]
