"""The ``makhzan`` console script, run as a user runs it: tenant creation, the demo shop,
concurrent migrations and the reconcile command, each against its own database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from stdnum import ean
from tests.support import Api, Databases, ServerProcess, create_database

from makhzan.migrate import _MIGRATION_LOCK_KEY as MIGRATION_LOCK_KEY

_SCRIPT = Path(sys.executable).with_name("makhzan")
# The installed console script; without one (a bare checkout), the same entry point through Python.
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-c", "from makhzan.cli import main; main()"]


def makhzan(database_url: str, data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAKHZAN_DATABASE_URL": database_url, "MAKHZAN_DATA_DIR": str(data_dir)}
    done = subprocess.run([*COMMAND, *args], env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, (args, done.returncode, done.stdout, done.stderr)
    return done


@pytest.fixture
def database(databases: Databases) -> str:
    return databases.fresh()


@pytest.fixture
def served(database: str) -> Iterator[ServerProcess]:
    server = ServerProcess(database).start()
    yield server
    server.stop()


def test_tenant_create_prints_a_working_admin_key(database: str, served: ServerProcess, tmp_path: Path) -> None:
    created = json.loads(makhzan(database, tmp_path, "tenant", "create", "Dekkanet Beirut", "--json").stdout)
    assert set(created) == {"tenant_id", "admin_key"}
    uuid.UUID(created["tenant_id"])
    admin = Api(served.url, created["admin_key"])
    assert admin.ok("GET", "/settings")["tenant_id"] == created["tenant_id"]
    assert admin.ok("GET", "/settings")["name"] == "Dekkanet Beirut"
    location = admin.ok("POST", "/locations", {"name": "Hamra store", "kind": "store"}, 201)
    assert [loc["id"] for loc in admin.ok("GET", "/locations")["locations"]] == [location["id"]]
    # A second tenant gets another key, which sees none of the first tenant's data.
    other = json.loads(makhzan(database, tmp_path, "tenant", "create", "Other", "--json").stdout)
    assert other["tenant_id"] != created["tenant_id"]
    assert Api(served.url, other["admin_key"]).ok("GET", "/locations")["locations"] == []
    assert Api(served.url, "mk_not_a_key").get("/locations").status_code == 401


def _weighed_label(base_code: str, grams: int) -> str:
    """The scale label for ``grams`` of the product whose base code is 21PPPPP00000C."""
    body = f"{base_code[:7]}{grams:05d}"
    return body + ean.calc_check_digit(body)


def test_demo_seeds_a_shop_a_cashier_can_sell_from(database: str, served: ServerProcess, tmp_path: Path) -> None:
    demo = json.loads(makhzan(database, tmp_path, "demo", "--json").stdout)
    assert {"tenant_id", "admin_key", "cashier_key", "location_ids"} <= set(demo)
    assert len(demo["location_ids"]) == 2
    location_ids = set(demo["location_ids"].values())
    cashier = Api(served.url, demo["cashier_key"])
    products: list[dict[str, Any]] = cashier.ok("GET", "/products?limit=500")["products"]
    assert 40 <= len(products) <= 70
    assert any(p["name_ar"] for p in products)
    admin = Api(served.url, demo["admin_key"])
    assert {loc["id"] for loc in admin.ok("GET", "/locations")["locations"]} == location_ids

    by_weight = [p for p in products if p["base_unit"] == "kg"
                 and any(b["barcode"].startswith("21") for b in p["barcodes"])]
    assert by_weight, "the demo has products sold by weight"
    product = by_weight[0]
    base = next(b["barcode"] for b in product["barcodes"] if b["barcode"].startswith("21"))
    label = _weighed_label(base, 2750)
    # The cashier's key is bound to the store: location_id defaults to it.
    scanned = cashier.ok("GET", f"/scan/{label}")
    assert scanned["product"]["id"] == product["id"]
    assert scanned["quantity"] == "2.750"
    assert scanned["stock"]["location_id"] in location_ids
    assert Decimal(scanned["stock"]["quantity"]) > 0
    # And the label sells 2.750 kg.
    sale = cashier.ok("POST", "/sales", {"id": str(uuid.uuid4()), "lines": [{"barcode": label}]}, 201)
    assert sale["lines"][0]["product_id"] == product["id"]
    assert sale["lines"][0]["quantity"] == "2.750"
    after = Decimal(sale["lines"][0]["stock_after"])
    assert after == Decimal(scanned["stock"]["quantity"]) - Decimal("2.750")
    # A second demo is another tenant, not a second copy in the first.
    again = json.loads(makhzan(database, tmp_path, "demo", "--json").stdout)
    assert again["tenant_id"] != demo["tenant_id"]
    assert len(cashier.ok("GET", "/products?limit=500")["products"]) == len(products)


def _waiting_for_advisory_lock(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                       " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").fetchone()
    return int(row[0]) if row else 0


def test_two_concurrent_migrations_both_succeed_and_apply_once(databases: Databases, tmp_path: Path) -> None:
    # An empty database, not a copy of the migrated template.
    name = f"makhzan_t_{uuid.uuid4().hex[:12]}"
    url = create_database(databases.base_url, name)
    databases.made.append(name)
    env = {**os.environ, "MAKHZAN_DATABASE_URL": url, "MAKHZAN_DATA_DIR": str(tmp_path)}
    # Hold the migration lock until both processes wait on it, so that they really race.
    with psycopg.connect(url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        processes = [subprocess.Popen([*COMMAND, "migrate"], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for _ in range(2)]
        deadline = time.monotonic() + 60
        while _waiting_for_advisory_lock(holder) < 2:
            assert time.monotonic() < deadline, "the migrate processes never reached the lock"
            assert all(p.poll() is None for p in processes), [p.communicate() for p in processes]
            time.sleep(0.05)
        holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, (stdout, stderr)
        outputs.append(stdout.strip())
    assert sorted(out.startswith("applied:") for out in outputs) == [False, True], outputs
    assert "schema is up to date" in outputs
    with psycopg.connect(url) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions and len(versions) == len(set(versions))
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'stock_levels'").fetchone()
        assert tables == (1,)
    applied = outputs[[out.startswith("applied:") for out in outputs].index(True)]
    assert applied == f"applied: {', '.join(versions)}"
    assert makhzan(url, tmp_path, "migrate").stdout.strip() == "schema is up to date"


def test_reconcile_finds_drift_and_repairs_it(database: str, tmp_path: Path) -> None:
    demo = json.loads(makhzan(database, tmp_path, "demo", "--json").stdout)
    ok = makhzan(database, tmp_path, "reconcile")
    assert "ok" in ok.stdout

    with psycopg.connect(database, autocommit=True) as conn:
        # Owner's connection: below the application, where a bug or a hand edit would act.
        bumped = conn.execute(
            "SELECT product_id, location_id, quantity FROM stock_levels WHERE tenant_id = %s"
            " ORDER BY product_id, location_id LIMIT 1", (demo["tenant_id"],)).fetchone()
        assert bumped is not None
        product_id, location_id, before = bumped
        conn.execute("UPDATE stock_levels SET quantity = quantity + 1"
                     " WHERE tenant_id = %s AND product_id = %s AND location_id = %s",
                     (demo["tenant_id"], product_id, location_id))
        # A level lost altogether is drift too.
        lost = conn.execute(
            "DELETE FROM stock_levels WHERE tenant_id = %s AND product_id <> %s"
            " AND product_id = (SELECT min(product_id::text)::uuid FROM stock_levels"
            "                   WHERE tenant_id = %s AND product_id <> %s)"
            " RETURNING product_id, location_id, quantity",
            (demo["tenant_id"], product_id, demo["tenant_id"], product_id)).fetchall()
        assert lost

    drifted = makhzan(database, tmp_path, "reconcile", check=False)
    assert drifted.returncode != 0
    lines = [line for line in drifted.stdout.splitlines() if line.startswith("drift ")]
    assert len(lines) == 1 + len(lost), drifted.stdout
    bumped_line = next(line for line in lines if f"product={product_id}" in line)
    assert f"location={location_id}" in bumped_line and f"tenant={demo['tenant_id']}" in bumped_line
    assert f"level={before + 1}" in bumped_line and f"ledger={before}" in bumped_line
    assert "difference=1" in bumped_line
    assert "--repair" in drifted.stderr

    repaired = makhzan(database, tmp_path, "reconcile", "--repair")
    assert f"repaired {len(lines)} level(s)" in repaired.stdout
    assert "ok" in makhzan(database, tmp_path, "reconcile").stdout
    with psycopg.connect(database) as conn:
        level = conn.execute("SELECT quantity FROM stock_levels WHERE tenant_id = %s AND product_id = %s"
                             " AND location_id = %s", (demo["tenant_id"], product_id, location_id)).fetchone()
        assert level == (before,)
        for lost_product, lost_location, lost_quantity in lost:
            restored = conn.execute("SELECT quantity FROM stock_levels WHERE tenant_id = %s AND product_id = %s"
                                    " AND location_id = %s", (demo["tenant_id"], lost_product, lost_location))
            assert restored.fetchone() == (lost_quantity,)
