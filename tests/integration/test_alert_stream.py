"""The live stream of low-stock alerts (Server-Sent Events) against a real server process.

Every read of the stream is bounded by an httpx read timeout and an overall deadline, so a
missing event fails the test instead of hanging it; every stream is closed by its test.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
from tests.integration.test_alerts import alerts
from tests.support import Api, Databases, ServerProcess, Shop, new_shop

WAIT_SECONDS = 10.0


class Stream:
    """One open ``GET /alerts/stream``: a thread reads its lines, tests wait on them with a timeout."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, args=(response,), daemon=True)
        self.reader.start()

    def _read(self, response: httpx.Response) -> None:
        try:
            for line in response.iter_lines():
                self.lines.put(line)
        except httpx.HTTPError:
            pass  # closed by the test, or timed out: the waits below report what is missing
        finally:
            self.lines.put(None)

    def next_event(self, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
        """The next event (comments skipped); fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        fields: dict[str, str] = {}
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("no event in time") from None
            if line is None:
                raise AssertionError("the stream ended")
            if line == "":
                if fields:
                    return {**fields, "data": json.loads(fields["data"])}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")

    def no_event_for(self, seconds: float) -> None:
        try:
            event = self.next_event(seconds)
        except AssertionError:
            return
        raise AssertionError(f"unexpected event {event}")


@contextmanager
def stream(server_url: str, key: str, query: str = "", headers: dict[str, str] | None = None) -> Iterator[Stream]:
    # Longer than the server's keep-alive interval: an idle stream is not a dead one.
    timeout = httpx.Timeout(10, read=30)
    auth = {"Authorization": f"Bearer {key}", **(headers or {})}
    with (httpx.Client(base_url=f"{server_url}/api/v1", timeout=timeout, headers=auth) as http,
          http.stream("GET", f"/alerts/stream{query}") as response):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        events = Stream(response)
        try:
            yield events
        finally:
            # Wake the reader thread blocked in recv(): closing the socket from this thread alone
            # would leave the connection open (and the server streaming) until that read returns.
            response.extensions["network_stream"].get_extra_info("socket").shutdown(socket.SHUT_RDWR)
            events.reader.join(5)


def sell(api: Api, location: str, product_id: str, quantity: str) -> str:
    sale_id = str(uuid.uuid4())
    api.ok("POST", "/sales", {"id": sale_id, "location_id": location,
                              "lines": [{"product_id": product_id, "quantity": quantity}]}, 201)
    return sale_id


def listed_alerts(api: Api, expect: int | None = None) -> list[dict[str, Any]]:
    return alerts(api, expect=expect)


def test_a_sale_crossing_the_threshold_is_streamed_at_once(shop: Shop) -> None:
    manager = shop.key("manager")
    product = shop.product(threshold="5")
    shop.receive(product["id"], "10")
    with stream(shop.server_url, manager.key) as events:
        sell(shop.admin, shop.store, product["id"], "2")  # 10 -> 8: above, nothing
        started = time.monotonic()
        sale_id = sell(shop.admin, shop.store, product["id"], "3")  # 8 -> 5: crosses
        event = events.next_event()
        assert time.monotonic() - started < 5
        [alert] = listed_alerts(shop.admin)
        assert event["event"] == "low_stock"
        assert event["id"].endswith(f":{alert['id']}")
        assert event["data"] == alert  # the same representation as GET /alerts
        assert (alert["document_id"], alert["quantity_after"], alert["threshold"]) == (sale_id, "5.000", "5.000")
        sell(shop.admin, shop.store, product["id"], "1")  # below to below: nothing new
        events.no_event_for(1.5)


def test_replay_after_since_and_resume_after_last_event_id(shop: Shop) -> None:
    manager = shop.key("manager")
    first, second = shop.product(threshold="3"), shop.product(threshold="3")
    for product in (first, second):
        shop.receive(product["id"], "5")
    sell(shop.admin, shop.store, first["id"], "2")
    [old] = listed_alerts(shop.admin, expect=1)

    # Without a cursor the stream starts now: the earlier alert is not replayed.
    with stream(shop.server_url, manager.key) as events:
        events.no_event_for(1.5)
    with stream(shop.server_url, manager.key, "?since=1970-01-01T00:00:00Z") as events:
        replayed = events.next_event()
    assert replayed["data"]["id"] == old["id"]

    sell(shop.admin, shop.store, second["id"], "2")  # raised while nobody listens
    with stream(shop.server_url, manager.key, headers={"Last-Event-ID": replayed["id"]}) as events:
        missed = events.next_event()
        assert missed["data"]["product_id"] == second["id"]
        events.no_event_for(1.5)  # the alert before Last-Event-ID is not sent again


def test_a_location_bound_manager_streams_only_its_location(shop: Shop) -> None:
    bound = shop.key("manager", shop.store)
    product = shop.product(threshold="5")
    shop.receive(product["id"], "10", shop.warehouse)
    shop.receive(product["id"], "10", shop.store)
    with stream(shop.server_url, bound.key) as events:
        shop.admin.ok("POST", "/adjustments", {"id": str(uuid.uuid4()), "location_id": shop.warehouse,
                                               "reason": "damage",
                                               "lines": [{"product_id": product["id"], "delta": "-6"}]}, 201)
        sell(shop.admin, shop.store, product["id"], "6")
        event = events.next_event()
        assert event["data"]["location_id"] == shop.store
        events.no_event_for(1.5)
    assert len(listed_alerts(shop.admin)) == 2
    with httpx.Client(timeout=10) as http:
        auth = {"Authorization": f"Bearer {bound.key}"}
        other = http.get(f"{shop.server_url}/api/v1/alerts/stream?location_id={shop.warehouse}", headers=auth)
        assert other.status_code == 403
        cashier = {"Authorization": f"Bearer {shop.key('cashier', shop.store).key}"}
        assert http.get(f"{shop.server_url}/api/v1/alerts/stream", headers=cashier).status_code == 403
        bad = http.get(f"{shop.server_url}/api/v1/alerts/stream", headers={**auth, "Last-Event-ID": "yesterday"})
        assert bad.status_code == 422
        naive = http.get(f"{shop.server_url}/api/v1/alerts/stream?since=2026-01-01T00:00:00", headers=auth)
        assert naive.status_code == 422


def test_open_streams_hold_no_pool_connection(databases: Databases) -> None:
    """More streams than the pool has connections: every one still gets the event, and the API answers."""
    database = databases.fresh()
    server = ServerProcess(database, env={"MAKHZAN_POOL_MIN": "1", "MAKHZAN_POOL_MAX": "2"}).start()
    try:
        shop = new_shop(server.url, database)
        manager = shop.key("manager").key
        product = shop.product(threshold="1")
        shop.receive(product["id"], "3")
        streams = 6
        ready = threading.Barrier(streams + 1, timeout=30)
        received: list[str] = []
        lock = threading.Lock()

        def listen() -> None:
            with stream(server.url, manager) as events:
                ready.wait()
                event = events.next_event()
                with lock:
                    received.append(event["data"]["id"])

        threads = [threading.Thread(target=listen, daemon=True) for _ in range(streams)]
        for thread in threads:
            thread.start()
        ready.wait()
        sell(shop.admin, shop.store, product["id"], "2")
        for thread in threads:
            thread.join(WAIT_SECONDS + 5)
        [alert] = listed_alerts(shop.admin)
        assert received == [alert["id"]] * streams
    finally:
        server.stop()


def test_the_stream_holds_back_until_an_older_transaction_commits(shop: Shop, app_database: str) -> None:
    manager = shop.key("manager")
    early, late = shop.product(threshold="5"), shop.product(threshold="5")
    for product in (early, late):
        shop.receive(product["id"], "10")
    with stream(shop.server_url, manager.key) as events, psycopg.connect(app_database) as slow:
        # A sale that has written its alert but not committed yet; a later one commits first.
        slow.execute("INSERT INTO alerts (tenant_id, product_id, location_id, quantity_after, threshold, document_id)"
                     " VALUES (%s, %s, %s, 4, 5, %s)", (shop.tenant_id, early["id"], shop.store, uuid.uuid4()))
        sell(shop.admin, shop.store, late["id"], "6")
        events.no_event_for(1.5)
        slow.commit()
        first, second = events.next_event(), events.next_event()
        assert (first["data"]["product_id"], second["data"]["product_id"]) == (early["id"], late["id"])
        events.no_event_for(1.0)
    # Resuming after the first event sends the second again, and only it.
    with stream(shop.server_url, manager.key, headers={"Last-Event-ID": first["id"]}) as events:
        assert events.next_event()["data"]["id"] == second["data"]["id"]
        events.no_event_for(1.0)
