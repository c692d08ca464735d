"""The morning report: made once a day per tenant at its local hour, caught up after downtime,
kept for the API and sent to webhooks. The scheduler is driven with an explicit "now" on a
database of its own; the end-to-end test lets a real server's scheduler run on the real clock.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from tests.integration.test_alerts import Receiver, receiver, wait_until  # noqa: F401 -- fixture
from tests.support import Api, Databases, ServerProcess, new_shop, new_tenant

from makhzan.daily_report import CATCH_UP_DAYS, run_due_reports

SECRET = "s3cret-for-the-tests-0123456789"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def owner(url: str) -> psycopg.Connection[dict[str, Any]]:
    return psycopg.connect(url, autocommit=True, row_factory=dict_row)


def tenant_with_low_stock(url: str, *, created_at: datetime, time_zone: str = "Asia/Beirut",
                          webhooks: int = 0) -> uuid.UUID:
    """A tenant with one low level (2 left, threshold 5) and active daily_report webhooks, plus
    webhooks that must get nothing (inactive, or subscribed to low_stock only)."""
    tenant_id: uuid.UUID = new_tenant(url)["tenant_id"]
    location, product = uuid.uuid4(), uuid.uuid4()
    with owner(url) as conn:
        conn.execute("UPDATE tenants SET created_at = %s, time_zone = %s WHERE tenant_id = %s",
                     (created_at, time_zone, tenant_id))
        conn.execute("INSERT INTO locations (tenant_id, location_id, name, kind) VALUES (%s, %s, 'Store', 'store')",
                     (tenant_id, location))
        conn.execute("INSERT INTO products (tenant_id, product_id, sku, name, base_unit, price, low_stock_threshold)"
                     " VALUES (%s, %s, 'SALT', 'Salt', 'piece', 1, 5)", (tenant_id, product))
        conn.execute("INSERT INTO stock_levels (tenant_id, product_id, location_id, quantity) VALUES (%s, %s, %s, 2)",
                     (tenant_id, product, location))
        hooks = [(["daily_report"], True)] * webhooks + [(["daily_report"], False), (["low_stock"], True)]
        for events, active in hooks:
            conn.execute("INSERT INTO webhooks (tenant_id, webhook_id, url, secret, events, active)"
                         " VALUES (%s, %s, 'http://127.0.0.1:9/hook', %s, %s, %s)",
                         (tenant_id, uuid.uuid4(), SECRET, events, active))
    return tenant_id


async def run_at(url: str, now: datetime, *tenant_ids: uuid.UUID) -> list[tuple[uuid.UUID, date]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row) as conn:
        return await run_due_reports(conn, now, tenant_ids or None)


def kept_dates(url: str, tenant_id: uuid.UUID) -> list[date]:
    with owner(url) as conn:
        rows = conn.execute("SELECT report_date FROM daily_reports WHERE tenant_id = %s ORDER BY 1",
                            (tenant_id,)).fetchall()
    return [r["report_date"] for r in rows]


def deliveries(url: str, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    with owner(url) as conn:
        return conn.execute("SELECT webhook_id, event, payload FROM webhook_deliveries WHERE tenant_id = %s"
                            " ORDER BY payload -> 'report' ->> 'date', webhook_id", (tenant_id,)).fetchall()


def test_two_processes_at_once_make_one_report_and_one_delivery_per_webhook(databases: Databases) -> None:
    url = databases.fresh()
    tenant_id = tenant_with_low_stock(url, created_at=utc(2026, 3, 10, 3, 0), webhooks=2)
    now = utc(2026, 3, 10, 6, 0)  # 08:00 in Beirut, the tenant's first morning

    async def both() -> list[list[tuple[uuid.UUID, date]]]:
        return list(await asyncio.gather(*(run_at(url, now, tenant_id) for _ in range(2))))

    first, second = asyncio.run(both())
    assert sorted(first + second) == [(tenant_id, date(2026, 3, 10))]
    assert kept_dates(url, tenant_id) == [date(2026, 3, 10)]
    sent = deliveries(url, tenant_id)
    assert len(sent) == 2 and len({d["webhook_id"] for d in sent}) == 2
    report = sent[0]["payload"]
    assert report["event"] == "daily_report" and report["tenant_id"] == str(tenant_id)
    assert report["report"]["date"] == "2026-03-10"
    [row] = report["report"]["rows"]
    assert (row["sku"], row["quantity"], row["low_stock_threshold"], row["suggested_reorder"]) == (
        "SALT", "2.000", "5.000", "8.000")
    # Later the same day, and again: nothing more.
    assert asyncio.run(run_at(url, utc(2026, 3, 10, 20, 0), tenant_id)) == []
    assert len(deliveries(url, tenant_id)) == 2


def test_nothing_before_the_local_hour_and_the_zone_decides(databases: Databases) -> None:
    url = databases.fresh()
    created = utc(2026, 3, 1, 0, 0)
    beirut = tenant_with_low_stock(url, created_at=created)
    new_york = tenant_with_low_stock(url, created_at=created, time_zone="America/New_York")
    asyncio.run(run_at(url, utc(2026, 3, 9, 22, 0)))  # both have their reports up to the 9th
    assert kept_dates(url, beirut)[-1] == kept_dates(url, new_york)[-1] == date(2026, 3, 9)

    # 04:59 UTC: 06:59 in Beirut, 23:59 on the 9th in New York: nothing due anywhere.
    assert asyncio.run(run_at(url, utc(2026, 3, 10, 4, 59))) == []
    # 05:00 UTC: 07:00 in Beirut; New York's morning is still hours away (07:00 EDT = 11:00 UTC).
    assert asyncio.run(run_at(url, utc(2026, 3, 10, 5, 0))) == [(beirut, date(2026, 3, 10))]
    assert asyncio.run(run_at(url, utc(2026, 3, 10, 10, 59))) == []
    assert asyncio.run(run_at(url, utc(2026, 3, 10, 11, 0))) == [(new_york, date(2026, 3, 10))]


def test_missed_days_are_caught_up_after_downtime_at_most_a_week(databases: Databases) -> None:
    url = databases.fresh()
    tenant_id = tenant_with_low_stock(url, created_at=utc(2026, 3, 1, 0, 0), webhooks=1)
    asyncio.run(run_at(url, utc(2026, 3, 5, 6, 0)))
    assert kept_dates(url, tenant_id)[-1] == date(2026, 3, 5)
    before = len(kept_dates(url, tenant_id))
    # Down from after the 5th's report until 08:00 on the 8th: the 6th, 7th and 8th are made.
    made = asyncio.run(run_at(url, utc(2026, 3, 8, 6, 0)))
    assert [d for _, d in made] == [date(2026, 3, 6), date(2026, 3, 7), date(2026, 3, 8)]
    assert len(kept_dates(url, tenant_id)) == before + 3
    assert [d["payload"]["report"]["date"] for d in deliveries(url, tenant_id)][-3:] == [
        "2026-03-06", "2026-03-07", "2026-03-08"]
    # Down for three weeks: a week is made up, not 21 days.
    made = asyncio.run(run_at(url, utc(2026, 3, 29, 6, 0)))
    assert [d for _, d in made] == [date(2026, 3, 29) - timedelta(days=n) for n in reversed(range(CATCH_UP_DAYS))]


def test_a_real_server_makes_keeps_serves_and_sends_the_signed_report(databases: Databases,
                                                                       receiver: Receiver) -> None:  # noqa: F811
    url = databases.fresh()
    server = ServerProcess(url, env={"MAKHZAN_DAILY_REPORT_POLL_SECONDS": "0.2"}).start()
    try:
        shop = new_shop(server.url, url)
        shop.admin.ok("POST", "/webhooks", {"url": receiver.url, "secret": receiver.secret,
                                            "events": ["daily_report"]}, 201)
        product = shop.product(threshold="5")
        shop.receive(product["id"], "2")
        manager = shop.key("manager")
        assert manager.get("/reports/daily").json() == {"reports": []}
        # Two days older: at least yesterday's report is due on the real clock, whatever its hour.
        with owner(url) as conn:
            conn.execute("UPDATE tenants SET created_at = created_at - interval '2 days' WHERE tenant_id = %s",
                         (shop.tenant_id,))
        listed = wait_until("the kept reports", lambda: manager.ok("GET", "/reports/daily")["reports"])
        assert 1 <= len(listed) <= 3 and all(r["row_count"] == 1 for r in listed)
        requests = wait_until("the deliveries", lambda: len(receiver.received()) >= len(listed) and receiver.received())
        assert len(requests) == len(listed)
        for request in requests:
            assert request["signed"] and request["headers"]["X-Makhzan-Event"] == "daily_report"
        sent = {json.loads(r["body"])["report"]["date"] for r in requests}
        assert sent == {r["date"] for r in listed}

        report = manager.ok("GET", f"/reports/daily?date={listed[0]['date']}")
        assert report["date"] == listed[0]["date"]
        [row] = report["rows"]
        assert (row["product_id"], row["quantity"], row["suggested_reorder"]) == (product["id"], "2.000", "8.000")
        assert manager.get("/reports/daily?date=2001-01-01").status_code == 404
        assert manager.get("/reports/daily?date=yesterday").status_code == 422
        assert shop.key("cashier", shop.store).get("/reports/daily").status_code == 403
        # Another tenant sees none of them.
        other = Api(server.url, new_tenant(url)["admin_key"])
        assert other.get(f"/reports/daily?date={listed[0]['date']}").status_code == 404
    finally:
        server.stop()
