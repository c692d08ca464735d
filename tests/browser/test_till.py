"""The till in a real browser: scanner-speed input, weighed labels, the sale and its refusals."""

from __future__ import annotations

import re
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.helpers import cashier_key, scale_label, scan, sign_in_with_key, stocked_product, weighed_product
from tests.support import Shop


def open_till(page: Any, shop: Shop) -> None:
    sign_in_with_key(page, shop.server_url, cashier_key(shop))
    expect(page).to_have_url(re.compile(r"/till$"))
    # The script has started when the rate of the day is on screen.
    expect(page.locator("#rate")).to_contain_text("89,500")


def line(page: Any, product: dict[str, Any]) -> Any:
    return page.locator(f'#line-rows tr[data-product-id="{product["id"]}"]')


def test_scanner_speed_scans_add_lines_and_repeats_add_quantity(page: Any, shop: Shop) -> None:
    milk = stocked_product(shop, stock="50", price="1.250", case=True)
    open_till(page, shop)
    assert page.evaluate("document.activeElement.id") == "scan"

    started = time.monotonic()
    scan(page, milk["barcodes"][0]["barcode"])
    expect(line(page, milk)).to_have_count(1)
    first_line_seconds = time.monotonic() - started
    expect(line(page, milk).locator("input.qty")).to_have_value("1")

    scan(page, milk["barcodes"][0]["barcode"])
    scan(page, milk["barcodes"][0]["barcode"])
    expect(line(page, milk).locator("input.qty")).to_have_value("3")
    expect(page.locator("#total")).to_have_text("$3.75")

    # The case barcode is its own line: one scan is 24 pieces.
    scan(page, milk["barcodes"][1]["barcode"])
    expect(line(page, milk)).to_have_count(2)
    expect(page.locator("#line-rows tr").first).to_contain_text("× 24")
    expect(page.locator("#total")).to_have_text("$33.75")  # 27 pieces at 1.25
    expect(page.locator("#total-other")).to_contain_text("3,020,625")  # at 89,500 LBP per USD
    # Focus never left the scan field.
    assert page.evaluate("document.activeElement.id") == "scan"
    assert first_line_seconds < 5, first_line_seconds


def test_weighed_label_then_complete_sale_lowers_the_stock(page: Any, shop: Shop) -> None:
    cheese, code = weighed_product(shop, stock="10", price="9.000")
    open_till(page, shop)
    scan(page, scale_label(code, 1250))
    row = line(page, cheese)
    expect(row).to_contain_text("× 1.25 kg")
    expect(page.locator("#total")).to_have_text("$11.25")
    expect(page.locator("#total-other")).to_contain_text("1,006,875")

    page.keyboard.press("F9")  # the till's key for "complete sale"
    expect(page.locator("#message")).to_contain_text("Sale complete")
    assert shop.level(cheese["id"]) == Decimal("8.750")
    # The next scan starts the next sale.
    scan(page, scale_label(code, 500))
    expect(page.locator("#line-rows tr")).to_have_count(1)
    expect(page.locator("#total")).to_have_text("$4.50")
    assert page.evaluate("document.activeElement.id") == "scan"


def test_sold_out_product_is_refused_kindly_and_nothing_is_sold(page: Any, shop: Shop) -> None:
    last_one = stocked_product(shop, stock="1", price="3.000")
    open_till(page, shop)
    for _ in range(2):
        scan(page, last_one["barcodes"][0]["barcode"])
    expect(line(page, last_one).locator("input.qty")).to_have_value("2")
    expect(line(page, last_one)).to_contain_text("Only 1 pc in stock")

    page.click("#complete")
    expect(page.locator("#message")).to_contain_text("Not enough stock, nothing was sold.")
    expect(page.locator("#message")).to_contain_text("only 1 left")
    assert shop.level(last_one["id"]) == Decimal("1")

    # Fix the quantity and sell what is there.
    qty = line(page, last_one).locator("input.qty")
    qty.fill("1")
    qty.press("Enter")
    expect(page.locator("#total")).to_have_text("$3.00")
    page.click("#complete")
    expect(page.locator("#message")).to_contain_text("Sale complete")
    assert shop.level(last_one["id"]) == Decimal("0")


def test_low_stock_hint_and_removing_a_line(page: Any, shop: Shop) -> None:
    bread = stocked_product(shop, stock="6", threshold="5")
    salt = stocked_product(shop, stock="40")
    open_till(page, shop)
    scan(page, bread["barcodes"][0]["barcode"])
    scan(page, salt["barcodes"][0]["barcode"])
    expect(line(page, bread)).to_contain_text("Low stock: 5 pc left after this sale")
    expect(line(page, salt).locator(".hint")).to_have_count(0)

    line(page, bread).locator("button.remove").click()
    expect(line(page, bread)).to_have_count(0)
    expect(page.locator("#total")).to_have_text("$2.50")
    assert page.evaluate("document.activeElement.id") == "scan"


def test_search_by_arabic_name_for_a_damaged_label(page: Any, shop: Shop) -> None:
    labneh = stocked_product(shop, stock="20", price="4.000", name=f"Labneh {uuid.uuid4().hex[:6]}",
                             name_ar="لبنة بلدية")
    open_till(page, shop)
    # Spelled with ه for ة, and a diacritic (fatha) typed: the search folds both.
    page.fill("#search", "لَبنه بلديه")
    page.locator(".search-result", has_text="Labneh").first.click()
    expect(line(page, labneh)).to_have_count(1)
    expect(page.locator("#total")).to_have_text("$4.00")
    assert page.evaluate("document.activeElement.id") == "scan"
    page.click("#complete")
    expect(page.locator("#message")).to_contain_text("Sale complete")
    assert shop.level(labneh["id"]) == Decimal("19")


def test_a_lost_answer_is_retried_after_a_reload_under_the_same_id_and_sold_once(page: Any, shop: Shop) -> None:
    oil = stocked_product(shop, stock="10", price="5.000")
    open_till(page, shop)
    scan(page, oil["barcodes"][0]["barcode"])
    scan(page, oil["barcodes"][0]["barcode"])
    sent: list[str] = []

    def lose_the_answer(route: Any) -> None:
        # The sale reaches the server and is recorded; its answer never reaches the till.
        sent.append(route.request.post_data)
        route.fetch()
        route.abort("connectionreset")

    page.route("**/api/v1/sales", lose_the_answer)
    page.click("#complete")
    expect(page.locator("#message")).to_contain_text("it will not be charged twice")
    page.unroute("**/api/v1/sales")
    assert shop.level(oil["id"]) == Decimal("8")

    # Even a reload (or a power cut) keeps the basket and the attempt's id.
    page.reload()
    expect(line(page, oil).locator("input.qty")).to_have_value("2")

    with page.expect_request("**/api/v1/sales") as retried:
        page.click("#complete")
    expect(page.locator("#message")).to_contain_text("Sale complete")
    assert retried.value.post_data == sent[0]  # same id, same body
    assert shop.level(oil["id"]) == Decimal("8")


def test_a_sale_paid_in_pounds_is_priced_like_the_server_prices_it(page: Any, shop: Shop) -> None:
    coffee = stocked_product(shop, stock="10", price="4.333")
    open_till(page, shop)
    scan(page, coffee["barcodes"][0]["barcode"])
    scan(page, coffee["barcodes"][0]["barcode"])
    expect(page.locator("#total")).to_have_text("$8.67")  # 8.666 rounded once to the cent
    page.click("[data-pay-in=LBP]")
    expect(page.locator("[data-pay-in=LBP]")).to_have_attribute("aria-pressed", "true")
    shown = page.locator("#total").inner_text()
    assert "775,607" in shown  # 2 × 387,803.5 (4.333 × 89,500)
    with page.expect_response("**/api/v1/sales") as answer:
        page.click("#complete")
    sale = answer.value.json()
    assert sale["currency"] == "LBP" and Decimal(sale["total"]) == Decimal("775607")
    assert Decimal(sale["exchange_rate"]) == Decimal("89500")
    expect(page.locator("#message")).to_contain_text("775,607")
    # The next customer starts in the shop's own currency again.
    scan(page, coffee["barcodes"][0]["barcode"])
    expect(page.locator("[data-pay-in=USD]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#total")).to_have_text("$4.33")


def test_a_scan_while_the_sale_is_recorded_starts_the_next_basket(page: Any, shop: Shop) -> None:
    tea = stocked_product(shop, stock="10", price="3.000")
    sugar = stocked_product(shop, stock="10", price="1.000")
    open_till(page, shop)
    scan(page, tea["barcodes"][0]["barcode"])
    held: list[Any] = []
    page.route("**/api/v1/sales", lambda route: held.append(route))
    page.click("#complete")
    page.wait_for_timeout(200)
    assert len(held) == 1  # the sale is on its way, its answer held back
    scan(page, sugar["barcodes"][0]["barcode"])  # the next customer's first item
    page.wait_for_timeout(200)
    held[0].continue_()
    expect(line(page, sugar)).to_have_count(1)
    expect(line(page, tea)).to_have_count(0)
    expect(page.locator("#total")).to_have_text("$1.00")
    page.unroute("**/api/v1/sales")
    assert shop.level(tea["id"]) == Decimal("9") and shop.level(sugar["id"]) == Decimal("10")


def test_an_ended_session_goes_to_sign_in_and_comes_back_to_the_basket(page: Any, shop: Shop) -> None:
    key = cashier_key(shop)
    rice = stocked_product(shop, stock="10", price="2.000")
    sign_in_with_key(page, shop.server_url, key)
    expect(page.locator("#rate")).to_contain_text("89,500")
    scan(page, rice["barcodes"][0]["barcode"])
    scan(page, rice["barcodes"][0]["barcode"])
    # The session ends behind the till's back (signed out from elsewhere).
    page.evaluate("fetch('/signout', {method: 'POST'})")
    page.click("#complete")
    expect(page.locator("#message")).to_contain_text("signed out")
    expect(page).to_have_url(re.compile(r"/signin\?next=/till$"))
    assert shop.level(rice["id"]) == Decimal("10")
    page.locator("#signin-key").evaluate("form => form.closest('details').open = true")
    page.fill("#signin-key input[name=key]", key)
    page.click("#signin-key button[type=submit]")
    expect(page).to_have_url(re.compile(r"/till$"))
    expect(line(page, rice).locator("input.qty")).to_have_value("2")
    page.click("#complete")
    expect(page.locator("#message")).to_contain_text("Sale complete")
    assert shop.level(rice["id"]) == Decimal("8")


def test_arabic_till_is_right_to_left(page: Any, shop: Shop, artifacts: Path) -> None:
    milk = stocked_product(shop, stock="30", price="1.250", name="Milk 1L", name_ar="حليب ١ لتر", threshold="29")
    cheese, code = weighed_product(shop, stock="5", name="Akkawi cheese", name_ar="جبنة عكاوي")
    open_till(page, shop)
    scan(page, milk["barcodes"][0]["barcode"])
    scan(page, milk["barcodes"][0]["barcode"])
    scan(page, scale_label(code, 750))
    expect(line(page, milk)).to_contain_text("Low stock")
    page.screenshot(path=str(artifacts / "till-en.png"))

    page.click("a.lang-switch")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.locator("#complete")).to_contain_text("إتمام البيع")
    scan(page, milk["barcodes"][0]["barcode"])
    scan(page, scale_label(code, 750))
    expect(line(page, milk)).to_contain_text("حليب ١ لتر")
    expect(line(page, cheese)).to_have_count(1)
    page.screenshot(path=str(artifacts / "till-ar.png"))
