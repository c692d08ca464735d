"""SIGKILL the server in the middle of a stream of sales, restart it, and audit the database.

DESIGN.md: a sale is one transaction (header, lines, deductions and movements commit together
or not at all) and every retry is idempotent by the client's id. So after a crash with no
shutdown hook: every sale a till got an answer for is there; no sale is half written; levels
equal the ledger; a sale whose answer was lost is either wholly there or wholly absent, and
the till's retry applies it at most once.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row
from tests.support import Api, Databases, ServerProcess, ledger_drift, new_shop

TILLS = 6
OPENING_STOCK = Decimal("100000")
# Bounds on the load: the kill normally ends it long before either is reached.
MAX_SALES_PER_TILL = 2000
LOAD_SECONDS = 15.0
KILL_AFTER_SECONDS = 1.5


@dataclass
class TillLog:
    acknowledged: dict[str, dict[str, Any]] = field(default_factory=dict)  # sale id -> the answer
    in_flight: dict[str, dict[str, Any]] = field(default_factory=dict)  # sale id -> body, answer lost
    unexpected: list[tuple[int, str]] = field(default_factory=list)


def run_till(url: str, key: str, location: str, products: list[str], seed: int, stop: threading.Event) -> TillLog:
    """Post sales back to back until the server dies (or a bound is reached)."""
    rng = random.Random(seed)
    log = TillLog()
    deadline = time.monotonic() + LOAD_SECONDS
    with httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
        for _ in range(MAX_SALES_PER_TILL):
            if stop.is_set() or time.monotonic() > deadline:
                break
            # Several lines per basket widens the window in which a kill lands mid-transaction.
            lines = [{"product_id": p, "quantity": str(rng.randint(1, 3))}
                     for p in rng.sample(products, k=rng.randint(2, len(products)))]
            body = {"id": str(uuid.uuid4()), "location_id": location, "lines": lines}
            try:
                response = http.post("/sales", json=body)
            except httpx.TransportError:
                # No answer: the sale may or may not have committed. A real till would retry it.
                log.in_flight[body["id"]] = body
                break
            if response.status_code in (200, 201):
                log.acknowledged[body["id"]] = response.json()
            else:
                log.unexpected.append((response.status_code, response.text))
    return log


# Per sale and product: what its lines sold against what its movements took. Any row back is a
# half-written sale (lines without movements, movements without lines, or amounts that differ).
HALF_SALES = """
WITH sold AS (
    SELECT sale_id, product_id, sum(quantity) AS quantity
    FROM sale_lines WHERE tenant_id = %(tenant_id)s GROUP BY sale_id, product_id
), moved AS (
    SELECT document_id AS sale_id, product_id, sum(delta) AS delta
    FROM stock_movements WHERE tenant_id = %(tenant_id)s AND kind = 'sale' GROUP BY document_id, product_id
)
SELECT coalesce(sold.sale_id, moved.sale_id) AS sale_id, coalesce(sold.product_id, moved.product_id) AS product_id,
       sold.quantity, moved.delta
FROM sold FULL JOIN moved ON moved.sale_id = sold.sale_id AND moved.product_id = sold.product_id
WHERE sold.quantity IS NULL OR moved.delta IS NULL OR moved.delta <> -sold.quantity
"""

# Sale headers whose lines are missing or whose total is not the sum of their lines.
BAD_HEADERS = """
SELECT s.sale_id, s.total, sum(l.line_total) AS lines_total, count(l.line_no) AS lines
FROM sales s
LEFT JOIN sale_lines l ON l.tenant_id = s.tenant_id AND l.sale_id = s.sale_id
WHERE s.tenant_id = %(tenant_id)s
GROUP BY s.sale_id, s.total
HAVING count(l.line_no) = 0 OR s.total <> sum(l.line_total)
"""

SALE_IDS = "SELECT sale_id FROM sales WHERE tenant_id = %(tenant_id)s"

SOLD_PER_PRODUCT = """
SELECT product_id, sum(quantity) AS quantity FROM sale_lines WHERE tenant_id = %(tenant_id)s GROUP BY product_id
"""

LEVELS = "SELECT product_id, quantity FROM stock_levels WHERE tenant_id = %(tenant_id)s AND location_id = %(location)s"


def audit(database_url: str, tenant_id: str, location: str, products: list[str]) -> set[str]:
    """Check the database as its owner (no row-level security in the way); the recorded sale ids."""
    params = {"tenant_id": tenant_id, "location": location}
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        assert conn.execute(HALF_SALES, params).fetchall() == []
        assert conn.execute(BAD_HEADERS, params).fetchall() == []
        sold = {str(r["product_id"]): r["quantity"] for r in conn.execute(SOLD_PER_PRODUCT, params)}
        levels = {str(r["product_id"]): r["quantity"] for r in conn.execute(LEVELS, params)}
        recorded = {str(r["sale_id"]) for r in conn.execute(SALE_IDS, params)}
    # Nothing but sales moved this stock, so each level is the opening stock less what was sold.
    assert levels == {p: OPENING_STOCK - sold.get(p, Decimal(0)) for p in products}
    assert ledger_drift(database_url) == []
    return recorded


def test_sigkill_mid_load_loses_nothing_acknowledged_and_leaves_no_half_sale(databases: Databases) -> None:
    database_url = databases.fresh()
    first = ServerProcess(database_url).start()
    restarted: ServerProcess | None = None
    try:
        shop = new_shop(first.url, database_url)
        products = [shop.product()["id"] for _ in range(4)]
        for product in products:
            shop.receive(product, OPENING_STOCK)
        cashier = shop.key("cashier", shop.store).key

        stop = threading.Event()
        with ThreadPoolExecutor(max_workers=TILLS) as pool:
            futures = [pool.submit(run_till, first.url, cashier, shop.store, products, n, stop) for n in range(TILLS)]
            time.sleep(KILL_AFTER_SECONDS)
            # No shutdown hook runs: transactions in progress die with their connections.
            first.kill()
            stop.set()
            logs = [f.result(timeout=LOAD_SECONDS + 30) for f in futures]

        acknowledged = {k: v for log in logs for k, v in log.acknowledged.items()}
        in_flight = {k: v for log in logs for k, v in log.in_flight.items()}
        assert [u for log in logs for u in log.unexpected] == []
        assert len(acknowledged) >= 10, "the load was too light for the kill to mean anything"
        # Every till was cut off mid-request, so each has exactly one sale of unknown fate.
        assert len(in_flight) == TILLS

        restarted = ServerProcess(database_url).start()
        api = Api(restarted.url, cashier)

        recorded = audit(database_url, shop.tenant_id, shop.store, products)
        for sale_id, answer in acknowledged.items():
            # Acknowledged means durable: the sale is there exactly as the till was told.
            again = api.get(f"/sales/{sale_id}")
            assert again.status_code == 200, (sale_id, again.text)
            assert again.json()["lines"] == answer["lines"]
            assert again.json()["total"] == answer["total"]
        assert set(acknowledged) <= recorded
        # Only sales that some till sent were recorded.
        assert recorded <= set(acknowledged) | set(in_flight)

        for sale_id, body in in_flight.items():
            # All or nothing: the audit above found no partial sale, and the API agrees.
            before = api.get(f"/sales/{sale_id}")
            assert before.status_code == (200 if sale_id in recorded else 404), before.text
            # The till retries after the restart: applied now if it was lost, answered if not.
            retry = api.post("/sales", body)
            assert retry.status_code == (200 if sale_id in recorded else 201), retry.text
            if before.status_code == 200:
                assert retry.json() == before.json()
            # And a second retry is only ever answered.
            assert api.post("/sales", body).status_code == 200
        api.http.close()

        # After the retries every in-flight sale is recorded once, and the books still balance.
        assert audit(database_url, shop.tenant_id, shop.store, products) == recorded | set(in_flight)
    finally:
        first.kill()
        if restarted is not None:
            restarted.stop()
