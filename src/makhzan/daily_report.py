"""The morning report: each tenant's low-stock report, made once a day at a local hour, kept
for later viewing and sent to the tenant's ``daily_report`` webhooks.

Why a table with a unique key rather than a job-queue library: the whole exactly-once rule is
the primary key ``daily_reports (tenant_id, report_date)``. Every server process runs the same
scheduler; each inserts a due report with ``ON CONFLICT DO NOTHING``, and only the insert that
wins queues the webhook deliveries, in the same statement, so two processes (or a retry after a
crash) can never make or send a day's report twice. Catch-up after downtime falls out of
comparing the latest kept date with the clock. A library such as procrastinate would bring its
own schema, worker and periodic-task bookkeeping to get the same guarantee, and the delivery
itself already goes through the webhook outbox (``makhzan.webhooks``).

Catch-up reports are made from the stock as it is when they are made (the ledger could rebuild
past levels, but a manager reading a late report wants today's shortfall).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from makhzan import reports
from makhzan.config import Settings
from makhzan.db import Connection
from makhzan.queries import Q

log = logging.getLogger("makhzan.daily_report")

# Days made up after downtime, today's included: a server down for a month sends a week, not 30.
CATCH_UP_DAYS = 7
# Rows kept per report: a tenant with more low levels than this has bigger problems.
MAX_ROWS = 10000


def scheduled_at(day: date, zone: ZoneInfo, report_hour: int) -> datetime:
    """The moment (UTC) a day's report falls due: ``report_hour`` local time on that day.

    In a spring-forward gap the hour does not exist; zoneinfo then reads it with the offset
    before the change, i.e. an hour later on the wall clock, which is what a person would expect.
    """
    return datetime.combine(day, time(report_hour), tzinfo=zone).astimezone(UTC)


def due_dates(now_utc: datetime, time_zone: str, report_hour: int, last_report_date: date | None,
              created_at: datetime) -> list[date]:
    """The local dates whose report is due and not yet kept, oldest first.

    A date is due once its report hour has passed in the tenant's zone; dates missed while no
    server ran are caught up, at most ``CATCH_UP_DAYS`` of them, and never a date whose report
    hour came before the tenant existed.
    """
    if now_utc.tzinfo is None:
        raise ValueError("now_utc must be timezone-aware")
    zone = ZoneInfo(time_zone)
    today = now_utc.astimezone(zone).date()
    latest = today if scheduled_at(today, zone, report_hour) <= now_utc else today - timedelta(days=1)
    first = latest - timedelta(days=CATCH_UP_DAYS - 1)
    if last_report_date is not None:
        first = max(first, last_report_date + timedelta(days=1))
    dates = []
    day = first
    while day <= latest:
        if scheduled_at(day, zone, report_hour) >= created_at:
            dates.append(day)
        day += timedelta(days=1)
    return dates


def _json_default(value: Any) -> str:
    # Decimal quantities as strings ("2.000") like every quantity the API writes; UUIDs as text.
    return str(value)


_dumps = partial(json.dumps, default=_json_default, ensure_ascii=False, separators=(",", ":"))


async def make_report(conn: Connection, tenant_id: UUID, report_date: date) -> bool:
    """Make and keep one day's report unless it exists; True when this call kept it."""
    rows = await reports.low_stock(conn, tenant_id, None, MAX_ROWS)
    cur = await conn.execute(Q.keep_daily_report, {"tenant_id": tenant_id, "report_date": report_date,
                                                   "rows": Jsonb(rows, dumps=_dumps)})
    return await cur.fetchone() is not None


async def run_due_reports(conn: Connection, now: datetime,
                          tenant_ids: Sequence[UUID] | None = None) -> list[tuple[UUID, date]]:
    """Make every due report (of every tenant, or of ``tenant_ids``); returns those this call kept.

    ``conn`` is the database owner's, in autocommit, without ``SET ROLE``: it serves every tenant,
    which row-level security would hide from the application role. Each report is one statement,
    so one transaction: the report and its deliveries commit together or not at all.
    """
    cur = await conn.execute(Q.daily_report_tenants, {"tenant_ids": list(tenant_ids) if tenant_ids else None})
    kept: list[tuple[UUID, date]] = []
    for tenant in await cur.fetchall():
        try:
            dates = due_dates(now, tenant["time_zone"], tenant["report_hour"], tenant["last_report_date"],
                              tenant["created_at"])
        except (ZoneInfoNotFoundError, ValueError):
            # One tenant's bad zone must not stop everyone's report.
            log.warning("tenant %s has an unknown time zone %r; no daily report", tenant["tenant_id"],
                        tenant["time_zone"])
            continue
        for report_date in dates:
            if await make_report(conn, tenant["tenant_id"], report_date):
                kept.append((tenant["tenant_id"], report_date))
    return kept


async def run_scheduler(database_url: str, settings: Settings) -> None:
    """Make due reports every ``daily_report_poll_seconds`` until cancelled (one per server process)."""
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(database_url, autocommit=True, row_factory=dict_row)
            async with conn:
                while True:
                    await run_due_reports(conn, datetime.now(UTC))
                    await asyncio.sleep(settings.daily_report_poll_seconds)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A lost connection or a database restart must not end the schedule for good.
            log.exception("daily report scheduling failed; retrying in a second")
            await asyncio.sleep(1)


# --- reading (request transactions, tenant-scoped) ---------------------------------------------


async def list_reports(conn: Connection, tenant_id: UUID, limit: int) -> list[dict[str, Any]]:
    cur = await conn.execute(Q.list_daily_reports, {"tenant_id": tenant_id, "limit": limit})
    return list(await cur.fetchall())


async def get_report(conn: Connection, tenant_id: UUID, report_date: date) -> dict[str, Any] | None:
    cur = await conn.execute(Q.get_daily_report, {"tenant_id": tenant_id, "report_date": report_date})
    row = await cur.fetchone()
    return dict(row) if row is not None else None
