"""E-mail over SMTP: each tenant's settings, and the worker that sends the e-mail outbox.

A sale that crosses a threshold (``raise_low_stock_alerts``) and a kept morning report
(``keep_daily_report``) write their ``email_deliveries`` rows in their own transaction, so a
rolled-back sale sends nothing and a server killed before sending leaves rows that the next
worker sends. The worker shares the outbox with other server processes exactly as the webhook
worker does (``makhzan.webhooks``): a batch is claimed with ``FOR UPDATE SKIP LOCKED`` and a
lease, sent without holding a lock (a few messages at once), and recorded in one statement; a
failed send is retried with a backoff that doubles each time.

Sending uses aiosmtplib: an asyncio SMTP client, so the worker runs in the server's own event
loop beside the webhook worker, with STARTTLS, implicit TLS and AUTH, and SMTP replies as
exceptions that carry their code (a 451 "try again later" is logged as 451).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import aiosmtplib
import psycopg
from psycopg.rows import dict_row

from makhzan import errors
from makhzan.config import Settings
from makhzan.db import Connection
from makhzan.mail_messages import daily_report_message, low_stock_message, to_wire
from makhzan.queries import Q
from makhzan.webhooks import next_poll_delay

log = logging.getLogger("makhzan.mail")

MAX_BACKOFF_SECONDS = 3600.0
# E-mail claimed per round, and how many SMTP sessions a worker opens at once.
BATCH = 8
SEND_CONCURRENCY = 4
# An idle worker looks less often, up to this (or its poll interval, if longer).
IDLE_POLL_SECONDS = 2.0


# --- settings (request transactions, tenant-scoped) ---------------------------------------------


def host_allowed(host: str, allowed_hosts: tuple[str, ...]) -> bool:
    """Whether an SMTP host is on the allow-list (an empty list allows any host)."""
    return not allowed_hosts or host.lower().strip("[]") in allowed_hosts


async def get_settings(conn: Connection, tenant_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(Q.get_email_settings, {"tenant_id": tenant_id})
    row = await cur.fetchone()
    if row is None:
        raise errors.NotFound("E-mail is not set up for this business yet: PUT /api/v1/settings/email.")
    return dict(row)


async def put_settings(conn: Connection, tenant_id: UUID, values: dict[str, Any], *,
                       keep_password: bool) -> dict[str, Any]:
    """Set the tenant's SMTP set-up; ``keep_password`` keeps the stored password (a request
    that did not send one: clients never see it, so they cannot send it back)."""
    cur = await conn.execute(Q.put_email_settings, {"tenant_id": tenant_id, "keep_password": keep_password,
                                                    **values})
    row = await cur.fetchone()
    assert row is not None
    return dict(row)


# --- delivery ------------------------------------------------------------------------------------


def compose(email: dict[str, Any], now: datetime) -> EmailMessage:
    """The message of one claimed outbox row."""
    common = {"tenant_name": email["tenant_name"], "sender": email["from_address"],
              "recipients": list(email["recipients"]), "delivery_id": email["delivery_id"], "sent_at": now}
    payload = email["payload"]
    if email["event"] == "low_stock":
        return low_stock_message(payload, **common)
    return daily_report_message(payload["date"], email["report_rows"] or [], **common)


def session_seconds(settings: Settings) -> float:
    """The longest one SMTP session may take, all its commands together (each has the timeout)."""
    return settings.smtp_timeout_seconds * 4


async def send(email: dict[str, Any], settings: Settings) -> tuple[bool, int | None, str | None]:
    """Send one e-mail: (delivered, SMTP reply code of a refusal, error or note)."""
    if email["smtp_host"] is None or not email["enabled"]:
        # Queued while enabled, switched off since: kept, and sent if it is switched back on.
        return False, None, "e-mail is not enabled for this business"
    if not host_allowed(email["smtp_host"], settings.smtp_allowed_hosts):
        return False, None, "SMTP host not allowed by MAKHZAN_SMTP_ALLOWED_HOSTS"
    try:
        message = compose(email, datetime.now(UTC))
    except (ValueError, KeyError, TypeError) as exc:
        # One malformed row must not sink its batch (the others' outcomes would go unrecorded).
        return False, None, f"could not compose the message: {type(exc).__name__}: {exc}"[:500]
    security = email["security"]
    try:
        async with asyncio.timeout(session_seconds(settings)):
            refused, _ = await aiosmtplib.send(
                to_wire(message), sender=email["from_address"], recipients=list(email["recipients"]),
                hostname=email["smtp_host"], port=email["smtp_port"],
                username=email["username"], password=email["password"] if email["username"] else None,
                use_tls=security == "tls", start_tls=security == "starttls",
                timeout=settings.smtp_timeout_seconds,
            )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        return False, codes[0] if codes else None, f"every recipient refused: {exc}"[:500]
    except aiosmtplib.SMTPResponseException as exc:
        # A refusal with a reply code: 4xx is temporary by definition; a 5xx (a wrong password,
        # say) is retried too, as the admin may fix the settings meanwhile.
        return False, exc.code, f"{type(exc).__name__}: {exc.code} {exc.message}"[:500]
    except (aiosmtplib.SMTPException, OSError, ValueError, TimeoutError) as exc:
        # No server, a timeout, a TLS failure, a dropped connection: retried.
        return False, None, f"{type(exc).__name__}: {exc}"[:500]
    if refused:
        # Accepted for some recipients: sending again would repeat it to those, so it is done;
        # the log keeps who was refused.
        return True, None, "refused: " + ", ".join(f"{rcpt} ({r.code})" for rcpt, r in refused.items())[:480]
    return True, None, None


async def deliver_due(conn: Connection, settings: Settings, *, lease_seconds: float) -> int:
    """Claim, send and record one batch of due e-mail; returns how many were claimed."""
    cur = await conn.execute(Q.claim_emails, {"batch": BATCH, "lease_seconds": lease_seconds})
    claimed = await cur.fetchall()
    if not claimed:
        return 0
    limit = asyncio.Semaphore(SEND_CONCURRENCY)

    async def bounded(email: dict[str, Any]) -> tuple[bool, int | None, str | None]:
        async with limit:
            return await send(email, settings)

    outcomes = await asyncio.gather(*(bounded(email) for email in claimed))
    for email, (delivered, _, error) in zip(claimed, outcomes, strict=True):
        if not delivered:
            log.warning("e-mail %s of tenant %s not sent (attempt %d): %s", email["delivery_id"],
                        email["tenant_id"], email["attempts"] + 1, error)
    await conn.execute(
        Q.record_email_attempts,
        {"tenant_ids": [e["tenant_id"] for e in claimed], "delivery_ids": [e["delivery_id"] for e in claimed],
         "delivered": [o[0] for o in outcomes], "smtp_codes": [o[1] for o in outcomes],
         "errors": [o[2] for o in outcomes], "backoff_seconds": settings.smtp_backoff_seconds,
         "max_backoff_seconds": MAX_BACKOFF_SECONDS},
    )
    return len(claimed)


async def run_delivery_worker(database_url: str, settings: Settings) -> None:
    """Send the e-mail outbox until cancelled (the server's lifespan runs one per process).

    Its own connection, as the database owner and in autocommit, like the webhook worker.
    """
    # The lease outlasts a batch's sessions (each cut off at session_seconds), so a live
    # worker's e-mail never goes to another process.
    lease_seconds = session_seconds(settings) * (BATCH // SEND_CONCURRENCY) + 60
    poll = settings.smtp_poll_seconds
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(database_url, autocommit=True, row_factory=dict_row)
            async with conn:
                idle_rounds = 0
                while True:
                    claimed = await deliver_due(conn, settings, lease_seconds=lease_seconds)
                    idle_rounds = 0 if claimed else idle_rounds + 1
                    delay = next_poll_delay(claimed, idle_rounds - 1, poll, batch=BATCH, idle_cap=IDLE_POLL_SECONDS)
                    if delay:
                        await asyncio.sleep(delay)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A lost connection or a database restart must not end delivery for good.
            log.exception("e-mail delivery failed; retrying in a second")
            await asyncio.sleep(1)
