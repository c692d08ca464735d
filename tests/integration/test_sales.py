"""Selling over HTTP: stock moves with the sale, in one transaction, exactly once."""

from __future__ import annotations

import uuid
from decimal import Decimal

from tests.support import Shop, ean13, ledger_drift


def sale(location: str, *lines: dict[str, object], **extra: object) -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "location_id": location, "lines": list(lines), **extra}


def test_sale_deducts_stock_and_reports_lines(shop: Shop, app_database: str) -> None:
    code = ean13()
    case = {"barcode": _gtin14(code), "factor": "24", "unit": "case"}
    milk = shop.product(price="1.250", barcodes=[{"barcode": code}, case])
    shop.receive(milk["id"], "50")
    cashier = shop.key("cashier", shop.store)

    body = sale(shop.store, {"barcode": code, "quantity": "2"}, {"product_id": milk["id"], "quantity": "3"})
    response = cashier.post("/sales", body)
    assert response.status_code == 201, response.text
    recorded = response.json()
    assert [ln["quantity"] for ln in recorded["lines"]] == ["2.000", "3.000"]
    assert recorded["lines"][0]["unit_price"] == "1.250"
    assert recorded["lines"][0]["line_total"] == "2.500"
    assert recorded["total"] == "6.250"
    assert recorded["lines"][-1]["stock_after"] == "45.000"
    assert recorded["currency"] == "USD"
    assert Decimal(recorded["exchange_rate"]) > 0
    assert shop.level(milk["id"]) == Decimal("45")

    # Replaying the same sale answers 200 with the same sale and deducts nothing more.
    again = cashier.post("/sales", body)
    assert again.status_code == 200
    assert again.json()["lines"] == recorded["lines"]
    assert shop.level(milk["id"]) == Decimal("45")
    assert cashier.get(f"/sales/{body['id']}").json()["total"] == "6.250"
    assert ledger_drift(app_database) == []


def _gtin14(ean: str) -> str:
    from stdnum import ean as gs1

    body = "1" + ean[:12]
    return body + gs1.calc_check_digit(body)


def test_case_barcode_sells_its_factor(shop: Shop) -> None:
    unit = ean13()
    case = _gtin14(unit)
    water = shop.product(price="0.500", barcodes=[{"barcode": unit}, {"barcode": case, "factor": "24", "unit": "case"}])
    shop.receive(water["id"], "100")
    scan = shop.admin.ok("GET", f"/scan/{case}?location_id={shop.store}")
    assert scan["unit"] == "case" and scan["quantity"] == "24.000" and scan["stock"]["quantity"] == "100.000"
    recorded = shop.admin.ok("POST", "/sales", sale(shop.store, {"barcode": case}), 201)
    assert recorded["lines"][0]["quantity"] == "24.000"
    assert recorded["total"] == "12.000"
    assert shop.level(water["id"]) == Decimal("76")


def test_insufficient_stock_is_409_with_availability_and_writes_nothing(shop: Shop) -> None:
    a = shop.product()
    b = shop.product()
    shop.receive(a["id"], "5")
    shop.receive(b["id"], "1")
    body = sale(shop.store, {"product_id": a["id"], "quantity": "2"}, {"product_id": b["id"], "quantity": "3"})
    response = shop.admin.post("/sales", body)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "insufficient_stock"
    assert error["details"]["lines"] == [
        {"product_id": b["id"], "location_id": shop.store, "requested": "3.000", "available": "1.000"}
    ]
    assert shop.level(a["id"]) == Decimal("5")
    assert shop.admin.get(f"/sales/{body['id']}").status_code == 404


def test_weighed_label_sells_its_weight(shop: Shop) -> None:
    cheese = shop.product(price="12.000", unit="kg", barcodes=[{"barcode": "2100001000004"}])
    shop.receive(cheese["id"], "10")
    scan = shop.admin.ok("GET", f"/scan/2100001027506?location_id={shop.store}")
    assert scan["product"]["id"] == cheese["id"]
    assert scan["quantity"] == "2.750"
    recorded = shop.admin.ok("POST", "/sales", sale(shop.store, {"barcode": "2100001027506"}), 201)
    assert recorded["lines"][0]["quantity"] == "2.750"
    assert recorded["lines"][0]["line_total"] == "33.000"
    assert shop.level(cheese["id"]) == Decimal("7.250")


def test_sale_in_lbp_records_the_rate(shop: Shop) -> None:
    shop.admin.ok("PUT", "/settings/exchange-rate", {"lbp_rate": "90000"})
    p = shop.product(price="1.250")
    shop.receive(p["id"], "3")
    recorded = shop.admin.ok("POST", "/sales", sale(shop.store, {"product_id": p["id"], "quantity": 2},
                                                    currency="LBP"), 201)
    assert recorded["currency"] == "LBP"
    assert Decimal(recorded["exchange_rate"]) == Decimal("90000")
    assert recorded["total"] == "225000.000"


def test_same_id_different_basket_is_refused(shop: Shop) -> None:
    p = shop.product()
    shop.receive(p["id"], "10")
    body = sale(shop.store, {"product_id": p["id"], "quantity": "1"})
    shop.admin.ok("POST", "/sales", body, 201)
    body["lines"] = [{"product_id": p["id"], "quantity": "2"}]
    response = shop.admin.post("/sales", body)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_conflict"
    assert shop.level(p["id"]) == Decimal("9")
