"""Issue 3's bench: the low-stock report over N stock rows, and the sale's cost of low-stock alerting.

    python bench/alerts.py [--database-url URL] [--products 1000000] [--duration 10] [--runs 3] [--workers 2]

(a) One tenant, N products and levels, thresholds set so ~3 % of the levels are low: the
    report's plan (EXPLAIN (ANALYZE, BUFFERS)) and its time through ``reports.low_stock``.
(b) The 3-line sale over HTTP (8 clients, wrk, as run.py's "sale" line) with alerting off
    (every threshold 0: no sale can cross) and on (every threshold one below the level: each
    product's next sale crosses), with an active webhook to a loopback receiver so the outbox
    and the delivery worker run too. Each window also shows the CPU per sale of the API
    server's processes and of the database's backends on the bench database: on a busy machine
    the rates swing with the neighbours, the CPU per sale much less. See bench/README.md.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from aiohttp import web

from makhzan import reports, webhooks
from makhzan.db import open_pool, run_in_transaction, run_read
from makhzan.queries import Q
from run import busy_cpu, check_ledger, parse_args, postgres_server
from seed import Shop, seeded_database
from server import running_server
from wrk import HttpResult, run_wrk, wrk_binary

REPORT_GOAL_S = 0.5
RATIO_GOAL = 0.9
SALE_CLIENTS = 8
# The report's default page (GET /reports/low-stock?limit=1000).
REPORT_LIMIT = 1000
# Timings of the report per run; the table shows the median of all of them.
REPORT_REPEATS = 5
WARM_UP_SECONDS = 2
# The "on" windows: the share of products armed to cross on their next sale. 1.0 is the worst
# case (nearly every sale line raises an alert and a webhook); 0.03 matches the report's ~3 % low.
MODES = {"off": 0.0, "on 100%": 1.0, "on 3%": 0.03}
# Product i's index, from its id (seed.product_id_of: last group is 100000000000 + i).
INDEX = "(right(product_id::text, 12)::bigint - 100000000000)"


# --- the webhook receiver --------------------------------------------------------------------------


class _Receiver:
    """Counts the webhooks received (read by the windows while the receiver's thread writes)."""

    received = 0


@contextmanager
def webhook_receiver() -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that answers every POST 200 at once; yields its URL.

    aiohttp in a thread of its own: a receiver stands for another system, so its CPU on this
    machine is the bench's artefact, and an asyncio server spends a fraction of what a
    thread-per-connection one does (keep-alive, as a real receiver behind any web server).
    """
    loop = asyncio.new_event_loop()
    state: dict[str, Any] = {}

    async def receive(request: web.Request) -> web.Response:
        await request.read()
        _Receiver.received += 1
        return web.Response(status=200)

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", receive)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state["runner"] = runner
        state["port"] = runner.addresses[0][1]

    thread = threading.Thread(target=loop.run_forever, name="webhook-receiver", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(serve(), loop).result(30)
    try:
        yield f"http://127.0.0.1:{state['port']}/makhzan"
    finally:
        asyncio.run_coroutine_threadsafe(state["runner"].cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def register_webhook(shop: Shop, url: str) -> None:
    """One active low_stock webhook, through the domain code the API uses."""

    async def work() -> None:
        pool = open_pool(shop.database_url, 1, 2)
        await pool.open(wait=True)
        try:
            await run_in_transaction(pool, UUID(shop.tenant_id), lambda conn: webhooks.create_webhook(
                conn, UUID(shop.tenant_id), url=url, secret="bench-secret-0123456789", events=["low_stock"]))
        finally:
            await pool.close()

    asyncio.run(work())


# --- (a) the report ------------------------------------------------------------------------------


def set_report_data(shop: Shop) -> tuple[int, int]:
    """Realistic levels and thresholds: ~3 % of the levels at or below their threshold.

    Thresholds 5..50 by product; the low levels (every 33rd product) hold 1..threshold (the ledger
    has no zero movement), the
    others 100..9,999. The opening receipt's ledger rows are set to the same quantities, so the
    ledger still matches the levels. Returns (levels, low levels).
    """
    with psycopg.connect(shop.database_url, autocommit=True) as conn:
        conn.execute(f"UPDATE products SET low_stock_threshold = 5 + {INDEX} % 46")
        conn.execute(f"""UPDATE stock_levels SET quantity = CASE WHEN {INDEX} % 33 = 0
                                 THEN 1 + ({INDEX} / 33) % (5 + {INDEX} % 46)
                                 ELSE 100 + ({INDEX} * 7919) % 9900 END""")
        _copy_levels_to_ledger(conn)
        conn.execute("VACUUM (ANALYZE) products, stock_levels, stock_movements")
        levels, low = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE s.quantity <= p.low_stock_threshold) FROM stock_levels s"
            " JOIN products p USING (tenant_id, product_id)").fetchone()  # type: ignore[misc]
    return int(levels), int(low)


def _copy_levels_to_ledger(conn: psycopg.Connection[Any]) -> None:
    """The opening receipt becomes each level's quantity (only called before any sale).

    The ledger is append-only (a trigger); like seed.py's COPY, this rewrites the bench's own
    opening stock with triggers off (session_replication_role = replica, as the superuser).
    """
    conn.execute("SET session_replication_role = replica")
    conn.execute("UPDATE stock_movements m SET delta = s.quantity FROM stock_levels s"
                 " WHERE m.tenant_id = s.tenant_id AND m.product_id = s.product_id"
                 " AND m.location_id = s.location_id AND m.kind = 'receipt' AND m.delta <> s.quantity")
    conn.execute("RESET session_replication_role")


def measure_report(shop: Shop, repeats: int) -> tuple[list[float], int, str]:
    """``reports.low_stock`` on a pooled, tenant-scoped makhzan_app connection, as the endpoint
    runs it: one discarded call, then ``repeats`` timed ones; then the plan of one more."""
    tenant = UUID(shop.tenant_id)
    params = {"tenant_id": tenant, "location_id": None, "limit": REPORT_LIMIT}

    async def work() -> tuple[list[float], int, str]:
        pool = open_pool(shop.database_url, 1, 2)
        await pool.open(wait=True)
        try:
            await run_read(pool, tenant, lambda conn: reports.low_stock(conn, tenant, None, REPORT_LIMIT))
            times, rows = [], 0
            for _ in range(repeats):
                started = time.perf_counter()
                result = await run_read(pool, tenant, lambda conn: reports.low_stock(conn, tenant, None,
                                                                                     REPORT_LIMIT))
                times.append(time.perf_counter() - started)
                rows = len(result)

            async def explain(conn: Any) -> str:
                cur = await conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + Q.low_stock_report, params)
                return "\n".join(row["QUERY PLAN"] for row in await cur.fetchall())

            plan = await run_read(pool, tenant, explain)
            return times, rows, plan
        finally:
            await pool.close()

    return asyncio.run(work())


# --- (b) sales with alerting off and on ------------------------------------------------------------


def reset_for_sales(shop: Shop) -> None:
    """Back to the core bench's stock (100,000,000 a level) so no sale is refused; ledger kept equal."""
    with psycopg.connect(shop.database_url, autocommit=True) as conn:
        conn.execute("UPDATE stock_levels SET quantity = 100000000")
        _copy_levels_to_ledger(conn)
        conn.execute("VACUUM (ANALYZE) stock_levels, stock_movements")


def set_alerting(shop: Shop, armed: float) -> None:
    """``armed`` 0: every threshold 0, no sale can cross. Otherwise that share of the products
    (by index) gets a threshold one below its level, so its next sale crosses it (once: they are
    re-armed before every window), and the rest 0."""
    percent = round(armed * 100)
    p_index = INDEX.replace("product_id", "p.product_id")
    with psycopg.connect(shop.database_url, autocommit=True) as conn:
        conn.execute(f"""UPDATE products p SET low_stock_threshold = CASE WHEN {p_index} % 100 < {percent:d}
                                 THEN s.quantity - 1 ELSE 0 END
                         FROM stock_levels s WHERE s.tenant_id = p.tenant_id AND s.product_id = p.product_id""")
        conn.execute("VACUUM (ANALYZE) products")


def _counts(shop: Shop) -> tuple[int, int, int]:
    """(alerts, outbox rows, outbox rows not yet delivered)."""
    with psycopg.connect(shop.database_url) as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM alerts), (SELECT count(*) FROM webhook_deliveries),"
                           " (SELECT count(*) FROM webhook_deliveries WHERE delivered_at IS NULL"
                           "   AND next_attempt_at < 'infinity')").fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def _park_backlog(shop: Shop) -> None:
    """Set the undelivered outbox aside (due at 'infinity': never claimed), so a backlog left by
    one window costs the next window nothing. Rows a worker holds leased finish normally."""
    with psycopg.connect(shop.database_url, autocommit=True) as conn:
        conn.execute("UPDATE webhook_deliveries SET next_attempt_at = 'infinity'"
                     " WHERE delivered_at IS NULL AND next_attempt_at <= now()")
    time.sleep(1)  # the leased rows' sends


def _cpu_seconds(pids: set[int]) -> float:
    """User + system CPU the live processes among ``pids`` have used so far."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone since
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def _server_pids(url: str) -> set[int]:
    """The API server's processes: the uvicorn started on ``url``'s port and its process group."""
    port = url.rsplit(":", 1)[1].encode()
    leaders = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"--port\0" + port + b"\0" in (entry / "cmdline").read_bytes():
                    leaders.add(int(entry.name))
            except OSError:
                continue
    group = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rpartition(")")[2].split()[2]) in leaders:
                    group.add(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return group


def _backend_pids(shop: Shop) -> set[int]:
    """The database's server processes serving the bench database (the API's pool among them)."""
    with psycopg.connect(shop.database_url) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                            " AND pid <> pg_backend_pid()").fetchall()
    return {int(r[0]) for r in rows}


def sale_window(wrk: str, url: str, shop: Shop, armed: float, duration: int) -> dict[str, Any]:
    set_alerting(shop, armed)
    alerts0, outbox0, _ = _counts(shop)
    received0 = _Receiver.received
    # CPU per sale is what alerting adds, whatever else the machine runs: on a busy machine the
    # rates below swing with the neighbours, these much less.
    server, backends = _server_pids(url), _backend_pids(shop)
    cpu0 = (_cpu_seconds(server), _cpu_seconds(backends))
    result: HttpResult = run_wrk(wrk, url, shop, mode="sale", connections=SALE_CLIENTS, duration=duration)
    backends |= _backend_pids(shop)  # the pool may have grown
    server_cpu, db_cpu = _cpu_seconds(server) - cpu0[0], _cpu_seconds(backends) - cpu0[1]
    alerts1, outbox1, pending = _counts(shop)
    received = _Receiver.received - received0
    _park_backlog(shop)
    sales = max(result.requests_per_second * duration, 1)
    return {"armed": armed, "result": result, "alerts": alerts1 - alerts0, "outbox": outbox1 - outbox0,
            "received": received, "pending_at_end": pending,
            "server_ms": server_cpu * 1000 / sales, "db_ms": db_cpu * 1000 / sales}


def _line(name: str, w: dict[str, Any]) -> str:
    r: HttpResult = w["result"]
    return (f"    {name:<7} {r.requests_per_second:,.0f} sales/s, p50 {r.p50_ms:.2f} ms, {r.errors} errors; "
            f"{w['alerts']:,} alerts, {w['outbox']:,} outbox rows, {w['received']:,} webhooks received, "
            f"{w['pending_at_end']:,} undelivered at the end; CPU per sale: server {w['server_ms']:.2f} ms, "
            f"database {w['db_ms']:.2f} ms")


# --- main --------------------------------------------------------------------------------------------


def main() -> None:
    args = parse_args(__doc__)
    wrk = wrk_binary()
    with ExitStack() as stack:
        base_url = stack.enter_context(postgres_server(args.database_url))
        print(f"seeding {args.products:,} products (COPY)", flush=True)
        shop = stack.enter_context(seeded_database(base_url, "alerts", args.products))

        # (a) the report
        started = time.monotonic()
        levels, low = set_report_data(shop)
        print(f"report data: {low:,} of {levels:,} levels low ({low / levels:.1%}), set in "
              f"{time.monotonic() - started:.1f} s", flush=True)
        times, rows, plan = measure_report(shop, REPORT_REPEATS * args.runs)
        report_s = statistics.median(times)
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) low_stock_report, limit {REPORT_LIMIT}:\n{plan}\n", flush=True)
        print(f"report: {rows:,} rows, median {report_s * 1000:.1f} ms of {len(times)} "
              f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}); goal <= {REPORT_GOAL_S} s", flush=True)

        # (b) sales
        reset_for_sales(shop)
        hook = stack.enter_context(webhook_receiver())
        register_webhook(shop, hook)
        url = stack.enter_context(running_server(shop.database_url, workers=args.workers))
        print(f"warm-up ({WARM_UP_SECONDS} s per mode, discarded)", flush=True)
        for armed in MODES.values():
            sale_window(wrk, url, shop, armed, WARM_UP_SECONDS)
        windows: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
        for n in range(1, args.runs + 1):
            busy = busy_cpu()
            warning = "  WARNING: the machine is busy, figures will be low and noisy" if busy > 0.2 else ""
            print(f"run {n}/{args.runs} ({args.duration} s per mode; CPU busy before it: {busy:.0%}){warning}",
                  flush=True)
            # Alternate the order, so a drift over the run does not favour one side.
            for mode in (list(MODES) if n % 2 else list(reversed(MODES))):
                window = sale_window(wrk, url, shop, MODES[mode], args.duration)
                windows[mode].append(window)
                print(_line(mode, window), flush=True)
        ledger = check_ledger(shop.database_url)

    def rate(mode: str) -> float:
        return statistics.median(w["result"].requests_per_second for w in windows[mode])

    def ratio(mode: str) -> float:
        return statistics.median(on["result"].requests_per_second / off["result"].requests_per_second
                                 for on, off in zip(windows[mode], windows["off"], strict=True))

    def cpu_ratio(mode: str) -> float:
        # What the throughput ratio would be if CPU were all that limits it, from the medians.
        def per_sale(m: str) -> float:
            return statistics.median(w["server_ms"] + w["db_ms"] for w in windows[m])
        return per_sale("off") / per_sale(mode)

    errors = sum(w["result"].errors for ws in windows.values() for w in ws)
    drift = ledger["levels_off_ledger"]
    report_ok = report_s <= REPORT_GOAL_S
    print(f"\nalerting bench: {args.products:,} products, {args.duration} s x {args.runs} runs, "
          f"{SALE_CLIENTS} clients, {args.workers} workers, 1 webhook (loopback)")
    print(f"{'metric':<50} {'value':>12}  goal")
    print(f"{f'low-stock report ({low:,} of {levels:,} levels low)':<50} {report_s * 1000:>9.1f} ms  "
          f"<= {REPORT_GOAL_S * 1000:.0f} ms  {'PASS' if report_ok else 'FAIL'}")
    print(f"{'sales/s, alerting off (thresholds 0)':<50} {rate('off'):>12,.0f}")
    passed = report_ok and not errors and not drift
    for mode, armed in MODES.items():
        if not armed:
            continue
        ws = windows[mode]
        sales = sum(w["result"].requests_per_second * args.duration for w in ws)
        alerts = sum(w["alerts"] for w in ws)
        received = sum(w["received"] for w in ws)
        ok = ratio(mode) >= RATIO_GOAL
        passed = passed and ok
        print(f"{f'sales/s, {mode} of products armed':<50} {rate(mode):>12,.0f}")
        print(f"{f'  alerts written ({alerts / max(sales, 1):.2f}/sale); webhooks recv.':<50} "
              f"{f'{alerts:,}; {received:,}':>12}")
        print(f"{f'  {mode} / off':<50} {ratio(mode):>12.3f}  >= {RATIO_GOAL}    {'PASS' if ok else 'FAIL'}")
        print(f"{f'  CPU per sale, off / {mode} (server + database)':<50} {cpu_ratio(mode):>12.3f}  (informative)")
    print(f"{'HTTP errors; levels off the ledger':<50} {f'{errors}; {drift}':>12}")
    if not passed:
        sys.exit(1)


if __name__ == "__main__":
    main()
