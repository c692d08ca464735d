"""Bad input on every write endpoint: a 4xx in the error shape, nothing changed, never a 500."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from tests.support import Shop, ledger_drift

BAD_QUANTITIES: list[Any] = ["0", "-1", "1.0001", "NaN", "Infinity", "-Infinity", "1e400", "1e9",
                             "12345678901234567890", "abc", "", None, True, [], {}, "0x10", "1_000", "١"]


def assert_error(response: Any, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.text)
    error: dict[str, Any] = response.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    assert isinstance(error["details"], dict)
    return error


@pytest.mark.parametrize("quantity", BAD_QUANTITIES)
def test_bad_quantities_are_422_and_change_nothing(shop: Shop, quantity: Any) -> None:
    p = shop.product()
    shop.receive(p["id"], "10")
    line = {"product_id": p["id"], "quantity": quantity}
    for path, body in [
        ("/sales", {"id": str(uuid.uuid4()), "location_id": shop.store, "lines": [line]}),
        ("/receipts", {"id": str(uuid.uuid4()), "location_id": shop.store, "lines": [line]}),
        ("/transfers", {"id": str(uuid.uuid4()), "from_location_id": shop.store, "to_location_id": shop.warehouse,
                        "lines": [line]}),
    ]:
        assert_error(shop.admin.post(path, body), 422)
    assert shop.level(p["id"]) == Decimal("10")


def test_raw_json_numbers_are_exact_and_nan_is_refused(shop: Shop) -> None:
    p = shop.product(unit="kg")
    shop.receive(p["id"], "10")
    raw = ('{"id": "%s", "location_id": "%s", "lines": [{"product_id": "%s", "quantity": 0.1}]}'
           % (uuid.uuid4(), shop.store, p["id"]))
    response = shop.admin.http.post("/sales", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 201
    assert response.json()["lines"][0]["quantity"] == "0.100"
    for literal in ("NaN", "Infinity", "-Infinity"):
        bad = raw.replace("0.1", literal).replace(str(uuid.UUID(raw[8:44])), str(uuid.uuid4()))
        assert_error(shop.admin.http.post("/sales", content=bad, headers={"content-type": "application/json"}),
                     400, 422)
    assert shop.level(p["id"]) == Decimal("9.900")


@pytest.mark.parametrize("body", [
    "not json", "[]", "{}", '{"id": "nope"}', "null", '{"id": 1, "lines": 2}', "{" * 5000,
    '{"id": "%s", "lines": []}' % uuid.uuid4(),
    '{"id": "%s", "lines": [{"barcode": "x\\u0000y"}]}' % uuid.uuid4(),
    '{"id": "%s", "lines": [{"barcode": "\\ud800"}]}' % uuid.uuid4(),
    '{"id": "%s", "unknown_field": 1, "lines": [{"product_id": "%s", "quantity": 1}]}' % (uuid.uuid4(), uuid.uuid4()),
    '{"id": "%s", "occurred_at": "yesterday", "lines": [{"product_id": "%s", "quantity": 1}]}'
    % (uuid.uuid4(), uuid.uuid4()),
    '{"id": "%s", "occurred_at": "2026-01-01T10:00:00", "lines": [{"product_id": "%s", "quantity": 1}]}'
    % (uuid.uuid4(), uuid.uuid4()),
    '{"id": "%s", "lines": [{"product_id": "%s", "barcode": "123", "quantity": 1}]}' % (uuid.uuid4(), uuid.uuid4()),
])
def test_malformed_bodies_on_every_write_endpoint(shop: Shop, body: str) -> None:
    for path in ("/sales", "/receipts", "/transfers", "/adjustments", "/counts", "/products", "/locations", "/keys"):
        response = shop.admin.http.post(path, content=body, headers={"content-type": "application/json"})
        assert_error(response, 400, 404, 422)
    assert shop.admin.ok("GET", "/locations")["locations"].__len__() == 2


def test_barcodes_are_validated(shop: Shop) -> None:
    cases = [
        ([{"barcode": "5449000000997"}], 422, "invalid_barcode"),  # wrong check digit
        ([{"barcode": "12345"}], 422, "invalid_barcode"),  # not a GS1 length
        ([{"barcode": "ABC-123"}], 422, "invalid_barcode"),  # internal code not marked internal
        ([{"barcode": "5449000000996"}, {"barcode": "5449000000996", "factor": "6"}], 422, "invalid_request"),
    ]
    for barcodes, status, code in cases:
        response = shop.admin.post("/products", {"sku": f"S-{uuid.uuid4().hex[:6]}", "name": "X", "price": "1",
                                                 "barcodes": barcodes})
        assert assert_error(response, status)["code"] == code
    ok = shop.product(barcodes=[{"barcode": "036000291452"}, {"barcode": "BREAD-LOOSE", "kind": "internal"}])
    assert [b["barcode"] for b in ok["barcodes"]] == ["0036000291452", "BREAD-LOOSE"]
    # A UPC-A scan finds the EAN-13 it was stored as; the same code twice is taken.
    assert shop.admin.ok("GET", f"/scan/036000291452?location_id={shop.store}")["product"]["id"] == ok["id"]
    taken = shop.admin.post("/products", {"sku": "OTHER", "name": "X", "price": "1",
                                          "barcodes": [{"barcode": "0036000291452"}]})
    assert assert_error(taken, 409)["code"] == "barcode_taken"
    wrong_digit = shop.admin.get(f"/scan/5449000000997?location_id={shop.store}")
    assert assert_error(wrong_digit, 422)["code"] == "invalid_barcode"
    unknown = shop.admin.get(f"/scan/5449000000996?location_id={shop.store}")
    assert assert_error(unknown, 404)["code"] == "unknown_barcode"


def test_transfer_refused_like_a_sale(shop: Shop, app_database: str) -> None:
    p = shop.product()
    shop.receive(p["id"], "2")
    body = {"id": str(uuid.uuid4()), "from_location_id": shop.store, "to_location_id": shop.warehouse,
            "lines": [{"product_id": p["id"], "quantity": "3"}]}
    error = assert_error(shop.admin.post("/transfers", body), 409)
    assert error["code"] == "insufficient_stock"
    assert error["details"]["lines"][0]["available"] == "2.000"
    body["lines"][0]["quantity"] = "2"
    moved = shop.admin.ok("POST", "/transfers", body, 201)
    assert moved["lines"][0]["quantity_after"] == "0.000"
    assert shop.level(p["id"], shop.warehouse) == Decimal("2")
    assert ledger_drift(app_database) == []


def test_adjustments_and_counts(shop: Shop) -> None:
    p = shop.product()
    shop.receive(p["id"], "10")
    waste = {"id": str(uuid.uuid4()), "location_id": shop.store, "reason": "waste",
             "lines": [{"product_id": p["id"], "delta": "-3"}]}
    assert shop.admin.ok("POST", "/adjustments", waste, 201)["lines"][0]["quantity_after"] == "7.000"
    too_much = {**waste, "id": str(uuid.uuid4()), "lines": [{"product_id": p["id"], "delta": "-8"}]}
    assert assert_error(shop.admin.post("/adjustments", too_much), 409)["code"] == "insufficient_stock"
    bad_reason = {**waste, "id": str(uuid.uuid4()), "reason": "because"}
    assert_error(shop.admin.post("/adjustments", bad_reason), 422)
    count = {"id": str(uuid.uuid4()), "location_id": shop.store, "lines": [{"product_id": p["id"], "counted": "4"}]}
    counted = shop.admin.ok("POST", "/counts", count, 201)
    assert counted["lines"][0]["delta"] == "-3.000" and counted["lines"][0]["quantity_after"] == "4.000"
    assert shop.admin.ok("POST", "/counts", count, 200) == counted
    ledger = shop.admin.ok("GET", f"/products/{p['id']}/movements?location_id={shop.store}")["movements"]
    assert [m["kind"] for m in ledger] == ["count", "adjustment", "receipt"]
    assert [m["delta"] for m in ledger] == ["-3.000", "-3.000", "10.000"]
