"""The agent's SQLite file: opening it durably, transactions, and the plain reads the local API does.

One file under the data directory. WAL lets the till's reads go on while the sync loop writes;
``synchronous=FULL`` makes every commit reach the disk before it returns, so a sale answered to
the POS program survives a power cut (the reason the agent exists).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

SCHEMA = resources.files("makhzan.agent").joinpath("schema.sql").read_text(encoding="utf-8")
FILE_NAME = "agent.sqlite3"
_HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


class _Queries:
    """The agent's named queries (queries.sql), loaded once: ``AQ.product_by_barcode``."""

    def __init__(self) -> None:
        text = resources.files("makhzan.agent").joinpath("queries.sql").read_text(encoding="utf-8")
        parts = _HEADER.split(text)
        self._queries = {name: body.strip().rstrip(";") for name, body in zip(parts[1::2], parts[2::2], strict=True)}

    def __getattr__(self, name: str) -> str:
        try:
            return self._queries[name]
        except KeyError:
            raise AttributeError(f"no agent query named {name!r}") from None


AQ = _Queries()


def now_text() -> str:
    return datetime.now(UTC).isoformat()


def open_store(data_dir: Path) -> sqlite3.Connection:
    """A connection to the agent's store, created on first use.

    Each user of the store (the request handlers, the sync loop) opens its own connection; a
    connection is used by one task at a time.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: no implicit transactions; every write says BEGIN IMMEDIATE itself,
    # so the write lock is taken up front and never upgraded half-way (no SQLITE_BUSY deadlock).
    conn = sqlite3.connect(data_dir / FILE_NAME, isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.executescript(SCHEMA)
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One durable write: committed (and on disk) when the block ends, rolled back if it raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def get_meta(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = conn.execute(AQ.get_meta, (key,)).fetchone()
    return row[0] if row else default


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(AQ.set_meta, (key, value))


# --- reads of the local API -------------------------------------------------------------------


def product_by_barcode(conn: sqlite3.Connection, barcode: str) -> dict[str, Any] | None:
    row = conn.execute(AQ.product_by_barcode, (barcode,)).fetchone()
    return _product_row(row) if row else None


def product_by_id(conn: sqlite3.Connection, product_id: str) -> dict[str, Any] | None:
    row = conn.execute(AQ.product_by_id, (product_id,)).fetchone()
    return _product_row(row) if row else None


def _product_row(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for field in ("price", "low_stock_threshold", "factor"):
        if field in out:
            out[field] = Decimal(out[field])
    out["active"] = bool(out["active"])
    return out


def barcode_patterns(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute(AQ.barcode_patterns)]


def settings(conn: sqlite3.Connection) -> dict[str, str]:
    return {row[0]: row[1] for row in conn.execute(AQ.settings)}


def stock_of(conn: sqlite3.Connection, product_id: str) -> tuple[Decimal, str | None]:
    """The local estimate of a product's level and when central last told us about it."""
    row = conn.execute(AQ.stock_of, (product_id,)).fetchone()
    if row is None:
        return Decimal("0.000"), None
    return Decimal(row[0]), row[1]


def search_products(conn: sqlite3.Connection, folded: str, limit: int) -> list[dict[str, Any]]:
    """Products whose folded text or one of whose barcodes contains ``folded``; sku order."""
    if folded:
        escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        rows = conn.execute(AQ.search_products, {"pattern": pattern, "limit": limit}).fetchall()
    else:
        rows = conn.execute(AQ.first_products, (limit,)).fetchall()
    products = [_product_row(row) for row in rows]
    if products:
        ids = [p["product_id"] for p in products]
        codes: dict[str, list[dict[str, Any]]] = {pid: [] for pid in ids}
        for b in conn.execute(AQ.barcodes_of_products, (json.dumps(ids),)):
            codes[b["product_id"]].append({"barcode": b["barcode"], "unit": b["unit"],
                                           "factor": Decimal(b["factor"]), "kind": b["kind"]})
        for p in products:
            p["barcodes"] = codes[p["product_id"]]
    return products


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    row = conn.execute(AQ.counts).fetchone()
    return {"pending_sales": row[0], "rejected_sales": row[1], "products": row[2]}
