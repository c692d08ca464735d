"""Bench databases: created fresh, migrated, given a shop with N products, dropped at the end.

Products are keyed by an index ``i`` in ``[0, N)`` and both their barcode and their id are a
pure function of ``i``. That is what lets pgbench (``scripts/*.pgbench``) and wrk
(``scripts/*.lua``) pick a random seeded product without reading a list of a million keys:
keep ``barcode_of``, ``product_id_of`` and those scripts in step.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from makhzan import tenancy
from makhzan.cli import with_pool
from makhzan.db import run_in_transaction
from makhzan.demo import create_tenant
from makhzan.migrate import migrate
from makhzan.text import normalize_for_search

# Large enough that no run ever refuses a sale for stock, even on the hot product.
OPENING_STOCK = 100_000_000
# Rows generated per COPY write: big enough to amortise the calls, small enough to stay lean.
CHUNK = 50_000
# The fixed part of a product id; the last group is 100000000000 + i (twelve decimal digits).
PRODUCT_ID_PREFIX = "00000000-0000-4000-8000-"


def barcode_of(i: int) -> str:
    """The EAN-13 of product ``i``: ``5``, eleven digits of ``i``, then the GS1 check digit."""
    body = f"5{i:011d}"
    odd = sum(int(d) for d in body[0::2])
    even = sum(int(d) for d in body[1::2])
    return body + str((10 - (odd + 3 * even) % 10) % 10)


def product_id_of(i: int) -> str:
    return f"{PRODUCT_ID_PREFIX}{100_000_000_000 + i}"


@dataclass(frozen=True)
class Shop:
    """One seeded tenant in its own database, as the bench drives it."""

    database_url: str
    tenant_id: str
    location_id: str
    cashier_key: str
    products: int


@contextmanager
def seeded_database(base_url: str, label: str, products: int) -> Iterator[Shop]:
    """A fresh database holding one shop with ``products`` products; dropped on exit."""
    name = f"makhzan_bench_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(base_url, dbname=name)
    try:
        migrate(url)
        shop = _create_shop(url, products)
        started = time.monotonic()
        _copy_catalog(shop)
        _vacuum_analyze(url)
        print(f"  seeded {label}: {products:,} products in {time.monotonic() - started:.1f} s", flush=True)
        yield shop
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _create_shop(url: str, products: int) -> Shop:
    """Tenant, store and a till's cashier key, through the same domain code the CLI uses."""

    async def work(pool: Any) -> Shop:
        tenant = await create_tenant(pool, "Makhzan bench shop")
        tenant_id = tenant["tenant_id"]

        async def store_and_till(conn: Any) -> tuple[Any, dict[str, Any]]:
            store = await tenancy.create_location(conn, tenant_id, name="Bench store", kind="store")
            key = await tenancy.create_key(conn, tenant_id, name="till 1", role="cashier", location_id=store["id"])
            return store, key

        store, key = await run_in_transaction(pool, tenant_id, store_and_till)
        return Shop(url, str(tenant_id), str(store["id"]), key["key"], products)

    shop: Shop = with_pool(url, work)
    return shop


def _copy_catalog(shop: Shop) -> None:
    """Products, barcodes, levels and their opening receipt in the ledger, all by COPY.

    As the table owner (a superuser) so row-level security does not apply, with foreign-key
    triggers off (session_replication_role = replica): the rows are consistent by
    construction, and checking a million references would double the seeding time. The
    search index is rebuilt once afterwards instead of being updated row by row.
    """
    receipt_id = str(uuid.uuid4())
    with psycopg.connect(shop.database_url) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("DROP INDEX products_search_trgm")
        conn.execute(
            "INSERT INTO stock_documents (tenant_id, document_id, kind, location_id, supplier, occurred_at,"
            " request_hash) VALUES (%s, %s, 'receipt', %s, 'Opening stock (bench)', now(), '\\x00')",
            (shop.tenant_id, receipt_id, shop.location_id),
        )
        tables = {
            "products (tenant_id, product_id, sku, name, name_ar, base_unit, price, currency,"
            " low_stock_threshold, active, search_text)": _product_row,
            "product_barcodes (tenant_id, barcode, product_id, unit, factor, kind)": _barcode_row,
            "stock_levels (tenant_id, product_id, location_id, quantity)": _level_row,
            "stock_movements (tenant_id, product_id, location_id, delta, kind, document_id, occurred_at)":
                _movement_row,
        }
        context = {"tenant": shop.tenant_id, "location": shop.location_id, "receipt": receipt_id}
        for table, row in tables.items():
            with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                for start in range(0, shop.products, CHUNK):
                    stop = min(start + CHUNK, shop.products)
                    copy.write("".join(row(i, context) for i in range(start, stop)))
        conn.execute("CREATE INDEX products_search_trgm ON products USING gin (search_text gin_trgm_ops)")


def _product_row(i: int, c: dict[str, str]) -> str:
    sku, name, name_ar = f"SKU-{i:07d}", f"Bench item {i}", f"صنف تجريبي {i}"
    # Folded by the application's own function, as catalog.create_product does.
    search = normalize_for_search(f"{sku} {name} {name_ar} {barcode_of(i)}")
    price = f"{1 + i % 50}.250"
    return f"{c['tenant']}\t{product_id_of(i)}\t{sku}\t{name}\t{name_ar}\tpiece\t{price}\tUSD\t10\tt\t{search}\n"


def _barcode_row(i: int, c: dict[str, str]) -> str:
    return f"{c['tenant']}\t{barcode_of(i)}\t{product_id_of(i)}\tpiece\t1\tgs1\n"


def _level_row(i: int, c: dict[str, str]) -> str:
    return f"{c['tenant']}\t{product_id_of(i)}\t{c['location']}\t{OPENING_STOCK}\n"


def _movement_row(i: int, c: dict[str, str]) -> str:
    return f"{c['tenant']}\t{product_id_of(i)}\t{c['location']}\t{OPENING_STOCK}\treceipt\t{c['receipt']}\tnow\n"


def _vacuum_analyze(url: str) -> None:
    """Statistics for the planner, and the visibility map and hint bits a live database has."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
