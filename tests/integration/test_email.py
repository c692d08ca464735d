"""E-mail over SMTP: low-stock alerts and the morning report reach a real SMTP server (aiosmtpd on
loopback), through the e-mail outbox, from a real server process. Waits are bounded polls.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from psycopg.rows import dict_row
from tests.integration.test_alerts import alerts, sell, wait_until
from tests.support import Databases, ServerProcess, Shop, free_port, new_shop

WAIT_SECONDS = 15.0
# The server under test looks at the e-mail outbox often and retries soon.
EAGER_MAIL = {"MAKHZAN_SMTP_POLL_SECONDS": "0.1", "MAKHZAN_SMTP_BACKOFF_SECONDS": "0.2"}


class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps every message; answers ``failures`` in turn to
    DATA (e.g. "451 ...") before accepting."""

    def __init__(self, failures: list[str] | None = None) -> None:
        self.failures = list(failures or [])
        self.lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []
        self.refused = 0
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 -- aiosmtpd's name
                with sink.lock:
                    if sink.failures:
                        sink.refused += 1
                        return sink.failures.pop(0)
                    parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
                    sink.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                          "message": parsed})
                return "250 Message accepted for delivery"

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
            # Any login is recorded; only shop / p4ss-word is accepted.
            login = (auth_data.login.decode(), auth_data.password.decode())
            with sink.lock:
                sink.logins.append(login)
            return AuthResult(success=login == ("shop", "p4ss-word"))

        self.logins: list[tuple[str, str]] = []
        self.port = free_port()
        # AUTH without TLS: this server is on loopback only.
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, authenticator=authenticator,
                                     auth_require_tls=False)
        self.controller.start()

    def received(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.messages)

    def close(self) -> None:
        self.controller.stop()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    s = SmtpSink()
    yield s
    s.close()


def settings(sink: SmtpSink, **changes: Any) -> dict[str, Any]:
    return {"smtp_host": "127.0.0.1", "smtp_port": sink.port, "security": "none",
            "from_address": "makhzan@shop.example", "alert_recipients": ["manager@shop.example"],
            "report_recipients": ["owner@shop.example", "buyer@shop.example"], **changes}


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def outbox(database_url: str, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's e-mail deliveries and their attempts' reply codes, read as the owner."""
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT d.delivery_id, d.event, d.recipients, d.attempts, d.delivered_at, d.last_error,"
            "       ARRAY(SELECT coalesce(a.smtp_code, 0) FROM email_attempts a WHERE a.tenant_id = d.tenant_id"
            "             AND a.delivery_id = d.delivery_id ORDER BY a.attempt_id) AS codes"
            " FROM email_deliveries d WHERE d.tenant_id = %s ORDER BY d.created_at", (tenant_id,)).fetchall()


@pytest.fixture
def mail_server(databases: Databases) -> Iterator[tuple[ServerProcess, str]]:
    database = databases.fresh()
    server = ServerProcess(database, env=EAGER_MAIL).start()
    yield server, database
    server.stop()


def test_a_crossing_sale_is_e_mailed_in_english_and_arabic(mail_server: tuple[ServerProcess, str],
                                                          sink: SmtpSink) -> None:
    server, database = mail_server
    shop = new_shop(server.url, database)
    saved = shop.admin.ok("PUT", "/settings/email", settings(sink, username="shop", password="p4ss-word"))
    assert "password" not in saved and saved["password_set"] is True and saved["smtp_port"] == sink.port
    milk = shop.product(threshold="5", name_ar="حليب طازج")
    shop.receive(milk["id"], "10")

    sale = sell(shop.admin, shop.store, milk["id"], "6")  # 10 -> 4: crosses
    [alert] = alerts(shop.admin, expect=1)
    [received] = wait_until("the alert e-mail", sink.received, WAIT_SECONDS)
    assert sink.logins == [("shop", "p4ss-word")]  # logged in with the tenant's credentials
    message: EmailMessage = received["message"]
    assert received["from"] == "makhzan@shop.example" and received["to"] == ["manager@shop.example"]
    subject = message["Subject"]
    assert subject.startswith("[Test shop] Low stock: ") and milk["name"] in subject and "4.000 left" in subject
    assert "مخزون منخفض" in subject and "حليب طازج" in subject
    text, html = parts(message)
    for body in (text, html):
        assert milk["name"] in body and "حليب طازج" in body and milk["sku"] in body and "Store" in body
        assert "4.000" in body and "5.000" in body
    assert 'dir="rtl"' in html and 'lang="ar"' in html
    [row] = outbox(database, shop.tenant_id)
    assert message["X-Makhzan-Delivery"] == str(row["delivery_id"])
    assert (row["event"], row["recipients"], row["attempts"], row["codes"]) == (
        "low_stock", ["manager@shop.example"], 1, [0])
    assert alert["document_id"] == sale["id"]

    # Below to below raises nothing, so nothing is mailed; a later crossing of two products in
    # one transfer is one e-mail naming both.
    sell(shop.admin, shop.store, milk["id"], "1")
    bread = shop.product(threshold="3", name_ar="خبز")
    shop.receive(bread["id"], "5")
    shop.receive(milk["id"], "20")  # 3 -> 23
    shop.admin.ok("POST", "/transfers", {"id": str(uuid.uuid4()), "from_location_id": shop.store,
                                         "to_location_id": shop.warehouse,
                                         "lines": [{"product_id": milk["id"], "quantity": "20"},
                                                   {"product_id": bread["id"], "quantity": "3"}]}, 201)
    [_, second] = wait_until("the transfer's e-mail", lambda: len(sink.received()) >= 2 and sink.received())
    assert second["message"]["Subject"].startswith("[Test shop] Low stock: 2 products at Store")
    text, _ = parts(second["message"])
    assert all(name in text for name in (milk["name"], bread["name"], "حليب طازج", "خبز"))
    time.sleep(0.5)
    assert len(sink.received()) == 2


def test_a_temporary_smtp_failure_is_retried(mail_server: tuple[ServerProcess, str]) -> None:
    server, database = mail_server
    sink = SmtpSink(failures=["451 4.3.0 Mailbox busy, try again later"])
    try:
        shop = new_shop(server.url, database)
        shop.admin.ok("PUT", "/settings/email", settings(sink))
        product = shop.product(threshold="2")
        shop.receive(product["id"], "3")
        sell(shop.admin, shop.store, product["id"], "1")
        [received] = wait_until("the retried e-mail", sink.received, WAIT_SECONDS)
        assert sink.refused == 1 and product["name"] in received["message"]["Subject"]

        def recorded() -> list[dict[str, Any]] | None:
            rows = outbox(database, shop.tenant_id)
            return rows if rows and rows[0]["delivered_at"] is not None else None

        [row] = wait_until("the delivery recorded", recorded)
        assert row["attempts"] == 2 and row["codes"] == [451, 0] and row["last_error"] is None
        assert received["message"]["X-Makhzan-Delivery"] == str(row["delivery_id"])
        time.sleep(0.5)
        assert len(sink.received()) == 1
    finally:
        sink.close()


def test_a_rolled_back_sale_sends_no_e_mail(mail_server: tuple[ServerProcess, str], sink: SmtpSink) -> None:
    server, database = mail_server
    shop = new_shop(server.url, database)
    shop.admin.ok("PUT", "/settings/email", settings(sink))
    crossing, scarce = shop.product(threshold="5"), shop.product()
    shop.receive(crossing["id"], "10")
    shop.receive(scarce["id"], "1")
    # The first line alone would cross the threshold; the second refuses the whole basket.
    refused = shop.admin.post("/sales", {"id": str(uuid.uuid4()), "location_id": shop.store, "lines": [
        {"product_id": crossing["id"], "quantity": "6"}, {"product_id": scarce["id"], "quantity": "2"}]})
    assert refused.status_code == 409, refused.text
    assert outbox(database, shop.tenant_id) == []
    # The same crossing sold alone is mailed, and is the only e-mail: the silence was the rollback's.
    sale = sell(shop.admin, shop.store, crossing["id"], "6")
    [received] = wait_until("the later sale's e-mail", sink.received, WAIT_SECONDS)
    time.sleep(0.5)
    assert len(sink.received()) == 1
    [alert] = alerts(shop.admin, expect=1)
    assert alert["document_id"] == sale["id"] and crossing["name"] in received["message"]["Subject"]


def test_disabled_or_without_recipients_queues_nothing(mail_server: tuple[ServerProcess, str],
                                                       sink: SmtpSink) -> None:
    server, database = mail_server
    shop = new_shop(server.url, database)
    product = shop.product(threshold="5")
    shop.receive(product["id"], "100")
    shop.admin.ok("PUT", "/settings/email", settings(sink, enabled=False))
    sell(shop.admin, shop.store, product["id"], "95")
    shop.receive(product["id"], "10")
    shop.admin.ok("PUT", "/settings/email", settings(sink, alert_recipients=[]))
    sell(shop.admin, shop.store, product["id"], "10")
    assert len(alerts(shop.admin, expect=2)) == 2
    assert outbox(database, shop.tenant_id) == []


def test_an_e_mail_committed_before_a_sigkill_is_sent_after_restart(databases: Databases, sink: SmtpSink) -> None:
    database = databases.fresh()
    # The first server looks at the outbox as it starts, then not again during the test.
    first = ServerProcess(database, env={"MAKHZAN_SMTP_POLL_SECONDS": "60"}).start()
    restarted: ServerProcess | None = None
    try:
        shop = new_shop(first.url, database)
        shop.admin.ok("PUT", "/settings/email", settings(sink))
        product = shop.product(threshold="5")
        shop.receive(product["id"], "10")
        sell(shop.admin, shop.store, product["id"], "6")
        first.kill()
        [pending] = outbox(database, shop.tenant_id)
        assert (pending["attempts"], pending["delivered_at"]) == (0, None) and sink.received() == []

        restarted = ServerProcess(database, env=EAGER_MAIL).start()
        [received] = wait_until("the e-mail after restart", sink.received, WAIT_SECONDS)
        assert received["message"]["X-Makhzan-Delivery"] == str(pending["delivery_id"])
        wait_until("the delivery recorded", lambda: outbox(database, shop.tenant_id)[0]["delivered_at"])
        time.sleep(0.5)
        assert len(sink.received()) == 1
    finally:
        first.kill()
        if restarted is not None:
            restarted.stop()


def test_two_server_processes_send_each_e_mail_once(databases: Databases, sink: SmtpSink) -> None:
    database = databases.fresh()
    server = ServerProcess(database, workers=2, env=EAGER_MAIL).start()
    try:
        shop = new_shop(server.url, database)
        shop.admin.ok("PUT", "/settings/email", settings(sink))
        products = [shop.product(threshold="1") for _ in range(8)]
        for product in products:
            shop.receive(product["id"], "2")
        for product in products:
            sell(shop.admin, shop.store, product["id"], "1")
        received = wait_until("eight e-mails", lambda: len(sink.received()) >= 8 and sink.received(), WAIT_SECONDS)
        time.sleep(1.0)  # both workers looked again meanwhile
        received = sink.received()
        assert len(received) == 8
        assert len({r["message"]["X-Makhzan-Delivery"] for r in received}) == 8
        assert all(row["attempts"] == 1 for row in outbox(database, shop.tenant_id))
    finally:
        server.stop()


def test_the_morning_report_is_e_mailed_with_a_csv(databases: Databases, sink: SmtpSink) -> None:
    database = databases.fresh()
    server = ServerProcess(database, env={**EAGER_MAIL, "MAKHZAN_DAILY_REPORT_POLL_SECONDS": "0.2"}).start()
    try:
        shop = new_shop(server.url, database)
        shop.admin.ok("PUT", "/settings/email", settings(sink))
        salt = shop.product(threshold="5", name_ar="ملح")
        shop.receive(salt["id"], "2")
        # Two days older: at least yesterday's report is due on the real clock, whatever its hour.
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute("UPDATE tenants SET created_at = created_at - interval '2 days' WHERE tenant_id = %s",
                         (shop.tenant_id,))
        reports = wait_until("the kept reports", lambda: shop.admin.ok("GET", "/reports/daily")["reports"])
        received = wait_until("the report e-mails",
                              lambda: len(sink.received()) >= len(reports) and sink.received(), WAIT_SECONDS)
        assert len(received) == len(reports)
        assert sorted(r["message"]["Subject"].split("report ")[1][:10] for r in received) == sorted(
            r["date"] for r in reports)
        for item in received:
            message: EmailMessage = item["message"]
            assert item["to"] == ["owner@shop.example", "buyer@shop.example"]
            assert message["Subject"].startswith("[Test shop] Morning low-stock report ")
            assert ": 1 to reorder" in message["Subject"] and "تقرير المخزون المنخفض" in message["Subject"]
            text, html = parts(message)
            for body in (text, html):
                assert salt["name"] in body and "ملح" in body and "2.000" in body and "8.000" in body
            [attachment] = list(message.iter_attachments())
            assert attachment.get_filename().startswith("low-stock-")
            csv_text = attachment.get_content()
            if isinstance(csv_text, bytes):
                csv_text = csv_text.decode("utf-8")
            assert csv_text.lstrip("\ufeff").startswith("sku,name,name_ar,location")
            assert salt["sku"] in csv_text and "ملح" in csv_text
        # Each day's report is mailed once: nothing more arrives.
        time.sleep(1.0)
        assert len(sink.received()) == len(reports)
    finally:
        server.stop()


def test_settings_are_validated_and_the_password_never_returned(shop: Shop, sink: SmtpSink) -> None:
    assert shop.admin.get("/settings/email").status_code == 404
    good = settings(sink, username="shop", password="secret-1")
    for bad in ({"smtp_host": ""}, {"smtp_host": "bad host"}, {"smtp_host": "a..b"}, {"smtp_port": 0},
                {"smtp_port": 70000}, {"smtp_port": "twenty-five"}, {"security": "ssl"},
                {"from_address": "not an address"}, {"from_address": "a@b\r\nBcc: x@evil.example"},
                {"alert_recipients": ["ok@shop.example", "nope"]}, {"report_recipients": "owner@shop.example"},
                {"alert_recipients": [f"m{i}@shop.example" for i in range(51)]}, {"password": ""},
                {"username": "a\nb"}, {"enabled": "perhaps"}, {"extra": 1}):
        response = shop.admin.http.put("/settings/email", json={**good, **bad})
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"]["code"] == "invalid_request", bad
    for missing in ("smtp_host", "smtp_port", "security", "from_address"):
        body = {k: v for k, v in good.items() if k != missing}
        assert shop.admin.http.put("/settings/email", json=body).status_code == 422, missing
    # SMTP servers off the allow-list (loopback in the tests) are refused.
    outside = shop.admin.http.put("/settings/email", json={**good, "smtp_host": "smtp.example.com"})
    assert outside.status_code == 422 and outside.json()["error"]["details"]["field"] == "smtp_host"
    lonely = shop.admin.http.put("/settings/email", json={**good, "username": None})
    assert lonely.status_code == 422 and lonely.json()["error"]["details"]["field"] == "username"
    assert shop.admin.get("/settings/email").status_code == 404  # nothing was saved

    saved = shop.admin.ok("PUT", "/settings/email", good)
    assert saved["password_set"] is True and "password" not in saved
    # A PUT without the password keeps it (clients never see it, so cannot send it back).
    changed = shop.admin.ok("PUT", "/settings/email", {k: v for k, v in good.items() if k != "password"}
                            | {"security": "starttls", "smtp_host": "LOCALHOST"})
    assert (changed["security"], changed["smtp_host"], changed["password_set"]) == ("starttls", "localhost", True)
    got = shop.admin.ok("GET", "/settings/email")
    assert "password" not in got and got["password_set"] is True and "secret-1" not in str(got)
    cleared = shop.admin.ok("PUT", "/settings/email", {**good, "username": None, "password": None})
    assert cleared["password_set"] is False and cleared["username"] is None
    for role in ("manager", "cashier"):
        other = shop.key(role, shop.store if role == "cashier" else None)
        assert other.get("/settings/email").status_code == 403
        assert other.http.put("/settings/email", json=good).status_code == 403
