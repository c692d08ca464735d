"""SIGKILL the server between an alert's commit and its webhook delivery; the restarted server
delivers it (the outbox row survived), once, under the same delivery id.

The first server's delivery worker polls rarely: it looks at the outbox as it starts, before
the sale, and then sleeps far longer than the test takes to sell and kill. So the alert is
committed and never attempted; the test checks that in the database before going on.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row
from tests.integration.test_alerts import Receiver, alerts, assert_delivery, sell, subscribe, wait_until
from tests.support import Databases, ServerProcess, new_shop

# The first server: no second look at the outbox during the test.
SLEEPY_WORKER = {"MAKHZAN_WEBHOOK_POLL_SECONDS": "60"}
# The restarted server: looks often and retries soon.
EAGER_WORKER = {"MAKHZAN_WEBHOOK_POLL_SECONDS": "0.1", "MAKHZAN_WEBHOOK_BACKOFF_SECONDS": "0.2"}


def outbox(database_url: str, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's deliveries and their attempts, read as the database owner (no RLS)."""
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT d.delivery_id, d.payload, d.attempts, d.delivered_at,"
            "       (SELECT count(*) FROM webhook_attempts a"
            "        WHERE a.tenant_id = d.tenant_id AND a.delivery_id = d.delivery_id) AS logged"
            " FROM webhook_deliveries d WHERE d.tenant_id = %s ORDER BY d.created_at",
            (tenant_id,),
        ).fetchall()


def test_an_alert_committed_before_a_sigkill_is_delivered_after_restart(databases: Databases) -> None:
    database = databases.fresh()
    first = ServerProcess(database, env=SLEEPY_WORKER).start()
    restarted: ServerProcess | None = None
    receiver = Receiver()
    try:
        shop = new_shop(first.url, database)
        subscribe(shop.admin, receiver)
        product = shop.product(threshold="5")
        shop.receive(product["id"], "10")
        sale = sell(shop.admin, shop.store, product["id"], "6")  # 10 -> 4: crosses
        # Killed right after the sale's answer: no shutdown hook, no delivery.
        first.kill()

        [pending] = outbox(database, shop.tenant_id)
        assert (pending["delivered_at"], pending["attempts"], pending["logged"]) == (None, 0, 0)
        assert receiver.received() == []

        restarted = ServerProcess(database, env=EAGER_WORKER).start()
        shop.admin.http.base_url = f"{restarted.url}/api/v1"
        [alert] = alerts(shop.admin, expect=1)
        assert alert["document_id"] == sale["id"]
        [request] = wait_until("the delivery after restart", receiver.received)
        assert_delivery(request, alert)
        assert request["headers"]["X-Makhzan-Delivery"] == str(pending["delivery_id"])

        [delivered] = wait_until("the delivery recorded",
                                 lambda: [d for d in outbox(database, shop.tenant_id) if d["delivered_at"]])
        assert (delivered["delivery_id"], delivered["attempts"], delivered["logged"]) == (pending["delivery_id"], 1, 1)
        time.sleep(1.0)  # ten polls of the restarted worker: nothing more is sent
        # A repeat would be allowed by the contract, but only under the same delivery id.
        assert {r["headers"]["X-Makhzan-Delivery"] for r in receiver.received()} == {str(pending["delivery_id"])}
        assert len(receiver.received()) == 1
    finally:
        receiver.close()
        first.kill()
        if restarted is not None:
            restarted.stop()


def test_a_refused_sale_delivers_nothing_even_after_restart(databases: Databases) -> None:
    database = databases.fresh()
    first = ServerProcess(database, env=SLEEPY_WORKER).start()
    restarted: ServerProcess | None = None
    receiver = Receiver()
    try:
        shop = new_shop(first.url, database)
        subscribe(shop.admin, receiver)
        crossing, scarce = shop.product(threshold="5"), shop.product()
        shop.receive(crossing["id"], "10")
        shop.receive(scarce["id"], "1")
        # The first line alone would cross the threshold; the second refuses the whole basket.
        refused = shop.admin.post("/sales", {"id": str(uuid.uuid4()), "location_id": shop.store, "lines": [
            {"product_id": crossing["id"], "quantity": "6"}, {"product_id": scarce["id"], "quantity": "2"}]})
        assert refused.status_code == 409, refused.text
        first.kill()
        assert outbox(database, shop.tenant_id) == []

        restarted = ServerProcess(database, env=EAGER_WORKER).start()
        shop.admin.http.base_url = f"{restarted.url}/api/v1"
        time.sleep(1.0)  # ten polls of the restarted worker
        assert alerts(shop.admin) == [] and receiver.received() == []
        assert shop.level(crossing["id"]) == 10

        # The same crossing, sold alone, is alerted and delivered: the silence above was the rollback's.
        sale = sell(shop.admin, shop.store, crossing["id"], "6")
        [alert] = alerts(shop.admin, expect=1)
        assert alert["document_id"] == sale["id"]
        [request] = wait_until("the later sale's delivery", receiver.received)
        assert_delivery(request, alert)
    finally:
        receiver.close()
        first.kill()
        if restarted is not None:
            restarted.stop()
