"""Stock pages in a real browser: a sale on the till shows on the stock page, the ledger's running
balance, a receipt made by scanning, and a conflict resolved by a count."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.helpers import cashier_key, scan, sign_in_with_key, stocked_product
from tests.support import Api, Shop


def level_cell(page: Any, shop: Shop, product: dict[str, Any]) -> Any:
    return page.locator(f'#stock-levels tr[data-product="{product["id"]}"][data-location="{shop.store}"] '
                        "[data-testid=level]")


def test_a_sale_on_the_till_lowers_the_stock_on_the_stock_page(browser: Any, shop: Shop, artifacts: Path) -> None:
    milk = stocked_product(shop, stock="10", price="1.250", name="Milk 1L", name_ar="حليب")
    office = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    till = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    try:
        manager = office.new_page()
        sign_in_with_key(manager, shop.server_url, shop.admin.key)
        manager.goto(f"{shop.server_url}/stock?location_id={shop.store}")
        expect(level_cell(manager, shop, milk)).to_contain_text("10")

        cashier = till.new_page()
        sign_in_with_key(cashier, shop.server_url, cashier_key(shop))
        expect(cashier).to_have_url(re.compile(r"/till$"))
        expect(cashier.locator("#rate")).not_to_be_empty()
        for _ in range(3):
            scan(cashier, milk["barcodes"][0]["barcode"])
        expect(cashier.locator("#line-rows tr input.qty")).to_have_value("3")
        cashier.click("#complete")
        expect(cashier.locator("#message")).to_contain_text("Sale complete")

        manager.reload()
        expect(level_cell(manager, shop, milk)).to_contain_text("7")
        # Searching the stock page by the Arabic name keeps that product's row only.
        manager.fill("[data-testid=stock-search]", "حليب")
        expect(manager.locator("#stock-levels tbody tr")).to_have_count(1)
        expect(level_cell(manager, shop, milk)).to_contain_text("7")
        manager.screenshot(path=str(artifacts / "backoffice-stock-en.png"), full_page=True)
    finally:
        office.close()
        till.close()


def test_ledger_shows_the_running_balance_and_a_chart(page: Any, shop: Shop, artifacts: Path) -> None:
    oil = stocked_product(shop, stock="10", price="9.000")  # receipt: 10
    sale = {"id": str(uuid.uuid4()), "location_id": shop.store, "lines": [{"product_id": oil["id"], "quantity": "3"}]}
    shop.admin.ok("POST", "/sales", sale, 201)  # 7
    shop.admin.ok("POST", "/adjustments", {"id": str(uuid.uuid4()), "location_id": shop.store, "reason": "damage",
                                           "lines": [{"product_id": oil["id"], "delta": "-2"}]}, 201)  # 5
    shop.receive(oil["id"], "4", shop.warehouse)  # elsewhere: 4

    sign_in_with_key(page, shop.server_url, shop.admin.key)
    page.goto(f"{shop.server_url}/stock/products/{oil['id']}?location_id={shop.store}")
    balances = page.locator("#ledger [data-testid=balance]")
    expect(balances).to_have_text(["5", "7", "10"])
    expect(page.locator("#ledger [data-testid=delta]")).to_have_text(["-2", "-3", "+10"])
    expect(page.locator("[data-testid=level-now]")).to_have_text("5")
    # Every location together: the warehouse's receipt is the newest movement.
    page.goto(f"{shop.server_url}/stock/products/{oil['id']}")
    expect(balances).to_have_text(["9", "5", "7", "10"])
    points = page.locator("[data-testid=level-chart] polyline").get_attribute("points")
    assert points is not None and len(points.split()) == 2 * 4 + 1  # a step per movement, then to now
    page.screenshot(path=str(artifacts / "backoffice-ledger-en.png"), full_page=True)
    page.goto(f"{shop.server_url}/lang/ar?next=/stock/products/{oil['id']}")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(balances).to_have_text(["9", "5", "7", "10"])
    page.screenshot(path=str(artifacts / "backoffice-ledger-ar.png"), full_page=True)


def test_receive_goods_by_scanning(page: Any, shop: Shop, artifacts: Path) -> None:
    tea = stocked_product(shop, stock="0", price="2.000", case=True)
    sign_in_with_key(page, shop.server_url, shop.admin.key)
    page.goto(f"{shop.server_url}/stock/receive")
    page.locator("[data-testid=scan]").focus()
    scan(page, tea["barcodes"][0]["barcode"])
    scan(page, tea["barcodes"][0]["barcode"])
    scan(page, tea["barcodes"][1]["barcode"])  # a case of 24
    rows = page.locator("#lines tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("input.qty")).to_have_value("2")
    expect(rows.nth(1)).to_contain_text("× 24")
    scan(page, "0000000000000")
    expect(page.locator("#scan-message")).to_contain_text("No product has this barcode")
    expect(rows).to_have_count(2)
    page.select_option("#document-form select[name=location_id]", shop.store)
    page.fill("#document-form input[name=supplier]", "Al Wadi")
    page.screenshot(path=str(artifacts / "backoffice-receive-en.png"), full_page=True)
    sent = page.evaluate("new URLSearchParams(new FormData(document.getElementById('document-form'))).toString()")
    page.click("[data-testid=post-document]")
    expect(page.locator("#doc-done")).to_contain_text("26")
    assert shop.level(tea["id"]) == Decimal("26")
    # The same form sent again (a double click, a resubmitted page) carries the same document id:
    # it is answered with the recorded document, and the goods are not received twice.
    status = page.evaluate("""body => fetch('/stock/receive', {method: 'POST', body,
        headers: {'content-type': 'application/x-www-form-urlencoded'}}).then(r => r.status)""", sent)
    assert status == 200
    assert shop.level(tea["id"]) == Decimal("26")


def test_an_offline_oversale_is_resolved_with_a_count(page: Any, shop: Shop) -> None:
    bread = stocked_product(shop, stock="2", price="1.000", name="Bread")
    agent = Api(shop.server_url, cashier_key(shop))
    sale = {"id": str(uuid.uuid4()), "occurred_at": datetime.now(UTC).isoformat(), "offline": True,
            "lines": [{"product_id": bread["id"], "quantity": "5", "price": "1.000"}]}
    result = agent.ok("POST", "/sync/sales", {"sales": [sale]}, 200)["results"][0]
    assert [c["kind"] for c in result["conflicts"]] == ["insufficient_stock"], result

    sign_in_with_key(page, shop.server_url, shop.admin.key)
    page.goto(f"{shop.server_url}/reports/conflicts")
    row = page.locator(f'#conflicts tr[data-conflict="{result["conflicts"][0]["id"]}"]')
    expect(row).to_contain_text("Bread")
    row.locator("select[name=action]").select_option("count")
    row.locator("input[name=quantity]").fill("1")
    row.locator("button[type=submit]").click()
    expect(page.locator(".alert.ok")).to_contain_text("resolved")
    expect(page.locator(f'#conflicts tr[data-conflict="{result["conflicts"][0]["id"]}"]')).to_have_count(0)
    assert shop.level(bread["id"]) == Decimal("1")
