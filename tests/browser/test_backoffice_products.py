"""The back office's product pages in a real browser: import with a row-by-row report, search, edit, labels."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from stdnum import ean

from tests.browser.helpers import sign_in_with_key
from tests.support import Shop, ean13


def _csv(tag: str) -> bytes:
    good = [ean13() for _ in range(3)]
    wrong = good[0][:-1] + str((int(good[0][-1]) + 1) % 10)
    rows = [
        "sku,name,name_ar,price,currency,low_stock_threshold,barcode",
        f"A-{tag},Halloumi,حلوم بلدي,6.5,USD,4,{good[0]}",
        f"B-{tag},Olive oil 1L,زيت زيتون,9,USD,2,{good[1]}",
        f"C-{tag},Bad code,رمز خاطئ,1,USD,0,{wrong}",
        f"D-{tag},Tahini,طحينة,4.25,USD,3,{good[2]}",
        f"E-{tag},Bad price,سعر خاطئ,one dollar,USD,0,",
    ]
    return ("\r\n".join(rows) + "\r\n").encode("utf-8-sig")


def test_import_a_csv_with_two_bad_rows_shows_them_on_the_page(page: Any, shop: Shop, artifacts: Path) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    sign_in_with_key(page, shop.server_url, shop.admin.key)
    page.goto(f"{shop.server_url}/products/import")
    page.set_input_files("#import-form input[name=file]",
                         files=[{"name": "prices.csv", "mimeType": "text/csv", "buffer": _csv(tag)}])
    page.click("#import-form button[type=submit]")
    errors = page.locator("#import-errors tbody tr")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_have_attribute("data-row", "4")
    expect(errors.nth(0)).to_contain_text("check digit")
    expect(errors.nth(1)).to_have_attribute("data-row", "6")
    expect(errors.nth(1)).to_contain_text("price")
    expect(page.locator("[data-testid=import-summary]")).to_contain_text("3 created")
    page.screenshot(path=str(artifacts / "backoffice-import-en.png"), full_page=True)

    # The good rows are in the catalogue: the Arabic-aware search finds one by a spelling variant.
    page.goto(f"{shop.server_url}/products")
    page.fill("[data-testid=product-search]", "طحينه")
    expect(page.locator("#product-table tbody tr")).to_have_count(1)
    expect(page.locator("#product-table tbody")).to_contain_text(f"D-{tag}")
    assert not [p for p in shop.admin.ok("GET", f"/products?q=C-{tag}")["products"] if p["sku"] == f"C-{tag}"]


def test_create_a_product_with_a_case_barcode_then_see_its_label(page: Any, shop: Shop, artifacts: Path) -> None:
    sku = f"NEW-{uuid.uuid4().hex[:6]}"
    unit, case = ean13(), ean13("7")
    sign_in_with_key(page, shop.server_url, shop.admin.key)
    page.goto(f"{shop.server_url}/products/new")
    form = page.locator("#product-form")
    form.locator("input[name=sku]").fill(sku)
    form.locator("input[name=name]").fill("Water 500ml")
    form.locator("input[name=name_ar]").fill("مياه ٥٠٠ مل")
    form.locator("input[name=price]").fill("0.35")
    form.locator("input[name=barcode]").nth(0).fill(unit)
    form.locator("input[name=barcode]").nth(1).fill(case)
    form.locator("input[name=unit]").nth(1).fill("case")
    form.locator("input[name=factor]").nth(1).fill("12")
    form.locator("button[type=submit]").click()
    expect(page.locator(".alert.ok")).to_be_visible()
    assert re.search(r"/products/[0-9a-f-]{36}\?saved=1$", page.url)
    product_id = page.url.split("/products/")[1].split("?")[0]
    product = shop.admin.ok("GET", f"/products/{product_id}")
    assert {(b["barcode"], b["factor"]) for b in product["barcodes"]} == {(unit, "1.000"), (case, "12.000")}
    # The label preview is the API's SVG, loaded with the session cookie.
    label = page.locator("img.label-preview")
    expect(label).to_be_visible()
    assert page.evaluate("img => img.naturalWidth", label.element_handle()) > 0

    page.screenshot(path=str(artifacts / "backoffice-product-en.png"), full_page=True)
    # A bad check digit is refused on the page, with the form kept.
    form = page.locator("#product-form")
    form.locator("input[name=barcode]").nth(0).fill(unit[:-1] + str((int(unit[-1]) + 1) % 10))
    form.locator("button[type=submit]").click()
    expect(page.locator(".alert.error")).to_contain_text("check digit")
    expect(page.locator("#product-form input[name=sku]")).to_have_value(sku)


def test_products_page_in_arabic_is_right_to_left(page: Any, shop: Shop, artifacts: Path) -> None:
    shop.product(name="Za'atar", name_ar="زعتر")
    sign_in_with_key(page, shop.server_url, shop.admin.key)
    page.goto(f"{shop.server_url}/lang/ar?next=/products")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("h1")).to_have_text("الأصناف")
    expect(page.locator("a[href='/products/import']")).to_have_text("استيراد الأصناف")
    page.screenshot(path=str(artifacts / "backoffice-products-ar.png"), full_page=True)


def test_goods_without_a_code_get_an_in_store_ean13_and_a_label(page: Any, shop: Shop) -> None:
    bulk = shop.product(name="Sumac (loose)", name_ar="سماق", unit="kg", price="12", barcodes=[])
    sign_in_with_key(page, shop.server_url, shop.admin.key)
    page.goto(f"{shop.server_url}/products/{bulk['id']}")
    expect(page.locator("img.label-preview")).to_have_count(0)
    page.click("#store-code-form button")
    expect(page.locator("img.label-preview")).to_be_visible()
    (code,) = [b["barcode"] for b in shop.admin.ok("GET", f"/products/{bulk['id']}")["barcodes"]]
    # An EAN-13 in GS1's in-store range, outside the default scale rule (21...), that the till scans.
    assert len(code) == 13 and code.startswith("20") and ean.is_valid(code)
    assert shop.admin.ok("GET", f"/scan/{code}?location_id={shop.store}")["product"]["id"] == bulk["id"]
    assert shop.admin.get(f"/products/{bulk['id']}/label.svg").status_code == 200
