"""Webhooks: registration, and the worker that delivers the outbox after commit.

A sale that crosses a threshold writes its ``webhook_deliveries`` rows in its own transaction
(DESIGN.md point 8). The worker here sends them afterwards: a rolled-back sale left no row, so
nothing is sent for it, and a server killed before sending leaves rows that the next worker
sends. A receiver may see a delivery twice (a worker killed after the receiver answered but
before recording it); the ``X-Makhzan-Delivery`` id lets it drop the repeat.

Several server processes share the outbox: each claims due rows with ``FOR UPDATE SKIP LOCKED``
and leases them (pushes ``next_attempt_at`` past the lease) in one short statement, sends
without holding any lock, then records the outcome. A claimed row is thus sent by one process
at a time, and a row whose worker died is retried when its lease runs out.

The worker runs in the server's own event loop, beside the sales, so each delivery must cost
little: a batch is claimed in one statement, sent concurrently (at most ``SEND_CONCURRENCY`` at
once) over kept-alive connections, and all its outcomes are recorded in one statement (one
commit, not one per delivery). The client is aiohttp: on this machine a POST cost it about
0.2 ms of CPU against 3 ms for httpx, which decided the worst case of bench/alerts.py (every
sale raising three deliveries).
An idle worker looks less and less often (up to ``IDLE_POLL_SECONDS``), and as often as
configured again as soon as it finds work. (LISTEN/NOTIFY would wake it at once, but every
transaction that notifies takes one database-wide lock at commit: sales that raise alerts would
commit one at a time.)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import aiohttp
import psycopg
from psycopg.rows import dict_row

from makhzan import __version__
from makhzan.config import Settings
from makhzan.db import Connection
from makhzan.queries import Q

log = logging.getLogger("makhzan.webhooks")

MAX_BACKOFF_SECONDS = 3600.0
# Deliveries claimed per round; they are sent concurrently, at most SEND_CONCURRENCY at once
# (a slow receiver must not open a hundred sockets), and recorded in one statement.
BATCH = 64
SEND_CONCURRENCY = 16
# The longest an idle worker waits between looks (unless its poll interval is longer): an
# alert raised after a quiet spell is sent within about this long.
IDLE_POLL_SECONDS = 1.0
# A receiver's answer is read up to this much (and otherwise ignored).
RESPONSE_BYTES = 64 * 1024


# --- registration (request transactions, tenant-scoped) ----------------------------------------


async def create_webhook(conn: Connection, tenant_id: UUID, *, url: str, secret: str,
                         events: list[str]) -> dict[str, Any]:
    cur = await conn.execute(
        Q.insert_webhook,
        {"tenant_id": tenant_id, "webhook_id": uuid4(), "url": url, "secret": secret, "events": events},
    )
    row = await cur.fetchone()
    assert row is not None
    return dict(row)


async def list_webhooks(conn: Connection, tenant_id: UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(Q.list_webhooks, {"tenant_id": tenant_id})
    return list(await cur.fetchall())


# --- delivery ------------------------------------------------------------------------------------


def sign(body: bytes, secret: str) -> str:
    """The ``X-Makhzan-Signature`` header value: HMAC-SHA256 of the raw body with the secret."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def host_allowed(url: str, allowed_hosts: tuple[str, ...]) -> bool:
    """Whether a receiver's host is on the allow-list (an empty list allows any host)."""
    if not allowed_hosts:
        return True
    host = (urlsplit(url).hostname or "").lower()
    return host in allowed_hosts


async def send(http: aiohttp.ClientSession, delivery: dict[str, Any],
               allowed_hosts: tuple[str, ...] = ()) -> tuple[int | None, str | None]:
    """POST one delivery: (HTTP status or None, error or None)."""
    if not host_allowed(delivery["url"], allowed_hosts):
        # Registered before the allow-list changed: never sent, retried with backoff.
        return None, "host not allowed by MAKHZAN_WEBHOOK_ALLOWED_HOSTS"
    # The payload as the database keeps it (jsonb's text form): no decoding and re-encoding.
    body = delivery["body"].encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"Makhzan-Webhooks/{__version__}",
        "X-Makhzan-Event": delivery["event"],
        "X-Makhzan-Delivery": str(delivery["delivery_id"]),
        "X-Makhzan-Signature": sign(body, delivery["secret"]),
    }
    try:
        async with http.post(delivery["url"], data=body, headers=headers, allow_redirects=False) as response:
            # Read (a bounded part of) the answer, so that the connection can be kept for the next.
            await response.content.read(RESPONSE_BYTES)
            status = response.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        # No answer (refused, timed out, unresolvable host...): retried like a 5xx.
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= status < 300:
        return status, None
    return status, f"HTTP {status}"


async def deliver_due(conn: Connection, http: aiohttp.ClientSession, *, backoff_seconds: float,
                      lease_seconds: float, allowed_hosts: tuple[str, ...] = ()) -> int:
    """Claim, send and record one batch of due deliveries; returns how many were claimed."""
    cur = await conn.execute(Q.claim_deliveries, {"batch": BATCH, "lease_seconds": lease_seconds})
    claimed = await cur.fetchall()
    if not claimed:
        return 0
    limit = asyncio.Semaphore(SEND_CONCURRENCY)

    async def bounded(delivery: dict[str, Any]) -> tuple[int | None, str | None]:
        async with limit:
            return await send(http, delivery, allowed_hosts)

    outcomes = await asyncio.gather(*(bounded(delivery) for delivery in claimed))
    await conn.execute(
        Q.record_attempts,
        {"tenant_ids": [d["tenant_id"] for d in claimed], "delivery_ids": [d["delivery_id"] for d in claimed],
         "status_codes": [status for status, _ in outcomes], "errors": [error for _, error in outcomes],
         "backoff_seconds": backoff_seconds, "max_backoff_seconds": MAX_BACKOFF_SECONDS},
    )
    return len(claimed)


def next_poll_delay(claimed: int, idle_rounds: int, poll_seconds: float, *, batch: int = BATCH,
                    idle_cap: float = IDLE_POLL_SECONDS) -> float:
    """How long an outbox worker (webhooks, e-mail) waits before its next look: none after a
    full batch (more is due), ``poll_seconds`` after some work, and doubling while idle up to
    ``idle_cap`` (or ``poll_seconds``, if that is longer)."""
    if claimed >= batch:
        return 0.0
    if claimed:
        return poll_seconds
    return min(max(poll_seconds, idle_cap), poll_seconds * 2 ** min(idle_rounds, 20))


async def run_delivery_worker(database_url: str, settings: Settings) -> None:
    """Deliver the outbox until cancelled (the server's lifespan runs one per process).

    Its own connection, as the database owner and without ``SET ROLE``: it serves every tenant,
    which row-level security would hide from the application role. Autocommit, so the claim
    and each batch's record are single short transactions.
    """
    # The lease outlasts the longest possible send, so a live worker's row never goes to another.
    lease_seconds = settings.webhook_timeout_seconds * 2 + 30
    timeout = aiohttp.ClientTimeout(total=settings.webhook_timeout_seconds)
    connector = aiohttp.TCPConnector(limit=SEND_CONCURRENCY)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(database_url, autocommit=True, row_factory=dict_row)
                async with conn:
                    idle_rounds = 0
                    while True:
                        claimed = await deliver_due(conn, http, backoff_seconds=settings.webhook_backoff_seconds,
                                                    lease_seconds=lease_seconds,
                                                    allowed_hosts=settings.webhook_allowed_hosts)
                        idle_rounds = 0 if claimed else idle_rounds + 1
                        delay = next_poll_delay(claimed, idle_rounds - 1, settings.webhook_poll_seconds)
                        if delay:
                            await asyncio.sleep(delay)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A lost connection or a database restart must not end delivery for good.
                log.exception("webhook delivery failed; retrying in a second")
                await asyncio.sleep(1)
