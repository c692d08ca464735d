"""What the browser tests share: how to start chromium, sign in, and make a shop's goods."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from stdnum import ean

from tests.support import Shop, ean13

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def sign_in_with_key(page: Any, base_url: str, key: str) -> None:
    page.goto(f"{base_url}/signin")
    page.locator("#signin-key").evaluate("form => form.closest('details').open = true")
    page.fill("#signin-key input[name=key]", key)
    page.click("#signin-key button[type=submit]")
    page.wait_for_load_state("load")


def sign_in_with_password(page: Any, base_url: str, shop_code: str, login: str, password: str) -> None:
    page.goto(f"{base_url}/signin")
    page.fill("#signin-password input[name=shop]", shop_code)
    page.fill("#signin-password input[name=login]", login)
    page.fill("#signin-password input[name=password]", password)
    page.click("#signin-password button[type=submit]")
    page.wait_for_load_state("load")


def cashier_key(shop: Shop) -> str:
    created = shop.admin.ok("POST", "/keys", {"name": "till", "role": "cashier", "location_id": shop.store}, 201)
    key: str = created["key"]
    return key


def stocked_product(shop: Shop, *, stock: str, price: str = "2.500", threshold: str = "0", case: bool = False,
                    name: str | None = None, name_ar: str | None = None) -> dict[str, Any]:
    """A product with a unit barcode (and a case of 24 if asked), stocked at the store."""
    barcodes = [{"barcode": ean13()}]
    if case:
        barcodes.append({"barcode": ean13("7"), "factor": "24", "unit": "case"})
    extra: dict[str, Any] = {}
    if name:
        extra["name"] = name
    if name_ar:
        extra["name_ar"] = name_ar
    product = shop.product(price=price, threshold=threshold, barcodes=barcodes, **extra)
    if Decimal(stock) > 0:
        shop.receive(product["id"], stock)
    return product


def weighed_product(shop: Shop, *, stock: str, price: str = "9.000", **names: str) -> tuple[dict[str, Any], str]:
    """A product sold by weight under the default scale rule 21PPPPPWWWWWC, and its code base."""
    code = f"{uuid.uuid4().int % 100000:05d}"
    body = f"21{code}00000"
    base = body + ean.calc_check_digit(body)
    product = shop.product(price=price, unit="kg", barcodes=[{"barcode": base}], **names)
    shop.receive(product["id"], stock)
    return product, f"21{code}"


def scale_label(prefix_and_code: str, grams: int) -> str:
    body = f"{prefix_and_code}{grams:05d}"
    return body + ean.calc_check_digit(body)


def scan(page: Any, code: str) -> None:
    """Type a code as a USB scanner does: digits a few milliseconds apart, then Enter."""
    page.keyboard.type(code, delay=5)
    page.keyboard.press("Enter")
