"""The dashboard: today's sales, low stock, live alerts and conflicts, in English and Arabic."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.helpers import sign_in_with_key, stocked_product
from tests.support import Api, Shop


def sell(shop: Shop, cashier: Api, barcode: str, quantity: str) -> None:
    cashier.ok("POST", "/sales", {"id": str(uuid.uuid4()), "lines": [{"barcode": barcode, "quantity": quantity}]},
               201)


def test_dashboard_shows_sales_low_stock_and_live_alerts(page: Any, shop: Shop, artifacts: Path) -> None:
    cashier = shop.key("cashier", shop.store)
    tea = stocked_product(shop, stock="12", price="3.500", threshold="10", name="Tea 100 bags",
                          name_ar="شاي ١٠٠ كيس")
    rice = stocked_product(shop, stock="30", price="2.000", threshold="20", name="Rice 1kg", name_ar="أرز ١ كغ")
    sugar = stocked_product(shop, stock="10", price="1.500", threshold="5", name="Sugar 1kg", name_ar="سكر ١ كغ")
    sell(shop, cashier, tea["barcodes"][0]["barcode"], "3")

    sign_in_with_key(page, shop.server_url, shop.admin.key)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("[data-testid=sales-count]")).to_have_text("1")
    expect(page.locator("#sales-today")).to_contain_text("$10.50")
    expect(page.locator("#low-stock")).to_contain_text("Tea 100 bags")
    # Listed on the page or, if a transaction elsewhere in the cluster still holds the alerts'
    # horizon back, delivered by the live stream a moment later.
    expect(page.locator("#alert-rows")).to_contain_text("Tea 100 bags", timeout=30_000)
    expect(page.locator("[data-testid=open-conflicts]")).to_have_text("0")
    # The menu lists the back office's parts that are in this build.
    for href in ("/products", "/stock", "/reports"):
        expect(page.locator(f'nav.nav a[href="{href}"]')).to_have_count(1)

    # A sale elsewhere while the page is open: its alert arrives without a reload.
    expect(page.locator("#alerts-live")).to_be_visible()
    sell(shop, cashier, rice["barcodes"][0]["barcode"], "15")
    expect(page.locator("#alert-rows tr").first).to_contain_text("Rice 1kg", timeout=30_000)
    # The summary cards refresh themselves (htmx, every 30 s; asked for at once here).
    with page.expect_response("**/dashboard/summary"):
        page.evaluate("htmx.ajax('GET', '/dashboard/summary', {target: '#summary', swap: 'innerHTML'})")
    expect(page.locator("[data-testid=sales-count]")).to_have_text("2")
    expect(page.locator("#sales-today")).to_contain_text("$40.50")
    page.screenshot(path=str(artifacts / "dashboard-en.png"), full_page=True)

    page.click("a.lang-switch")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("#low-stock")).to_contain_text("أرز ١ كغ")
    expect(page.locator("#sales-today h2")).to_have_text("مبيعات اليوم")
    expect(page.locator("#alert-rows")).to_contain_text("أرز ١ كغ", timeout=30_000)
    # A live alert in Arabic shows the product's Arabic name too.
    expect(page.locator("#alerts-live")).to_be_visible()
    sell(shop, cashier, sugar["barcodes"][0]["barcode"], "8")
    expect(page.locator("#alert-rows tr").first).to_contain_text("سكر ١ كغ", timeout=30_000)
    page.screenshot(path=str(artifacts / "dashboard-ar.png"), full_page=True)


def test_the_rate_set_in_settings_reaches_the_till(page: Any, shop: Shop) -> None:
    sign_in_with_key(page, shop.server_url, shop.admin.key)
    page.goto(shop.server_url + "/settings/exchange-rate")
    page.fill("input[name=lbp_rate]", "90,250")
    page.click("main form button[type=submit]")
    expect(page.locator("#form-notice")).to_be_visible()
    expect(page.locator("#current-rate")).to_contain_text("90,250")
    page.fill("input[name=lbp_rate]", "-5")
    page.click("main form button[type=submit]")
    expect(page.locator("#form-error")).to_be_visible()
    assert shop.admin.ok("GET", "/settings")["lbp_rate"] == "90250.0000"

    page.goto(shop.server_url + "/till")
    expect(page.locator("#rate")).to_contain_text("90,250")


def test_a_key_is_shown_once_and_a_location_is_added(page: Any, shop: Shop) -> None:
    sign_in_with_key(page, shop.server_url, shop.admin.key)
    page.goto(shop.server_url + "/settings/locations")
    page.fill("input[name=name]", "Achrafieh store")
    page.click("main form button[type=submit]")
    expect(page.locator("#locations-table")).to_contain_text("Achrafieh store")

    page.goto(shop.server_url + "/settings/keys")
    page.fill("input[name=name]", "till 2")
    page.select_option("select[name=location_id]", label="Achrafieh store")
    page.click("main form button[type=submit]")
    key = page.locator("[data-testid=new-key]").inner_text().strip()
    assert Api(shop.server_url, key).ok("GET", "/settings")["tenant_id"] == shop.tenant_id
    page.goto(shop.server_url + "/settings/keys")
    expect(page.locator("[data-testid=new-key]")).to_have_count(0)
    assert key not in page.content()
