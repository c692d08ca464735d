"""The low-stock report over HTTP: what is low, in which order, for whom, as JSON and CSV."""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal
from typing import Any

import psycopg
from tests.support import ServerProcess, Shop, ledger_drift, new_shop

REPORT = "/reports/low-stock"


def _set_level(shop: Shop, product_id: str, quantity: str, location: str | None = None) -> None:
    """Bring a level to ``quantity`` (zero or more) through the API: a count, which creates the level."""
    body = {"id": str(uuid.uuid4()), "location_id": location or shop.store,
            "lines": [{"product_id": product_id, "counted": quantity}]}
    shop.admin.ok("POST", "/counts", body, 201)


def _force_negative(database_url: str, shop: Shop, product_id: str, delta: str) -> None:
    """A level below zero, as an offline sale leaves it: no online path can, so write the ledger
    row and the level together, as the owner."""
    with psycopg.connect(database_url) as conn, conn.transaction():
        conn.execute(
            "INSERT INTO stock_movements (tenant_id, product_id, location_id, delta, kind, document_id,"
            " occurred_at) VALUES (%s, %s, %s, %s, 'sale', %s, now())",
            (shop.tenant_id, product_id, shop.store, delta, uuid.uuid4()),
        )
        conn.execute(
            "INSERT INTO stock_levels (tenant_id, product_id, location_id, quantity) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (tenant_id, product_id, location_id)"
            " DO UPDATE SET quantity = stock_levels.quantity + EXCLUDED.quantity, updated_at = now()",
            (shop.tenant_id, product_id, shop.store, delta),
        )


def _low_stock_shop(shop: Shop, app_database: str) -> dict[str, dict[str, Any]]:
    """Products whose levels pin down the whole order; the keys name the case each one covers."""
    p = {name: shop.product(threshold=threshold) for name, threshold in [
        ("zero_negative", "0"), ("zero_empty", "0"), ("negative", "10"), ("empty", "10"),
        ("warehouse_tenth", "10"), ("fifth", "10"), ("half", "4"), ("at_threshold", "5"),
        ("above", "10"), ("zero_stocked", "0")]}
    p["arabic"] = shop.product(threshold="8", name_ar="حليب طازج كامل الدسم")
    p["inactive"] = shop.product(threshold="10", active=False)
    _force_negative(app_database, shop, p["zero_negative"]["id"], "-2")
    _set_level(shop, p["zero_empty"]["id"], "0")
    _force_negative(app_database, shop, p["negative"]["id"], "-3")
    shop.receive(p["empty"]["id"], "5")
    shop.admin.ok("POST", "/adjustments", {"id": str(uuid.uuid4()), "location_id": shop.store, "reason": "waste",
                                            "lines": [{"product_id": p["empty"]["id"], "delta": "-5"}]}, 201)
    shop.receive(p["warehouse_tenth"]["id"], "1", location=shop.warehouse)
    shop.receive(p["fifth"]["id"], "2")
    _set_level(shop, p["half"]["id"], "2")
    shop.receive(p["at_threshold"]["id"], "5")
    shop.receive(p["above"]["id"], "11")
    shop.receive(p["zero_stocked"]["id"], "3")
    shop.receive(p["arabic"]["id"], "6")  # 0.75 of its threshold
    shop.receive(p["inactive"]["id"], "1")
    return p


EXPECTED_ORDER = ["zero_negative", "zero_empty", "negative", "empty", "warehouse_tenth", "fifth", "half",
                  "arabic", "at_threshold"]


def test_low_stock_order_filters_and_reorder(shop: Shop, server: ServerProcess, app_database: str) -> None:
    p = _low_stock_shop(shop, app_database)
    other = new_shop(server.url, app_database)
    foreign = other.product(threshold="10")
    other.receive(foreign["id"], "1")
    names = {v["id"]: k for k, v in p.items()}

    rows = shop.admin.ok("GET", REPORT)["rows"]
    assert [names.get(r["product_id"], r["product_id"]) for r in rows] == EXPECTED_ORDER
    by_name = {names[r["product_id"]]: r for r in rows}
    assert by_name["zero_negative"]["quantity"] == "-2.000"
    assert by_name["zero_negative"]["suggested_reorder"] == "2.000"
    assert by_name["negative"]["suggested_reorder"] == "23.000"
    assert by_name["fifth"]["suggested_reorder"] == "18.000"
    assert by_name["at_threshold"]["suggested_reorder"] == "5.000"
    warehouse_row = by_name["warehouse_tenth"]
    assert warehouse_row["location_id"] == shop.warehouse and warehouse_row["location_name"] == "Warehouse"
    fifth = by_name["fifth"]
    assert fifth["sku"] == p["fifth"]["sku"] and fifth["name"] == p["fifth"]["name"]
    assert fifth["base_unit"] == "piece" and fifth["low_stock_threshold"] == "10.000"
    assert fifth["location_name"] == "Store"

    store_only = shop.admin.ok("GET", f"{REPORT}?location_id={shop.store}")["rows"]
    assert [names[r["product_id"]] for r in store_only] == [n for n in EXPECTED_ORDER if n != "warehouse_tenth"]
    assert [names[r["product_id"]] for r in shop.admin.ok("GET", f"{REPORT}?limit=3")["rows"]] == EXPECTED_ORDER[:3]

    # The other tenant sees only its own product, and this tenant never sees it.
    assert [r["product_id"] for r in other.admin.ok("GET", REPORT)["rows"]] == [foreign["id"]]
    assert ledger_drift(app_database) == []


def test_low_stock_needs_a_manager_and_respects_bound_keys(shop: Shop) -> None:
    low = shop.product(threshold="10")
    shop.receive(low["id"], "1", location=shop.warehouse)
    cashier = shop.key("cashier", shop.store)
    response = cashier.get(REPORT)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"

    bound = shop.key("manager", shop.store)
    assert bound.get(REPORT).json()["rows"] == []
    assert bound.get(f"{REPORT}?location_id={shop.warehouse}").status_code == 403
    manager = shop.key("manager")
    assert [r["product_id"] for r in manager.get(REPORT).json()["rows"]] == [low["id"]]


def test_low_stock_csv_matches_json(shop: Shop, app_database: str) -> None:
    p = _low_stock_shop(shop, app_database)
    rows = shop.admin.ok("GET", REPORT)["rows"]

    response = shop.admin.get(REPORT, headers={"Accept": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
    header, body = table[0], table[1:]
    assert header == ["product_id", "sku", "name", "name_ar", "base_unit", "location_id", "location_name",
                      "quantity", "low_stock_threshold", "suggested_reorder"]
    assert body == [[row[c] if row[c] is not None else "" for c in header] for row in rows]
    arabic = next(dict(zip(header, line, strict=True)) for line in body if line[0] == p["arabic"]["id"])
    assert arabic["name_ar"] == "حليب طازج كامل الدسم"
    assert Decimal(arabic["suggested_reorder"]) == Decimal("10")
    assert all(len(line[7].split(".")[1]) == 3 for line in body)

    # JSON stays the default, and wins when preferred.
    for accept in ("*/*", "application/json", "text/csv;q=0.5, application/json", "text/html"):
        answer = shop.admin.get(REPORT, headers={"Accept": accept})
        assert answer.headers["content-type"].startswith("application/json"), accept
        assert answer.json()["rows"] == rows
    assert shop.admin.get(REPORT, headers={"Accept": "application/json;q=0.4, text/*"}).text.startswith("product_id,")
