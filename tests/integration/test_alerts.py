"""Low-stock alerts raised in the sale's transaction, and their webhooks delivered after commit.

The receiver is a real HTTP server on loopback that checks every signature; the server under
test is a real process whose delivery worker posts to it. Waits are bounded polls.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest
from tests.support import Api, Databases, ServerProcess, Shop, new_shop

SECRET = "s3cret-for-the-tests-0123456789"
WAIT_SECONDS = 10.0


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers with ``statuses`` in turn, then 200."""

    def __init__(self, secret: str = SECRET, statuses: list[int] | None = None) -> None:
        self.secret = secret
        self.statuses = list(statuses or [])
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 -- the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                expected = "sha256=" + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                with receiver.lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.requests.append({
                        "path": self.path, "headers": dict(self.headers), "body": body, "status": status,
                        "signed": hmac.compare_digest(self.headers.get("X-Makhzan-Signature", ""), expected),
                    })
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def received(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def wait_until(what: str, check: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def at_least(receiver: Receiver, count: int) -> Callable[[], list[dict[str, Any]] | None]:
    def check() -> list[dict[str, Any]] | None:
        received = receiver.received()
        return received if len(received) >= count else None
    return check


def subscribe(admin: Api, receiver: Receiver) -> dict[str, Any]:
    webhook: dict[str, Any] = admin.ok("POST", "/webhooks", {"url": receiver.url, "secret": receiver.secret,
                                                             "events": ["low_stock"]}, 201)
    return webhook


def sell(api: Api, location: str, product_id: str, quantity: str, status: int = 201) -> dict[str, Any]:
    body = {"id": str(uuid.uuid4()), "location_id": location,
            "lines": [{"product_id": product_id, "quantity": quantity}]}
    result: dict[str, Any] = api.ok("POST", "/sales", body, status)
    return result if status != 201 else {**result, "id": body["id"]}


def alerts(api: Api, query: str = "", expect: int | None = None) -> list[dict[str, Any]]:
    """The listed alerts; with ``expect``, once at least that many are listed.

    An alert is listed once every transaction older than its own has ended (the cursor's
    horizon); on a database shared with other work that can take a moment.
    """
    def listed() -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = api.ok("GET", f"/alerts{query}")["alerts"]
        return result

    if expect is None:
        return listed()

    def enough() -> list[dict[str, Any]] | None:
        found = listed()
        return found if len(found) >= expect else None

    result: list[dict[str, Any]] = wait_until(f"{expect} alerts listed", enough)
    return result


def assert_delivery(request: dict[str, Any], alert: dict[str, Any]) -> None:
    assert request["signed"], request["headers"]
    assert request["headers"]["X-Makhzan-Event"] == "low_stock"
    uuid.UUID(request["headers"]["X-Makhzan-Delivery"])
    payload = json.loads(request["body"])
    assert payload["event"] == "low_stock"
    delivered = payload["alert"]
    assert delivered["id"] == alert["id"]
    for field in ("product_id", "location_id", "quantity_after", "threshold", "document_id"):
        assert delivered[field] == alert[field], field


def test_one_alert_and_one_signed_delivery_per_crossing(shop: Shop, receiver: Receiver) -> None:
    webhook = subscribe(shop.admin, receiver)
    assert "secret" not in webhook and webhook["events"] == ["low_stock"] and webhook["active"] is True
    listed = shop.admin.ok("GET", "/webhooks")["webhooks"]
    assert [w["id"] for w in listed] == [webhook["id"]] and all("secret" not in w for w in listed)
    product = shop.product(threshold="5")
    shop.receive(product["id"], "10")

    first_sale = sell(shop.admin, shop.store, product["id"], "5")  # 10 -> 5: at the threshold
    [first] = alerts(shop.admin, expect=1)
    assert (first["kind"], first["product_id"], first["location_id"]) == ("low_stock", product["id"], shop.store)
    assert (first["quantity_after"], first["threshold"]) == ("5.000", "5.000")
    assert first["document_id"] == first_sale["id"] and first["acknowledged_at"] is None
    [request] = wait_until("the first delivery", receiver.received)
    assert_delivery(request, first)

    sell(shop.admin, shop.store, product["id"], "1")  # 5 -> 4: below to below, nothing new
    assert len(alerts(shop.admin)) == 1
    shop.receive(product["id"], "10")  # back above: 14
    second_sale = sell(shop.admin, shop.store, product["id"], "10")  # 14 -> 4: a second crossing
    [_, second] = alerts(shop.admin, expect=2)  # oldest first
    assert second["document_id"] == second_sale["id"] and second["quantity_after"] == "4.000"
    requests = wait_until("the second delivery", at_least(receiver, 2))
    assert len(requests) == 2
    assert_delivery(requests[1], second)
    assert requests[0]["headers"]["X-Makhzan-Delivery"] != requests[1]["headers"]["X-Makhzan-Delivery"]
    assert [a["id"] for a in alerts(shop.admin, f"?since={first['created_at'].replace('+', '%2B')}")] == [second["id"]]

    acknowledged = shop.admin.ok("POST", f"/alerts/{first['id']}/acknowledge")
    assert acknowledged["acknowledged_at"] is not None and acknowledged["id"] == first["id"]
    again = shop.admin.ok("POST", f"/alerts/{first['id']}/acknowledge")
    assert again["acknowledged_at"] == acknowledged["acknowledged_at"]
    assert shop.admin.post(f"/alerts/{uuid.uuid4()}/acknowledge").status_code == 404
    cashier = shop.key("cashier", shop.store)
    assert cashier.get("/alerts").status_code == 403
    assert cashier.get("/webhooks").status_code == 403
    assert shop.admin.get("/alerts?since=2026-01-01T00:00:00").status_code == 422


def test_refused_sale_raises_nothing_and_documents_raise_like_sales(shop: Shop, receiver: Receiver) -> None:
    subscribe(shop.admin, receiver)
    product = shop.product(threshold="5")
    shop.receive(product["id"], "6")
    refused = sell(shop.admin, shop.store, product["id"], "10", status=409)
    assert refused["error"]["code"] == "insufficient_stock"
    assert alerts(shop.admin) == []

    # A transfer out of the store crosses like a sale would (6 -> 3); its delivery comes after
    # any the refused sale could have queued, so seeing only this one proves there was none.
    transfer_id = str(uuid.uuid4())
    shop.admin.ok("POST", "/transfers", {"id": transfer_id, "from_location_id": shop.store,
                                         "to_location_id": shop.warehouse,
                                         "lines": [{"product_id": product["id"], "quantity": "3"}]}, 201)
    [alert] = alerts(shop.admin, expect=1)
    assert alert["document_id"] == transfer_id and alert["location_id"] == shop.store
    [request] = wait_until("the transfer's delivery", receiver.received)
    assert_delivery(request, alert)

    # A count back above, then an adjustment down across it: a second alert.
    shop.admin.ok("POST", "/counts", {"id": str(uuid.uuid4()), "location_id": shop.store,
                                      "lines": [{"product_id": product["id"], "counted": "9"}]}, 201)
    adjustment_id = str(uuid.uuid4())
    shop.admin.ok("POST", "/adjustments", {"id": adjustment_id, "location_id": shop.store, "reason": "damage",
                                           "lines": [{"product_id": product["id"], "delta": "-4"}]}, 201)
    assert [a["document_id"] for a in alerts(shop.admin, expect=2)] == [transfer_id, adjustment_id]
    wait_until("the adjustment's delivery", lambda: len(receiver.received()) == 2)


def test_webhook_registration_is_validated(shop: Shop) -> None:
    good = {"url": "https://localhost/hooks/makhzan", "secret": "x" * 16, "events": ["low_stock", "daily_report"]}
    for bad in ({"url": "ftp://example.com/x"}, {"url": "not a url"}, {"url": "https:///nohost"},
                {"secret": "short"}, {"secret": "x" * 201}, {"events": ["stock_exploded"]}, {"events": []},
                {"extra": 1}):
        response = shop.admin.post("/webhooks", {**good, **bad})
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"]["code"] == "invalid_request"
    manager = shop.key("manager")
    assert manager.post("/webhooks", good).status_code == 403
    created = shop.admin.ok("POST", "/webhooks", good, 201)
    assert created["url"] == good["url"] and "secret" not in created


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(databases: Databases) -> None:
    database = databases.fresh()
    server = ServerProcess(database, env={"MAKHZAN_WEBHOOK_BACKOFF_SECONDS": "0.1"}).start()
    receiver = Receiver(statuses=[500, 500])
    try:
        shop = new_shop(server.url, database)
        subscribe(shop.admin, receiver)
        product = shop.product(threshold="2")
        shop.receive(product["id"], "3")
        sell(shop.admin, shop.store, product["id"], "1")
        [alert] = alerts(shop.admin, expect=1)
        requests = wait_until("three attempts", at_least(receiver, 3))
        assert [r["status"] for r in requests] == [500, 500, 200]
        assert len({r["headers"]["X-Makhzan-Delivery"] for r in requests}) == 1
        for request in requests:
            assert_delivery(request, alert)
        delivery_id = requests[0]["headers"]["X-Makhzan-Delivery"]

        def recorded() -> Any:
            with psycopg.connect(database) as conn:
                row = conn.execute("SELECT attempts, delivered_at, last_error FROM webhook_deliveries"
                                   " WHERE delivery_id = %s", (delivery_id,)).fetchone()
                codes = [r[0] for r in conn.execute("SELECT status_code FROM webhook_attempts WHERE delivery_id = %s"
                                                    " ORDER BY attempt_id", (delivery_id,))]
            return (row, codes) if row and row[1] is not None else None

        (attempts, _, last_error), codes = wait_until("the delivery recorded", recorded)
        assert attempts == 3 and last_error is None and codes == [500, 500, 200]
        time.sleep(0.5)
        assert len(receiver.received()) == 3  # delivered: never sent again
    finally:
        receiver.close()
        server.stop()


def test_fifty_concurrent_sales_crossing_one_threshold_raise_one_alert(shop: Shop, receiver: Receiver) -> None:
    subscribe(shop.admin, receiver)
    product = shop.product(threshold="10")
    shop.receive(product["id"], "30")
    key = shop.key("cashier", shop.store).key
    barrier = threading.Barrier(50, timeout=30)

    def till(_: int) -> int:
        api = Api(shop.server_url, key)
        try:
            barrier.wait()
            body = {"id": str(uuid.uuid4()), "location_id": shop.store,
                    "lines": [{"product_id": product["id"], "quantity": "1"}]}
            return api.post("/sales", body).status_code
        finally:
            api.http.close()

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = sorted(pool.map(till, range(50)))
    assert statuses == [201] * 30 + [409] * 20
    [alert] = alerts(shop.admin, expect=1)
    assert alert["quantity_after"] == "10.000"
    [request] = wait_until("the delivery", receiver.received)
    assert_delivery(request, alert)
    time.sleep(0.5)
    assert len(receiver.received()) == 1


def test_webhooks_only_to_allowed_hosts(shop: Shop) -> None:
    # The test servers allow loopback only (tests/support.py): nothing leaves the machine.
    refused = shop.admin.post("/webhooks", {"url": "http://receiver.example.com/hook", "secret": "s" * 20,
                                            "events": ["low_stock"]})
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["field"] == "url"
    allowed = shop.admin.post("/webhooks", {"url": "http://127.0.0.1:9/hook", "secret": "s" * 20,
                                            "events": ["low_stock"]})
    assert allowed.status_code == 201


def test_a_cursor_never_skips_an_alert_that_commits_late(shop: Shop, app_database: str) -> None:
    """An alert stamped before another but committed after it: a cursor on the time would have
    passed it; the transaction-id cursor holds back until it commits, then lists both."""
    early, late = shop.product(threshold="5"), shop.product(threshold="5")
    for product in (early, late):
        shop.receive(product["id"], "10")
    start = shop.admin.ok("GET", "/alerts")["next_cursor"]
    with psycopg.connect(app_database) as slow:
        # A sale that has written its alert (stamped now) but not committed yet.
        slow.execute("INSERT INTO alerts (tenant_id, product_id, location_id, quantity_after, threshold, document_id)"
                     " VALUES (%s, %s, %s, 4, 5, %s)", (shop.tenant_id, early["id"], shop.store, uuid.uuid4()))
        sale = sell(shop.admin, shop.store, late["id"], "6")  # commits first, stamped later
        time.sleep(0.3)
        page = shop.admin.ok("GET", f"/alerts?cursor={start}")
        # Not listed yet: an alert of an older transaction may still appear before it.
        assert page["alerts"] == []
        cursor = page["next_cursor"]
        slow.commit()
    page = wait_until("both alerts", lambda: (p := shop.admin.ok("GET", f"/alerts?cursor={cursor}"))["alerts"]
                      and len(p["alerts"]) == 2 and p)
    first, second = page["alerts"]
    assert first["product_id"] == early["id"] and second["document_id"] == sale["id"]
    assert first["created_at"] < second["created_at"]
    assert shop.admin.ok("GET", f"/alerts?cursor={page['next_cursor']}")["alerts"] == []
    # Pages of one: the same two, in the same order, each once.
    one = shop.admin.ok("GET", f"/alerts?cursor={cursor}&limit=1")
    two = shop.admin.ok("GET", f"/alerts?cursor={one['next_cursor']}&limit=1")
    assert [a["id"] for a in one["alerts"] + two["alerts"]] == [first["id"], second["id"]]
    assert one["next_since"] == first["created_at"]
    # A time still works (RFC 3339): pages by time with next_since, as before cursors, and a
    # page that is not full hands over to cursors.
    since = first["created_at"].replace("+", "%2B")
    assert [a["id"] for a in shop.admin.ok("GET", f"/alerts?since={since}")["alerts"]] == [second["id"]]
    by_time: list[str] = []
    moment = "1970-01-01T00:00:00Z"
    while True:
        page = shop.admin.get("/alerts", params={"since": moment, "limit": 1}).json()
        by_time += [a["id"] for a in page["alerts"]]
        if page["next_since"] is None:
            break
        assert page["next_cursor"] is None  # a full page by time: go on by time
        moment = page["next_since"]
    assert by_time == [first["id"], second["id"]] and page["next_cursor"] is not None
    assert shop.admin.ok("GET", f"/alerts?cursor={page['next_cursor']}")["alerts"] == []
    # Both: the cursor's order, filtered by the time.
    assert [a["id"] for a in shop.admin.ok("GET", f"/alerts?cursor={cursor}&since={since}")["alerts"]] == [
        second["id"]]
    for bad in ("yesterday", "12", ":", "12:not-a-uuid", f"{2**64}:{uuid.UUID(int=0)}", "-1:" + str(uuid.uuid4())):
        response = shop.admin.get("/alerts", params={"cursor": bad})
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"]["details"]["field"] == "cursor"
