"""Issue 4's bench: blackout recovery, and the till's scan at the terminal agent.

    python bench/blackout.py [--database-url URL] [--products 10000] [--agents 100] [--sales-per-agent 200]
                             [--batch 100] [--duration 5] [--workers 2]

(a) The raw single-sale rate: run.py's 3-line sale in plain SQL (bench/scripts/sale.pgbench),
    8 pgbench clients, one commit per sale: what the ledger takes when every sale is its own
    transaction.
(b) The backlog of 100 agents after a blackout (200 sales of 3 lines each, 20,000 in all)
    pushed at once, every agent in batches to POST /api/v1/sync/sales on its own connection;
    throughput in sales per second against (a), measured in the same run. Then checked: every
    sale recorded exactly once (counts of sales, lines and movements), levels equal the ledger,
    and a second push of a tenth of the backlog (a till that never heard the answers) is all
    ``duplicate`` and changes nothing.
(c) The terminal agent (``makhzan agent``) loads the catalog from the change feed; the server is
    then stopped and the till's scan is timed at the agent, offline: p50 and p99 over
    sequential scans of random products, HTTP on loopback included, next to the same agent's
    no-op /health timed the same way (the floor HTTP and the machine's load set), and the same
    lookups in process on the agent's SQLite file (the store's own share).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from makhzan.agent import scan, store
from makhzan.api.json import dumps
from makhzan.reconcile import find_drift
from raw import SALE, pgbench_binary, run_pgbench
from report import Metric, render
from run import busy_cpu, postgres_server
from seed import Shop, barcode_of, seeded_database
from server import _free_port, running_server

SALE_CLIENTS = 8
LINES = 3
SCANS = 3000
THROUGHPUT_GOAL = 1.0
SCAN_P99_GOAL_MS = 2.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL server to create the bench database on (superuser); "
                        "default: $MAKHZAN_BENCH_DATABASE_URL, else a throw-away embedded PostgreSQL")
    parser.add_argument("--products", type=int, default=10_000, help="catalog size (default 10,000)")
    parser.add_argument("--agents", type=int, default=100, help="agents pushing at once (default 100)")
    parser.add_argument("--sales-per-agent", type=int, default=200, help="backlog per agent (default 200)")
    parser.add_argument("--batch", type=int, default=100, help="sales per POST /sync/sales (default 100)")
    parser.add_argument("--duration", type=int, default=5, help="seconds of the pgbench baseline (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (default 2)")
    args = parser.parse_args()
    if min(args.products, args.agents, args.sales_per_agent, args.batch, args.duration, args.workers) < 1:
        parser.error("every number must be at least 1")
    if args.products < LINES or args.batch > 500:
        parser.error(f"--products must be at least {LINES}; --batch at most 500")
    return args


# --- (b) the backlog ---------------------------------------------------------------------------


def backlog(shop: Shop, agents: int, per_agent: int, seed: int = 7) -> list[list[dict[str, Any]]]:
    """Each agent's offline sales: 3 distinct products, at the seeded prices (no conflicts)."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=3)
    result = []
    for _ in range(agents):
        sales = []
        for n in range(per_agent):
            products = rng.sample(range(shop.products), LINES)
            sales.append({
                "id": str(uuid.uuid4()), "occurred_at": (start + timedelta(seconds=n * 30)).isoformat(),
                "currency": "USD", "offline": True,
                "lines": [{"barcode": barcode_of(i), "quantity": "1", "price": f"{1 + i % 50}.250"} for i in products],
            })
        result.append(sales)
    return result


async def _push_agent(http: httpx.AsyncClient, sales: list[dict[str, Any]], batch: int,
                      statuses: dict[str, int]) -> None:
    """One agent's push loop: batches in order, retried with full-jitter backoff like the agent's."""
    for start in range(0, len(sales), batch):
        chunk = sales[start:start + batch]
        for attempt in range(20):
            try:
                response = await http.post("/sync/sales", json={"sales": chunk})
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code == 200:
                for result in response.json()["results"]:
                    statuses[result["status"]] = statuses.get(result["status"], 0) + 1
                break
            await asyncio.sleep(random.uniform(0, min(2.0, 0.05 * 2 ** attempt)))
        else:
            raise RuntimeError("a batch was never accepted")


async def push_all(url: str, key: str, agents: list[list[dict[str, Any]]], batch: int) -> tuple[float, dict[str, int]]:
    statuses: dict[str, int] = {}
    clients = [httpx.AsyncClient(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=120)
               for _ in agents]
    try:
        started = time.monotonic()
        await asyncio.gather(*(_push_agent(client, sales, batch, statuses)
                               for client, sales in zip(clients, agents, strict=True)))
        elapsed = time.monotonic() - started
    finally:
        for c in clients:
            await c.aclose()
    return elapsed, statuses


def recorded(shop: Shop) -> dict[str, int]:
    with psycopg.connect(shop.database_url) as conn:
        row = conn.execute(
            """SELECT (SELECT count(*) FROM sales WHERE tenant_id = %(t)s AND offline),
                      (SELECT count(*) FROM sale_lines l JOIN sales s USING (tenant_id, sale_id)
                        WHERE s.tenant_id = %(t)s AND s.offline),
                      (SELECT count(*) FROM stock_movements m JOIN sales s
                         ON s.tenant_id = m.tenant_id AND s.sale_id = m.document_id
                        WHERE s.tenant_id = %(t)s AND s.offline),
                      (SELECT count(*) FROM sync_conflicts WHERE tenant_id = %(t)s)""",
            {"t": shop.tenant_id}).fetchone()
    assert row is not None
    return {"sales": row[0], "lines": row[1], "movements": row[2], "conflicts": row[3]}


# --- (c) the agent -----------------------------------------------------------------------------


def publish_catalog(shop: Shop) -> None:
    """The seeded catalog in the change feed (seed.py's COPY runs with triggers off)."""
    with psycopg.connect(shop.database_url) as conn:
        conn.execute("SELECT note_catalog_changes(%(t)s, 'product', array_agg(product_id::text ORDER BY product_id)) "
                     "FROM products WHERE tenant_id = %(t)s", {"t": shop.tenant_id})
        conn.execute("SELECT note_catalog_changes(%(t)s, 'barcode', array_agg(barcode ORDER BY barcode)) "
                     "FROM product_barcodes WHERE tenant_id = %(t)s", {"t": shop.tenant_id})


def start_agent(central_url: str, key: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [sys.executable, "-c", "from makhzan.cli import main; main()", "agent", "--central", central_url,
               "--key", key, "--port", str(port), "--data", str(data_dir)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                               env={**os.environ, "MAKHZAN_AGENT_BACKOFF_MAX": "2"})
    return process, f"http://127.0.0.1:{port}"


def wait_status(url: str, check: Any, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status: dict[str, Any] = httpx.get(f"{url}/agent/status", timeout=2).json()
            if check(status):
                return status
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the agent never got there: {url}")


def time_requests(url: str, paths: list[str]) -> list[float]:
    """Sequential scans on one kept-alive connection, as a POS program makes them.

    http.client rather than httpx: the client's own cost is part of every figure, and the
    standard library's is the smaller (a POS program in C# or Java has less still).
    """
    latencies = []
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=5)
    try:
        for n, path in enumerate([*paths[:200], *paths]):  # the first 200: warm-up, not counted
            started = time.perf_counter()
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            if n >= 200:
                latencies.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                raise RuntimeError(f"{path}: {response.status} {body[:300]!r}")
    finally:
        connection.close()
    return latencies


def time_lookups(data_dir: Path, codes: list[str]) -> list[float]:
    """What the scan route does, without HTTP: the agent's own store, read beside the running agent."""
    conn = store.open_store(data_dir)
    rules = scan.RuleCache()
    latencies = []
    try:
        for n, code in enumerate([*codes[:200], *codes]):
            started = time.perf_counter()
            dumps(scan.scan_answer(conn, code, rules, None))
            if n >= 200:
                latencies.append((time.perf_counter() - started) * 1000)
    finally:
        conn.close()
    return latencies


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    args = parse_args()
    pgbench = pgbench_binary()
    total = args.agents * args.sales_per_agent
    throughput = Metric(f"sync {total:,} sales x {LINES} lines, {args.agents} agents (vs 1 commit/sale SQL)", "/s",
                        "ratio", THROUGHPUT_GOAL, at_most=False)
    scan_p50 = Metric("agent scan p50, offline (vs its /health)", "ms", "value", None, at_most=True)
    scan_p99 = Metric("agent scan p99, offline (vs its /health)", "ms", "value", SCAN_P99_GOAL_MS, at_most=True)
    lookup_p99 = Metric("agent scan p99 in process, no HTTP (vs /health)", "ms", "value", None, at_most=True)
    with postgres_server(args.database_url) as base_url, \
            seeded_database(base_url, "blackout", args.products) as shop:
        publish_catalog(shop)
        data_dir = Path(tempfile.mkdtemp(prefix="makhzan-bench-agent-"))
        agent: subprocess.Popen[bytes] | None = None
        try:
            with running_server(shop.database_url, workers=args.workers) as url:
                busy = busy_cpu()
                print(f"CPU busy before the run: {busy:.0%}"
                      + ("  WARNING: the machine is busy, figures will be low and noisy" if busy > 0.2 else ""),
                      flush=True)
                raw = run_pgbench(pgbench, shop, SALE, clients=SALE_CLIENTS, duration=args.duration)
                print(f"  raw 3-line sale, {SALE_CLIENTS} clients: {raw.transactions_per_second:,.0f} tps, "
                      f"{raw.failed} failed", flush=True)
                agents = backlog(shop, args.agents, args.sales_per_agent)
                before = recorded(shop)
                elapsed, statuses = asyncio.run(push_all(url, shop.cashier_key, agents, args.batch))
                rate = total / elapsed
                after = recorded(shop)
                print(f"  pushed {total:,} sales in {elapsed:.2f} s: {rate:,.0f} sales/s, {statuses}", flush=True)
                # A tenth of the agents never heard their answers and push everything again.
                again = agents[: max(1, args.agents // 10)]
                _, replay = asyncio.run(push_all(url, shop.cashier_key, again, args.batch))
                final = recorded(shop)
                drift = len(find_drift(shop.database_url))
                expected = {"sales": total, "lines": total * LINES, "movements": total * LINES}
                got = {k: final[k] - before[k] for k in expected}
                errors = (statuses.get("applied", 0) != total) + (got != expected) + (final != after) \
                    + (replay.get("duplicate", 0) != sum(map(len, again))) + (drift != 0) + raw.failed
                print(f"  exactly once: recorded {got} (expected {expected}); replay of "
                      f"{sum(map(len, again)):,} sales: {replay}; levels off the ledger: {drift}; "
                      f"conflicts: {final['conflicts']}", flush=True)
                throughput.add(rate, raw.transactions_per_second, errors)

                agent, agent_url = start_agent(url, shop.cashier_key, data_dir)
                started = time.monotonic()
                wait_status(agent_url, lambda s: s["products"] == args.products and s["last_sync_at"])
                print(f"  agent loaded {args.products:,} products in {time.monotonic() - started:.2f} s "
                      "(process start included)", flush=True)
            # The server is stopped: the agent answers from its own store.
            wait_status(agent_url, lambda s: not s["online"])
            rng = random.Random(11)
            scans = time_requests(agent_url, [f"/api/v1/scan/{barcode_of(rng.randrange(args.products))}"
                                              for _ in range(SCANS)])
            # The same agent's no-op route: the floor that HTTP and this machine's load set.
            floor = time_requests(agent_url, ["/health"] * SCANS)
            p50, p99 = statistics.median(scans), percentile(scans, 0.99)
            print(f"  agent scans offline: p50 {p50:.3f} ms, p99 {p99:.3f} ms over {SCANS:,}; /health p50 "
                  f"{statistics.median(floor):.3f} ms, p99 {percentile(floor, 0.99):.3f} ms", flush=True)
            scan_p50.add(p50, statistics.median(floor))
            scan_p99.add(p99, percentile(floor, 0.99))
            lookups = time_lookups(data_dir, [barcode_of(rng.randrange(args.products)) for _ in range(SCANS)])
            lookup_p99.add(percentile(lookups, 0.99), percentile(floor, 0.99))
            print(f"  the same lookups in process (SQLite, no HTTP): p50 {statistics.median(lookups):.3f} ms, "
                  f"p99 {percentile(lookups, 0.99):.3f} ms", flush=True)
        finally:
            if agent is not None and agent.poll() is None:
                os.killpg(agent.pid, signal.SIGTERM)
                agent.wait(20)
    metrics = [throughput, scan_p50, scan_p99, lookup_p99]
    print(f"\n{render(metrics)}")
    if not all(m.passed for m in metrics):
        sys.exit(1)


if __name__ == "__main__":
    main()
