"""The terminal agent as a real process between a POS program and a real central server.

A loopback TCP proxy sits between the agent and central so a test can cut the link, or let a
request through and drop central's response after central committed (the classic duplicate).
Processes are SIGKILLed, never asked to stop, where the point is to survive a crash.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from tests.support import Api, ServerProcess, Shop, ean13, free_port, ledger_drift, new_shop

# Timers shortened for tests; a shop runs with the defaults.
AGENT_ENV = {
    "MAKHZAN_AGENT_POLL_SECONDS": "0.2", "MAKHZAN_AGENT_BACKOFF_BASE": "0.1", "MAKHZAN_AGENT_BACKOFF_MAX": "0.5",
    "MAKHZAN_AGENT_FORWARD_TIMEOUT": "3", "MAKHZAN_AGENT_OFFLINE_GRACE": "0.5", "MAKHZAN_AGENT_STOCK_SECONDS": "0.5",
}


class Proxy:
    """Loopback TCP relay to central with three modes: pass, down (refuse), drop (forward the
    request, swallow central's response and cut the connection)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.mode = "pass"
        self.dropped = 0
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        # Kept-alive connections would otherwise carry on in the old mode.
        with self._lock:
            for s in list(self._sockets):
                _close(s)
            self._sockets.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.mode == "down":
                _close(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_central: bool) -> None:
        try:
            while data := source.recv(65536):
                if from_central and self.mode == "drop":
                    # Central has answered, so it has committed: the answer never reaches the agent.
                    self.dropped += 1
                    break
                target.sendall(data)
        except OSError:
            pass
        _close(source)
        _close(target)

    def close(self) -> None:
        _close(self.listener)
        self.set_mode("down")


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    s.close()


class AgentProcess:
    """``makhzan agent`` in its own process on a loopback port."""

    def __init__(self, central_url: str, key: str, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.central_url, self.key, self.data_dir = central_url, key, data_dir
        self.extra_env = {**AGENT_ENV, **(env or {})}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.mkstemp(prefix="makhzan-agent-", suffix=".log")[1])
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def start(self, timeout: float = 30) -> AgentProcess:
        command = [sys.executable, "-c", "from makhzan.cli import main; main()", "agent",
                   "--central", self.central_url, "--key", self.key, "--port", str(self.port),
                   "--data", str(self.data_dir)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(command, env={**os.environ, **self.extra_env}, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent exited:\n{self.log.read_text()[-4000:]}")
            try:
                if self.http.get("/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"agent did not start:\n{self.log.read_text()[-4000:]}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def status(self) -> dict[str, Any]:
        response = self.http.get("/agent/status")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def sell(self, lines: list[dict[str, Any]], sale_id: str | None = None, **extra: Any) -> httpx.Response:
        return self.http.post("/api/v1/sales", json={"id": sale_id or str(uuid.uuid4()), "lines": lines, **extra})

    def wait_for(self, what: str, check: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if check(status):
                return status
            time.sleep(0.05)
        raise AssertionError(f"agent never reached {what}: {self.status()}\n{self.log.read_text()[-3000:]}")


@pytest.fixture
def central(app_database: str) -> Iterator[ServerProcess]:
    """A central server of this test's own, so it can be killed without touching the others."""
    process = ServerProcess(app_database).start()
    yield process
    process.kill()


@pytest.fixture
def proxy(central: ServerProcess) -> Iterator[Proxy]:
    relay = Proxy(central.port)
    yield relay
    relay.close()


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[list[AgentProcess]]:
    started: list[AgentProcess] = []
    yield started
    for agent in started:
        agent.kill()


def start_agent(agents: list[AgentProcess], central_url: str, key: str, data_dir: Path) -> AgentProcess:
    agent = AgentProcess(central_url, key, data_dir).start()
    agents.append(agent)
    return agent


def till_shop(central: ServerProcess, app_database: str, stock: str = "100") -> tuple[Shop, Api, dict[str, Any]]:
    shop = new_shop(central.url, app_database)
    product = shop.product(price="1.250")
    shop.receive(product["id"], stock)
    return shop, shop.key("cashier", shop.store), product


def synced(agent: AgentProcess, products: int = 1) -> dict[str, Any]:
    return agent.wait_for("a synced catalog", lambda s: s["online"] and s["products"] >= products
                          and s["location_id"] is not None)


def sale_count(database_url: str, tenant_id: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM sales WHERE tenant_id = %s", (tenant_id,)).fetchone()
        assert row is not None
        return int(row[0])


def movements_of(database_url: str, tenant_id: str, product_id: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM stock_movements WHERE tenant_id = %s AND product_id = %s "
                           "AND kind = 'sale'", (tenant_id, product_id)).fetchone()
        assert row is not None
        return int(row[0])


# --- online ------------------------------------------------------------------------------------


def test_online_scan_and_sale_go_through_central(central: ServerProcess, app_database: str,
                                                 agents: list[AgentProcess], tmp_path: Path) -> None:
    shop, till, product = till_shop(central, app_database, stock="5")
    agent = start_agent(agents, central.url, till.key, tmp_path / "agent")
    synced(agent)
    code = product["barcodes"][0]["barcode"]
    scanned = agent.http.get(f"/api/v1/scan/{code}").json()
    assert scanned["product"]["id"] == product["id"] and scanned["product"]["price"] == "1.250"
    assert scanned["stock"]["location_id"] == shop.store and scanned["stock"]["quantity"] == "5.000"
    assert scanned["stock"]["as_of"] is not None

    sold = agent.sell([{"barcode": code, "quantity": "2"}])
    assert sold.status_code == 201, sold.text
    assert sold.json()["offline"] is False and sold.json()["total"] == "2.500"
    assert shop.level(product["id"]) == Decimal("3")
    assert agent.http.get(f"/api/v1/sales/{sold.json()['id']}").json()["lines"] == sold.json()["lines"]
    # A sale made at another till is asked of central.
    elsewhere = till.ok("POST", "/sales", {"id": str(uuid.uuid4()), "lines": [{"barcode": code}]}, 201)
    assert agent.http.get(f"/api/v1/sales/{elsewhere['id']}").json()["total"] == elsewhere["total"]
    assert agent.http.get(f"/api/v1/sales/{uuid.uuid4()}").status_code == 404
    # Retried: the same answer, nothing sold twice.
    again = agent.sell([{"barcode": code, "quantity": "2"}], sale_id=sold.json()["id"])
    assert again.status_code == 200 and again.json()["lines"] == sold.json()["lines"]
    # Central's refusal reaches the POS program as it is, and nothing is kept to sync.
    refused = agent.sell([{"barcode": code, "quantity": "4"}])
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "insufficient_stock"
    assert refused.json()["error"]["details"]["lines"][0]["available"] == "2.000"
    assert agent.status()["pending_sales"] == 0
    assert shop.level(product["id"]) == Decimal("2")
    # Bad input is refused locally with the API's error shape.
    bad = agent.http.post("/api/v1/sales", json={"id": "nope", "lines": []})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    assert agent.http.get("/api/v1/scan/699999999999").status_code in (404, 422)
    # Local callers send no key; one who sends a key must send the agent's.
    assert agent.http.get("/agent/status", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert agent.http.get("/agent/status", headers={"Authorization": f"Bearer {till.key}"}).status_code == 200
    settings = agent.http.get("/api/v1/settings").json()
    assert settings["base_currency"] == "USD" and Decimal(settings["lbp_rate"]) > 0
    found = agent.http.get("/api/v1/products", params={"q": product["sku"].lower()}).json()["products"]
    assert [p["id"] for p in found] == [product["id"]]
    # The POS screen is served by the agent too, with its script, for a till with no network.
    page = agent.http.get("/till")
    assert page.status_code == 200 and "/static/till.js" in page.text
    assert agent.http.get("/static/till.js").status_code == 200


# --- blackouts and crashes ------------------------------------------------------------------------


def test_agent_knows_its_store_from_its_key_before_any_stock(central: ServerProcess, app_database: str,
                                                              agents: list[AgentProcess], tmp_path: Path) -> None:
    shop = new_shop(central.url, app_database)
    product = shop.product(price="1.000")
    till = shop.key("cashier", shop.store)
    agent = start_agent(agents, central.url, till.key, tmp_path / "agent")
    status = synced(agent)
    assert status["location_id"] == shop.store
    scanned = agent.http.get(f"/api/v1/scan/{product['barcodes'][0]['barcode']}").json()
    assert scanned["stock"]["location_id"] == shop.store


def test_blackout_with_both_sides_killed_syncs_every_sale_once(
        central: ServerProcess, app_database: str, agents: list[AgentProcess], tmp_path: Path) -> None:
    shop, till, product = till_shop(central, app_database, stock="10")
    agent = start_agent(agents, central.url, till.key, tmp_path / "agent")
    synced(agent)
    code = product["barcodes"][0]["barcode"]
    online = agent.sell([{"barcode": code}])
    assert online.status_code == 201 and online.json()["offline"] is False

    central.kill()
    answers = []
    for _n in range(12):
        response = agent.sell([{"barcode": code, "quantity": "1"}])
        assert response.status_code == 201, response.text
        answers.append(response.json())
        assert answers[-1]["offline"] is True
    # The local estimate went down with the offline sales, below zero for the last three.
    scanned = agent.http.get(f"/api/v1/scan/{code}").json()
    assert scanned["stock"]["quantity"] == "-3.000"
    status = agent.status()
    assert status["pending_sales"] == 12 and status["online"] is False
    # A retry while offline is answered from the store.
    replay = agent.sell([{"barcode": code, "quantity": "1"}], sale_id=answers[0]["id"])
    assert replay.status_code == 200 and replay.json() == answers[0]

    agent.kill()
    agent = start_agent(agents, central.url, till.key, tmp_path / "agent")
    assert agent.status()["pending_sales"] == 12
    replay = agent.sell([{"barcode": code, "quantity": "1"}], sale_id=answers[5]["id"])
    assert replay.status_code == 200 and replay.json() == answers[5]

    # Central back on the same address.
    restarted = ServerProcess(app_database)
    restarted.port, restarted.url = central.port, central.url
    restarted.start()
    try:
        agent.wait_for("an empty outbox", lambda s: s["pending_sales"] == 0 and s["online"])
        for answer in answers:
            recorded = shop.admin.ok("GET", f"/sales/{answer['id']}")
            assert recorded["offline"] is True and recorded["total"] == "1.250"
        assert sale_count(app_database, shop.tenant_id) == 13
        assert movements_of(app_database, shop.tenant_id, product["id"]) == 13
        assert shop.level(product["id"]) == Decimal("-3")
        assert ledger_drift(app_database) == []
        conflicts = shop.admin.ok("GET", "/conflicts?status=open")["conflicts"]
        assert sorted(c["kind"] for c in conflicts) == ["insufficient_stock"] * 3
        # The refreshed estimate is central's level again.
        agent.wait_for("the live level", lambda s: agent.http.get(f"/api/v1/scan/{code}").json()["stock"]["quantity"]
                       == "-3.000" and s["pending_sales"] == 0)
    finally:
        restarted.kill()


def test_agent_killed_again_and_again_while_pushing_applies_each_sale_once(
        central: ServerProcess, app_database: str, agents: list[AgentProcess], proxy: Proxy, tmp_path: Path) -> None:
    shop, till, product = till_shop(central, app_database, stock="1000")
    data = tmp_path / "agent"
    agent = AgentProcess(proxy.url, till.key, data, env={"MAKHZAN_AGENT_BATCH_SIZE": "7"}).start()
    agents.append(agent)
    synced(agent)
    code = product["barcodes"][0]["barcode"]
    proxy.set_mode("down")
    ids = []
    for _ in range(120):
        response = agent.sell([{"barcode": code}])
        assert response.status_code == 201 and response.json()["offline"] is True, response.text
        ids.append(response.json()["id"])
    proxy.set_mode("pass")
    rng = random.Random(4)
    for _ in range(6):
        # Somewhere in the middle of pushing (or pulling, or between the two).
        time.sleep(rng.uniform(0.05, 0.4))
        agent.kill()
        agent = AgentProcess(proxy.url, till.key, data, env={"MAKHZAN_AGENT_BATCH_SIZE": "7"}).start()
        agents.append(agent)
    agent.wait_for("an empty outbox", lambda s: s["pending_sales"] == 0, timeout=60)
    assert sale_count(app_database, shop.tenant_id) == 120
    assert movements_of(app_database, shop.tenant_id, product["id"]) == 120
    assert shop.level(product["id"]) == Decimal("880")
    assert ledger_drift(app_database) == []


def test_lost_response_is_a_duplicate_never_a_second_sale(
        central: ServerProcess, app_database: str, agents: list[AgentProcess], proxy: Proxy, tmp_path: Path) -> None:
    shop, till, product = till_shop(central, app_database, stock="50")
    # Every sale tries central, even right after the loop found it unreachable.
    agent = AgentProcess(proxy.url, till.key, tmp_path / "agent", env={"MAKHZAN_AGENT_OFFLINE_GRACE": "0"}).start()
    agents.append(agent)
    synced(agent)
    code = product["barcodes"][0]["barcode"]

    proxy.set_mode("drop")
    sold = agent.sell([{"barcode": code, "quantity": "3"}])
    # Central committed, the agent never heard it: the sale is taken offline.
    assert sold.status_code == 201 and sold.json()["offline"] is True, sold.text
    assert proxy.dropped >= 1
    assert shop.level(product["id"]) == Decimal("47")
    # Pushes of the outbox lose their responses too; every retry finds the sale already there.
    time.sleep(1.0)
    assert agent.status()["pending_sales"] == 1

    proxy.set_mode("pass")
    status = agent.wait_for("an empty outbox", lambda s: s["pending_sales"] == 0)
    assert status["synced_since_start"]["duplicate"] == 1 and status["synced_since_start"]["applied"] == 0
    assert sale_count(app_database, shop.tenant_id) == 1
    assert movements_of(app_database, shop.tenant_id, product["id"]) == 1
    assert shop.level(product["id"]) == Decimal("47")
    # Central keeps the online version of the sale (it came first).
    assert shop.admin.ok("GET", f"/sales/{sold.json()['id']}")["offline"] is False
    assert ledger_drift(app_database) == []


def test_a_sale_central_rejects_is_set_aside_and_the_others_apply(
        central: ServerProcess, app_database: str, agents: list[AgentProcess], proxy: Proxy, tmp_path: Path) -> None:
    shop, till, product = till_shop(central, app_database, stock="50")
    data = tmp_path / "agent"
    agent = start_agent(agents, proxy.url, till.key, data)
    synced(agent)
    code = product["barcodes"][0]["barcode"]
    proxy.set_mode("down")
    ids = [agent.sell([{"barcode": code}]).json()["id"] for _ in range(3)]
    agent.kill()
    # A sale that central cannot take (a damaged line) between two good ones.
    conn = sqlite3.connect(data / "agent.sqlite3")
    payload = json.loads(conn.execute("SELECT payload FROM outbox WHERE sale_id = ?", (ids[1],)).fetchone()[0])
    payload["lines"][0]["quantity"] = "-1"
    with conn:
        conn.execute("UPDATE outbox SET payload = ? WHERE sale_id = ?", (json.dumps(payload), ids[1]))
    conn.close()
    proxy.set_mode("pass")
    agent = start_agent(agents, proxy.url, till.key, data)
    status = agent.wait_for("an empty outbox", lambda s: s["pending_sales"] == 0)
    assert status["rejected_sales"] == 1 and [r["id"] for r in status["rejected"]] == [ids[1]]
    assert status["rejected"][0]["error"]["code"] == "invalid_request"
    assert shop.admin.get(f"/sales/{ids[0]}").status_code == 200
    assert shop.admin.get(f"/sales/{ids[2]}").status_code == 200
    assert shop.admin.get(f"/sales/{ids[1]}").status_code == 404
    assert shop.level(product["id"]) == Decimal("48")


# --- the catalog -------------------------------------------------------------------------------


def test_price_change_and_barcode_reassignment_reach_the_till_and_old_prices_are_conflicts(
        central: ServerProcess, app_database: str, agents: list[AgentProcess], proxy: Proxy, tmp_path: Path) -> None:
    shop, till, first = till_shop(central, app_database, stock="20")
    second = shop.product(price="3.000", barcodes=[])
    shop.receive(second["id"], "20")
    agent = start_agent(agents, proxy.url, till.key, tmp_path / "agent")
    synced(agent, products=2)
    code = first["barcodes"][0]["barcode"]

    shop.admin.ok("PATCH", f"/products/{first['id']}", {"price": "1.500"})
    # The code moves to the second product: removed from the first, then given to the second.
    other = ean13()
    shop.admin.ok("PATCH", f"/products/{first['id']}", {"barcodes": [{"barcode": other}]})
    shop.admin.ok("PATCH", f"/products/{second['id']}", {"barcodes": [{"barcode": code}]})

    def scanned(barcode: str) -> dict[str, Any]:
        result: dict[str, Any] = agent.http.get(f"/api/v1/scan/{barcode}").json()
        return result

    agent.wait_for("the new catalog", lambda s: scanned(code).get("product", {}).get("id") == second["id"]
                   and scanned(other).get("product", {}).get("price") == "1.500")
    lbp = shop.admin.ok("PUT", "/settings/exchange-rate", {"lbp_rate": "90000"})
    assert lbp["lbp_rate"] is not None
    agent.wait_for("the new rate", lambda s: Decimal(agent.http.get("/api/v1/settings").json()["lbp_rate"]) == 90000)

    # Offline at the old price: central changed it while the link was down.
    proxy.set_mode("down")
    shop.admin.ok("PATCH", f"/products/{first['id']}", {"price": "2.000"})
    sold = agent.sell([{"barcode": other, "quantity": "2"}])
    assert sold.status_code == 201 and sold.json()["offline"] is True
    assert sold.json()["lines"][0]["unit_price"] == "1.500"
    proxy.set_mode("pass")
    agent.wait_for("an empty outbox", lambda s: s["pending_sales"] == 0)
    conflicts = shop.admin.ok("GET", "/conflicts?status=open")["conflicts"]
    assert [(c["kind"], c["sale_id"], c["product_id"]) for c in conflicts] == [
        ("price_changed", sold.json()["id"], first["id"])]
    assert Decimal(conflicts[0]["details"]["till_price"]) == Decimal("1.5")
    assert Decimal(conflicts[0]["details"]["price"]) == Decimal("2")
    # The sale is recorded at what the till charged.
    assert shop.admin.ok("GET", f"/sales/{sold.json()['id']}")["total"] == "3.000"
    agent.wait_for("the newest price", lambda s: scanned(other)["product"]["price"] == "2.000")


def test_a_catalog_of_fifty_thousand_products_loads_within_ten_seconds(
        central: ServerProcess, app_database: str, agents: list[AgentProcess], tmp_path: Path) -> None:
    shop = new_shop(central.url, app_database)
    till = shop.key("cashier", shop.store)
    # Written in one statement per table as a bulk import would: the feed's triggers number them.
    with psycopg.connect(app_database) as conn:
        conn.execute(
            """INSERT INTO products (tenant_id, product_id, sku, name, name_ar, base_unit, price, currency,
                                     low_stock_threshold, active, search_text)
               SELECT %(t)s, gen_random_uuid(), 'BULK-' || i, 'Bulk item ' || i, 'صنف ' || i, 'piece',
                      1 + i %% 50, 'USD', 0, true, 'bulk-' || i || ' bulk item ' || i
               FROM generate_series(1, 50000) AS i""", {"t": shop.tenant_id})
        conn.execute(
            """INSERT INTO product_barcodes (tenant_id, barcode, product_id, unit, factor, kind)
               SELECT tenant_id, 'B' || substr(sku, 6), product_id, 'piece', 1, 'internal'
               FROM products WHERE tenant_id = %(t)s""", {"t": shop.tenant_id})
    agent = start_agent(agents, central.url, till.key, tmp_path / "agent")
    # From the agent's first answer (its loop starts with it), not from the interpreter's start.
    started = time.monotonic()
    agent.wait_for("the whole catalog", lambda s: s["products"] == 50_000 and s["last_sync_at"] is not None,
                   timeout=60)
    elapsed = time.monotonic() - started
    print(f"\n50,000 products with their barcodes loaded from central in {elapsed:.2f} s")
    assert elapsed <= 10, elapsed
    scanned = agent.http.get("/api/v1/scan/B49999").json()
    assert scanned["product"]["sku"] == "BULK-49999"


def test_offline_prices_match_central_for_labels_cases_and_lbp(
        central: ServerProcess, app_database: str, agents: list[AgentProcess], proxy: Proxy, tmp_path: Path) -> None:
    shop = new_shop(central.url, app_database)
    till = shop.key("cashier", shop.store)
    shop.admin.ok("POST", "/barcode-rules", {"pattern": "22PPPPP$$$$$C"}, 201)
    from stdnum import ean as gs1

    def label(body: str) -> str:
        return body + gs1.calc_check_digit(body)

    cheese = shop.product(price="8.400", unit="kg", barcodes=[{"barcode": label("210004200000")}])
    ham = shop.product(price="12.000", unit="kg", barcodes=[{"barcode": label("220004300000")}])
    water = shop.product(price="0.350", barcodes=[{"barcode": ean13()},
                                                  {"barcode": ean13(), "factor": "12", "unit": "case"}])
    for p in (cheese, ham, water):
        shop.receive(p["id"], "500")
    agent = start_agent(agents, proxy.url, till.key, tmp_path / "agent")
    synced(agent, products=3)
    lines = [{"barcode": label("210004201375")},            # 1.375 kg of cheese
             {"barcode": label("220004300875")},            # ham priced 8.75 on its label
             {"barcode": water["barcodes"][1]["barcode"], "quantity": "2"},  # two cases of 12
             {"product_id": water["id"], "quantity": "3"}]
    proxy.set_mode("down")
    offline = {}
    for currency in ("USD", "LBP"):
        response = agent.sell(lines, currency=currency)
        assert response.status_code == 201 and response.json()["offline"] is True, response.text
        offline[currency] = response.json()
    proxy.set_mode("pass")
    agent.wait_for("an empty outbox", lambda s: s["pending_sales"] == 0)
    # Central, pricing the same lines online, agrees with the till to the coin.
    online = {currency: shop.key("cashier", shop.store).ok("POST", "/sales", {"id": str(uuid.uuid4()),
                                                                              "currency": currency, "lines": lines})
              for currency in ("USD", "LBP")}
    for currency in ("USD", "LBP"):
        mine, theirs = offline[currency], online[currency]
        assert mine["total"] == theirs["total"], (currency, mine, theirs)
        assert [(ln["quantity"], ln["unit_price"], ln["line_total"]) for ln in mine["lines"]] == \
            [(ln["quantity"], ln["unit_price"], ln["line_total"]) for ln in theirs["lines"]]
        assert shop.admin.ok("GET", f"/sales/{mine['id']}")["total"] == mine["total"]
    assert shop.admin.ok("GET", "/conflicts?status=all")["conflicts"] == []
    assert ledger_drift(app_database) == []


def test_agent_killed_while_selling_offline_loses_no_answered_sale(
        central: ServerProcess, app_database: str, agents: list[AgentProcess], proxy: Proxy, tmp_path: Path) -> None:
    shop, till, product = till_shop(central, app_database, stock="10000")
    data = tmp_path / "agent"
    agent = start_agent(agents, proxy.url, till.key, data)
    synced(agent)
    code = product["barcodes"][0]["barcode"]
    proxy.set_mode("down")
    answered: set[str] = set()
    unanswered: list[str] = []
    unexpected: list[str] = []
    for round_ in range(3):
        stop = threading.Event()

        def sell_until_stopped(current: AgentProcess = agent, stop: threading.Event = stop) -> None:
            while not stop.is_set():
                sale_id = str(uuid.uuid4())
                try:
                    response = current.sell([{"barcode": code}], sale_id=sale_id)
                except httpx.TransportError:
                    unanswered.append(sale_id)
                    return
                if response.status_code != 201:
                    unexpected.append(response.text)
                    return
                answered.add(sale_id)

        seller = threading.Thread(target=sell_until_stopped)
        seller.start()
        time.sleep(0.3 + round_ * 0.2)
        agent.kill()
        stop.set()
        seller.join(10)
        agent = start_agent(agents, proxy.url, till.key, data)
    assert unexpected == [] and len(answered) > 10
    # Every answered sale survived the kills; the POS program retries the ones it never heard.
    assert agent.status()["pending_sales"] >= len(answered)
    for sale_id in unanswered:
        assert agent.sell([{"barcode": code}], sale_id=sale_id).status_code in (200, 201)
    proxy.set_mode("pass")
    agent.wait_for("an empty outbox", lambda s: s["pending_sales"] == 0, timeout=60)
    everything = answered | set(unanswered)
    assert sale_count(app_database, shop.tenant_id) == len(everything)
    assert movements_of(app_database, shop.tenant_id, product["id"]) == len(everything)
    assert shop.level(product["id"]) == Decimal(10000 - len(everything))
    assert ledger_drift(app_database) == []


def test_agent_killed_while_loading_the_catalog_ends_with_central_s_catalog(
        central: ServerProcess, app_database: str, agents: list[AgentProcess], tmp_path: Path) -> None:
    shop = new_shop(central.url, app_database)
    till = shop.key("cashier", shop.store)
    with psycopg.connect(app_database) as conn:
        conn.execute(
            """INSERT INTO products (tenant_id, product_id, sku, name, base_unit, price, currency,
                                     low_stock_threshold, active, search_text)
               SELECT %(t)s, gen_random_uuid(), 'K-' || i, 'Item ' || i, 'piece', i %% 7 + 1, 'USD', 0, true, 'k-' || i
               FROM generate_series(1, 5000) AS i""", {"t": shop.tenant_id})
        conn.execute(
            """INSERT INTO product_barcodes (tenant_id, barcode, product_id, unit, factor, kind)
               SELECT tenant_id, 'K' || substr(sku, 3), product_id, 'piece', 1, 'internal'
               FROM products WHERE tenant_id = %(t)s""", {"t": shop.tenant_id})
        # Changes after the bulk: a price, and a code moved to another product.
        conn.execute("UPDATE products SET price = 99 WHERE tenant_id = %(t)s AND sku = 'K-1'", {"t": shop.tenant_id})
        conn.execute("UPDATE product_barcodes SET product_id = (SELECT product_id FROM products WHERE tenant_id = %(t)s"
                     " AND sku = 'K-3') WHERE tenant_id = %(t)s AND barcode = 'K2'", {"t": shop.tenant_id})
    data = tmp_path / "agent"
    small_pages = {"MAKHZAN_AGENT_CATALOG_PAGE": "50"}
    rng = random.Random(9)
    cursors = []
    for _ in range(4):
        agent = AgentProcess(central.url, till.key, data, env=small_pages).start()
        agents.append(agent)
        time.sleep(rng.uniform(0.1, 0.6))
        agent.kill()
        with contextlib.closing(sqlite3.connect(data / "agent.sqlite3")) as killed:
            row = killed.execute("SELECT value FROM meta WHERE key = 'catalog_cursor'").fetchone()
            cursors.append(int(row[0]) if row else 0)
    agent = AgentProcess(central.url, till.key, data, env=small_pages).start()
    agents.append(agent)
    status = agent.wait_for("the whole catalog", lambda s: s["products"] == 5000 and s["last_sync_at"] is not None,
                            timeout=120)
    feed = shop.admin.ok("GET", f"/catalog/changes?since={status['catalog_cursor']}")
    assert feed["changes"] == []
    # The kills did land in the middle of the load.
    assert any(0 < c < int(status["catalog_cursor"]) for c in cursors), cursors
    with psycopg.connect(app_database) as conn:
        expected = {(code, sku, str(price)) for code, sku, price in conn.execute(
            "SELECT b.barcode, p.sku, p.price FROM product_barcodes b JOIN products p USING (tenant_id, product_id) "
            "WHERE b.tenant_id = %s", (shop.tenant_id,))}
    local = sqlite3.connect(data / "agent.sqlite3")
    got = {(code, sku, price) for code, sku, price in local.execute(
        "SELECT b.barcode, p.sku, p.price FROM barcodes b JOIN products p USING (product_id)")}
    local.close()
    assert got == expected
    assert agent.http.get("/api/v1/scan/K2").json()["product"]["sku"] == "K-3"
    assert agent.http.get("/api/v1/scan/K1").json()["product"]["price"] == "99.000"


def test_several_tills_reconnect_at_once_and_every_sale_lands_once(
        central: ServerProcess, app_database: str, agents: list[AgentProcess], proxy: Proxy, tmp_path: Path) -> None:
    shop, _, product = till_shop(central, app_database, stock="30")
    code = product["barcodes"][0]["barcode"]
    tills = [start_agent(agents, proxy.url, shop.key("cashier", shop.store).key, tmp_path / f"till-{n}")
             for n in range(4)]
    for till in tills:
        synced(till)
    proxy.set_mode("down")
    sold: list[str] = []
    for till in tills:
        for _ in range(15):
            response = till.sell([{"barcode": code}])
            assert response.status_code == 201 and response.json()["offline"] is True, response.text
            sold.append(response.json()["id"])
    proxy.set_mode("pass")
    for till in tills:
        till.wait_for("an empty outbox", lambda s: s["pending_sales"] == 0, timeout=60)
    assert sale_count(app_database, shop.tenant_id) == 60
    assert movements_of(app_database, shop.tenant_id, product["id"]) == 60
    # 60 sold from 30: the goods are gone, so every sale applied and the shortfall is on record.
    assert shop.level(product["id"]) == Decimal("-30")
    shortfalls = shop.admin.ok("GET", "/conflicts?status=open&limit=500")["conflicts"]
    assert len(shortfalls) == 30 and {c["kind"] for c in shortfalls} == {"insufficient_stock"}
    assert ledger_drift(app_database) == []
