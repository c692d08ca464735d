"""Many tills at once, over real HTTP against one server process on a real PostgreSQL.

What DESIGN.md promises under contention: no oversell (the conditional UPDATE), no deadlock
between baskets (locks taken in a fixed order, deadlocks retried inside the server), a retried
sale applied exactly once (the client id is a unique key), and levels that always equal the
ledger. Each client is a thread with its own HTTP connection, so requests really overlap in
the server and in PostgreSQL. Every loop is bounded by a request count and a deadline.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from tests.support import Shop, ean13, ledger_drift

T = TypeVar("T")

# Wall-clock budget of one load phase; the suite must stay well under a minute per file.
PHASE_SECONDS = 20.0


def client(shop: Shop, key: str) -> httpx.Client:
    """One connection per simulated till: sharing a client would serialise the requests."""
    return httpx.Client(base_url=f"{shop.server_url}/api/v1", headers={"Authorization": f"Bearer {key}"},
                        timeout=30)


def run_clients(count: int, work: Callable[[int, threading.Barrier, float], T]) -> list[T]:
    """Run ``work(n, barrier, deadline)`` in ``count`` threads that start together."""
    # The barrier releases every client at once so that the first requests really collide.
    barrier = threading.Barrier(count, timeout=30)
    deadline = time.monotonic() + PHASE_SECONDS
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(work, n, barrier, deadline) for n in range(count)]
        return [f.result(timeout=PHASE_SECONDS + 30) for f in futures]


def sale_body(location: str, *lines: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "location_id": location, "lines": list(lines)}


def assert_not_server_error(response: httpx.Response) -> None:
    # A 5xx here means a deadlock, serialization failure or pool timeout leaked to a client.
    assert response.status_code < 500, (response.status_code, response.text)


def gtin14(ean: str) -> str:
    from stdnum import ean as gs1

    body = "1" + ean[:12]
    return body + gs1.calc_check_digit(body)


def test_last_units_are_sold_exactly_once(shop: Shop, app_database: str) -> None:
    product = shop.product()
    shop.receive(product["id"], "20")
    key = shop.key("cashier", shop.store).key
    sales_per_client = 3
    watching = threading.Event()
    seen_levels: list[Decimal] = []

    def watch_level() -> None:
        # Reads the level while the tills race: it must never be seen below zero.
        with client(shop, shop.admin.key) as http:
            for _ in range(500):
                if watching.wait(0.01):
                    return
                rows = http.get(f"/stock?product_id={product['id']}&location_id={shop.store}").json()["levels"]
                seen_levels.append(Decimal(rows[0]["quantity"]))

    def till(n: int, barrier: threading.Barrier, deadline: float) -> list[tuple[int, dict[str, Any]]]:
        results = []
        with client(shop, key) as http:
            barrier.wait()
            for _ in range(sales_per_client):
                assert time.monotonic() < deadline, "load phase overran its time budget"
                body = sale_body(shop.store, {"product_id": product["id"], "quantity": "1"})
                response = http.post("/sales", json=body)
                assert_not_server_error(response)
                results.append((response.status_code, response.json()))
        return results

    watcher = threading.Thread(target=watch_level)
    watcher.start()
    try:
        outcomes = [r for per_client in run_clients(32, till) for r in per_client]
    finally:
        watching.set()
        watcher.join(30)

    statuses = Counter(status for status, _ in outcomes)
    assert statuses == {201: 20, 409: 32 * sales_per_client - 20}, statuses
    for status, body in outcomes:
        if status == 409:
            assert body["error"]["code"] == "insufficient_stock"
            [line] = body["error"]["details"]["lines"]
            assert line["requested"] == "1.000" and Decimal(line["available"]) < 1
    # Each successful sale left a distinct level behind: 19, 18, ..., 0, each exactly once.
    afters = sorted(Decimal(body["lines"][0]["stock_after"]) for status, body in outcomes if status == 201)
    assert afters == [Decimal(n) for n in range(20)]
    assert seen_levels and min(seen_levels) >= 0
    assert shop.level(product["id"]) == Decimal("0")
    assert ledger_drift(app_database) == []


def test_random_baskets_never_deadlock_and_stock_adds_up(shop: Shop, app_database: str) -> None:
    initial = Decimal("100000")
    products = []
    for _ in range(8):
        unit = ean13()
        product = shop.product(barcodes=[{"barcode": unit}, {"barcode": gtin14(unit), "factor": "6", "unit": "case"}])
        shop.receive(product["id"], initial)
        products.append({"id": product["id"], "unit": unit, "case": gtin14(unit)})
    key = shop.key("cashier", shop.store).key
    baskets_per_client = 12

    def random_line(rng: random.Random, product: dict[str, str]) -> tuple[dict[str, Any], Decimal]:
        """A basket line in one of its three spellings, and what it takes in base units."""
        how = rng.choice(("unit", "case", "id"))
        if how == "id":
            quantity = Decimal(rng.randint(1, 4000)) / 1000
            return {"product_id": product["id"], "quantity": str(quantity)}, quantity
        scans = rng.randint(1, 3)
        factor = 6 if how == "case" else 1
        return {"barcode": product[how], "quantity": scans}, Decimal(scans * factor)

    def till(n: int, barrier: threading.Barrier, deadline: float) -> dict[str, Decimal]:
        # Seeded per client so that a failure can be replayed.
        rng = random.Random(n)
        sold: dict[str, Decimal] = defaultdict(Decimal)
        with client(shop, key) as http:
            barrier.wait()
            for _ in range(baskets_per_client):
                assert time.monotonic() < deadline, "load phase overran its time budget"
                # Random order and repeats: the server must sort its locks whatever we send.
                chosen = [rng.choice(products) for _ in range(rng.randint(3, 6))]
                lines = [random_line(rng, p) for p in chosen]
                response = http.post("/sales", json=sale_body(shop.store, *(line for line, _ in lines)))
                assert_not_server_error(response)
                assert response.status_code == 201, response.text
                recorded = response.json()["lines"]
                for (_, expected), product, line in zip(lines, chosen, recorded, strict=True):
                    assert line["product_id"] == product["id"]
                    assert Decimal(line["quantity"]) == expected
                    sold[product["id"]] += Decimal(line["quantity"])
        return sold

    total_sold: dict[str, Decimal] = defaultdict(Decimal)
    for sold in run_clients(16, till):
        for product_id, quantity in sold.items():
            total_sold[product_id] += quantity
    # Exact: the level moved by precisely what the acknowledged lines say, not "about".
    for product in products:
        assert shop.level(product["id"]) == initial - total_sold[product["id"]]
    assert ledger_drift(app_database) == []


def test_same_sale_sent_at_once_is_applied_once(shop: Shop, app_database: str) -> None:
    product = shop.product(price="2.500")
    shop.receive(product["id"], "100")
    key = shop.key("cashier", shop.store).key
    rounds, copies = 5, 8
    clients = [client(shop, key) for _ in range(copies)]
    try:
        for round_no in range(rounds):
            body = sale_body(shop.store, {"product_id": product["id"], "quantity": "3"})

            # body bound as a default: a closure in a loop would see only the last round's sale.
            def send(n: int, barrier: threading.Barrier, deadline: float,
                     body: dict[str, Any] = body) -> httpx.Response:
                barrier.wait()
                return clients[n].post("/sales", json=body)

            responses = run_clients(copies, send)
            for response in responses:
                assert_not_server_error(response)
            statuses = Counter(r.status_code for r in responses)
            assert statuses == {201: 1, 200: copies - 1}, statuses
            [first] = [r.json() for r in responses if r.status_code == 201]
            # A replay answers with the sale as recorded: the same document, field for field.
            for replay in (r.json() for r in responses if r.status_code == 200):
                assert replay == first
            assert shop.level(product["id"]) == Decimal(100 - 3 * (round_no + 1))
    finally:
        for http in clients:
            http.close()
    movements = shop.admin.ok("GET", f"/products/{product['id']}/movements")["movements"]
    assert [m["kind"] for m in movements].count("sale") == rounds
    assert ledger_drift(app_database) == []


def test_receipts_sales_transfers_and_counts_together(shop: Shop, app_database: str) -> None:
    products = [shop.product()["id"] for _ in range(3)]
    for product in products:
        shop.receive(product, "50")
    manager = shop.key("manager").key
    cashier = shop.key("cashier", shop.store).key
    operations_per_client = 15
    places = (shop.store, shop.warehouse)

    def shuffled(rng: random.Random) -> list[str]:
        # Several products per document, in a random order, to tempt a lock-order deadlock.
        return rng.sample(products, k=rng.randint(1, len(products)))

    def worker(n: int, barrier: threading.Barrier, deadline: float) -> list[tuple[str, int, dict[str, Any]]]:
        rng = random.Random(1000 + n)
        role = ("receipt", "sale", "count", "transfer")[n % 4]
        results = []
        with client(shop, cashier if role == "sale" else manager) as http:
            barrier.wait()
            for _ in range(operations_per_client):
                assert time.monotonic() < deadline, "load phase overran its time budget"
                ident = str(uuid.uuid4())
                if role == "receipt":
                    path, body = "/receipts", {"id": ident, "location_id": rng.choice(places), "lines": [
                        {"product_id": p, "quantity": str(rng.randint(1, 5))} for p in shuffled(rng)]}
                elif role == "sale":
                    path, body = "/sales", {"id": ident, "location_id": shop.store, "lines": [
                        {"product_id": p, "quantity": str(rng.randint(1, 4))} for p in shuffled(rng)]}
                elif role == "count":
                    path, body = "/counts", {"id": ident, "location_id": rng.choice(places), "lines": [
                        {"product_id": p, "counted": str(rng.randint(0, 40))} for p in shuffled(rng)]}
                else:
                    source, destination = rng.sample(places, 2)
                    path, body = "/transfers", {"id": ident, "from_location_id": source,
                                                "to_location_id": destination, "lines": [
                                                    {"product_id": p, "quantity": str(rng.randint(1, 3))}
                                                    for p in shuffled(rng)]}
                response = http.post(path, json=body)
                assert_not_server_error(response)
                results.append((role, response.status_code, response.json()))
        return results

    outcomes = [r for per_client in run_clients(12, worker) for r in per_client]
    for role, status, body in outcomes:
        if role in ("sale", "transfer") and status == 409:
            # Counts may empty the shelf under a till: refusals are expected, but only this one.
            assert body["error"]["code"] == "insufficient_stock"
        else:
            assert status == 201, (role, status, body)
        if role == "count" and status == 201:
            # The counted level is what the count set, whatever sold meanwhile.
            assert all(Decimal(ln["quantity_after"]) == Decimal(ln["quantity"]) for ln in body["lines"])
        if role == "sale" and status == 201:
            assert all(Decimal(ln["stock_after"]) >= 0 for ln in body["lines"])
    assert Counter(role for role, status, _ in outcomes if status == 201)["count"] == 3 * operations_per_client
    levels = shop.admin.ok("GET", "/stock")["levels"]
    assert levels and all(Decimal(row["quantity"]) >= 0 for row in levels)
    assert ledger_drift(app_database) == []
