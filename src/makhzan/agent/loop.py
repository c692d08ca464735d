"""The agent's background loop: pull the catalog, push the outbox, refresh the stock.

While central answers, a round runs every ``poll_seconds``. When it does not, the loop waits
with exponential backoff and full jitter (a random delay between zero and the capped
exponential): after a city-wide blackout hundreds of tills come back in the same second, and
jitter spreads their first pushes instead of having them retry in lockstep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from makhzan.agent import catalog_sync, outbox, store
from makhzan.agent.central import Central, CentralUnavailable

log = logging.getLogger("makhzan.agent")


@dataclass
class LoopSettings:
    poll_seconds: float = 1.0
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    batch_size: int = 200
    catalog_page: int = 5000
    stock_seconds: float = 30.0
    stock_page: int = 1000
    # How long the answer to a sale is kept for a POS program's retry.
    keep_answers: timedelta = timedelta(days=7)


@dataclass
class AgentState:
    """What /agent/status reports and the sale route consults."""

    online: bool = False
    last_error: str | None = None
    # monotonic time of the last failure to reach central; sales skip forwarding shortly after.
    failed_at: float | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # The end of the last round that reached central (also kept in the store, less often).
    last_sync_at: str | None = None
    # What central answered for the outbox since this process started.
    synced: dict[str, int] = field(default_factory=lambda: {"applied": 0, "duplicate": 0, "rejected": 0})

    def mark_online(self) -> None:
        self.online, self.last_error, self.failed_at = True, None, None

    def mark_offline(self, error: str) -> None:
        self.online, self.last_error, self.failed_at = False, error, time.monotonic()


def backoff_delay(failures: int, base: float, cap: float) -> float:
    """Full jitter: uniform between 0 and min(cap, base * 2^failures)."""
    return random.uniform(0, min(cap, base * 2 ** min(failures, 32)))


async def pull_catalog(conn: sqlite3.Connection, central: Central, page: int) -> int:
    """Every page since the stored cursor; the next page is fetched while this one is written."""
    applied = 0
    since = await asyncio.to_thread(catalog_sync.cursor, conn)
    feed = await central.catalog_changes(since, page)
    while True:
        changes = feed.get("changes") or []
        next_cursor = str(feed.get("next_cursor") or since)
        more = bool(feed.get("more")) and bool(changes)
        fetch = asyncio.ensure_future(central.catalog_changes(next_cursor, page)) if more else None
        try:
            if changes or next_cursor != since:
                applied += await asyncio.to_thread(catalog_sync.apply_page, conn, changes, next_cursor)
        except BaseException:
            if fetch is not None:
                fetch.cancel()
            raise
        if fetch is None:
            return applied
        since, feed = next_cursor, await fetch


async def push_outbox(conn: sqlite3.Connection, central: Central, batch_size: int,
                      totals: dict[str, int]) -> dict[str, int]:
    """Send the outbox in batches until it is empty; a sale leaves only on central's word.

    ``totals`` is counted up as batches are acknowledged, so a round cut short still tells.
    """
    size = batch_size
    while True:
        batch = await asyncio.to_thread(outbox.next_batch, conn, size)
        if not batch:
            return totals
        reply = await central.sync_sales(batch)
        if reply.status != 200:
            # The envelope itself was refused (it should never be): find the sale that does it by
            # halving the batch; one refused on its own is set aside, never dropped.
            if len(batch) == 1:
                error = {"code": f"http_{reply.status}", "message": reply.body[:500].decode("utf-8", "replace")}
                await asyncio.to_thread(outbox.reject_alone, conn, str(batch[0]["id"]), error)
                totals["rejected"] += 1
                log.error("central refused sale %s on its own: %s", batch[0]["id"], error)
            size = max(1, len(batch) // 2)
            continue
        results = reply.json().get("results") or []
        done = await asyncio.to_thread(outbox.acknowledge, conn, results)
        for status, n in done.items():
            totals[status] += n
        if done["rejected"]:
            log.error("central rejected %d offline sale(s); kept in dead_letters", done["rejected"])
        if sum(done.values()) == 0:
            # Central answered but acknowledged nothing we sent: do not spin on it.
            raise CentralUnavailable("central acknowledged none of the batch")
        size = batch_size


async def pull_stock(conn: sqlite3.Connection, central: Central, page: int) -> int:
    """The live levels of the key's location, as one consistent replacement of the estimate."""
    levels: list[tuple[str, Decimal]] = []
    # A terminal's key is bound to its location and central lists only that one. A key that is
    # not (a set-up mistake) lists every location: the till then shows its known one, or the first.
    location = await asyncio.to_thread(store.get_meta, conn, "location_id")
    if location is None:
        # Asked once: the key's location, so that the till knows its store before its first sale.
        location = (await central.whoami()).get("location_id")
    after_sku, after_location = "", None
    while True:
        rows = await central.stock_page(after_sku, after_location, page, location)
        for row in rows:
            location = location or str(row["location_id"])
            if str(row["location_id"]) == location:
                levels.append((str(row["product_id"]), Decimal(str(row["quantity"]))))
        if len(rows) < page:
            break
        after_sku, after_location = rows[-1]["sku"], str(rows[-1]["location_id"])

    def write() -> None:
        with store.transaction(conn):
            outbox.set_levels(conn, levels, store.now_text())
            if location is not None:
                store.set_meta(conn, "location_id", location)

    await asyncio.to_thread(write)
    return len(levels)


async def sync_once(conn: sqlite3.Connection, central: Central, settings: LoopSettings, *,
                    with_stock: bool, totals: dict[str, int]) -> dict[str, Any]:
    before = dict(totals)
    pushed = await push_outbox(conn, central, settings.batch_size, totals)
    pulled = await pull_catalog(conn, central, settings.catalog_page)
    levels = await pull_stock(conn, central, settings.stock_page) if with_stock else None
    return {"pushed": {k: v - before[k] for k, v in pushed.items()}, "catalog_changes": pulled, "levels": levels}


def _save_last_sync(conn: sqlite3.Connection, when: str) -> None:
    with store.transaction(conn):
        store.set_meta(conn, "last_sync_at", when)


async def run(conn: sqlite3.Connection, central: Central, state: AgentState, settings: LoopSettings) -> None:
    """Forever: a round when due, backoff with full jitter while central is unreachable."""
    failures = 0
    stock_due = 0.0
    prune_due = 0.0
    while True:
        if time.monotonic() >= prune_due:
            older_than = (datetime.now(UTC) - settings.keep_answers).isoformat()
            await asyncio.to_thread(outbox.forget_old_answers, conn, older_than)
            prune_due = time.monotonic() + 3600
        try:
            with_stock = time.monotonic() >= stock_due
            result = await sync_once(conn, central, settings, with_stock=with_stock, totals=state.synced)
            if with_stock:
                stock_due = time.monotonic() + settings.stock_seconds
            state.last_sync_at = store.now_text()
            # On disk when the round moved something or refreshed the stock: a quiet till polling
            # every second need not write (and fsync) every second.
            if with_stock or result["catalog_changes"] or any(result["pushed"].values()):
                await asyncio.to_thread(_save_last_sync, conn, state.last_sync_at)
            if not state.online or failures:
                log.info("central reachable: %s", json.dumps(result))
            failures = 0
            state.mark_online()
            delay = settings.poll_seconds
        except CentralUnavailable as exc:
            failures += 1
            state.mark_offline(str(exc))
            delay = backoff_delay(failures, settings.backoff_base, settings.backoff_max)
            log.warning("central unreachable (%s); next try in %.2f s", exc, delay)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not stop the till from syncing for good
            failures += 1
            state.mark_offline(f"{type(exc).__name__}: {exc}")
            delay = backoff_delay(failures, settings.backoff_base, settings.backoff_max)
            log.exception("sync round failed; next try in %.2f s", delay)
        state.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.wake.wait(), timeout=delay)
