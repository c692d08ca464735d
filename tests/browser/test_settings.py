"""Settings pages end to end: a scale-label rule reaching the till, e-mail, disabling a user."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import expect
from stdnum import ean

from tests.browser.helpers import scan, sign_in_with_key, sign_in_with_password
from tests.browser.test_signin import add_user
from tests.support import Shop


def test_a_new_scale_rule_is_read_at_the_till(page: Any, shop: Shop) -> None:
    sign_in_with_key(page, shop.server_url, shop.admin.key)
    page.goto(shop.server_url + "/settings/barcode-rules")
    page.fill("input[name=pattern]", "22PPPPPWWWWW")  # one digit short
    page.click("main form button[type=submit]")
    expect(page.locator("#form-error")).to_be_visible()
    page.fill("input[name=pattern]", "22PPPPPWWWWWC")
    page.click("main form button[type=submit]")
    expect(page.locator("#form-notice")).to_be_visible()
    expect(page.locator("main table")).to_contain_text("22PPPPPWWWWWC")

    code = f"{uuid.uuid4().int % 100000:05d}"
    base = f"22{code}00000"
    olives = shop.product(price="6.000", unit="kg", name="Green olives",
                          barcodes=[{"barcode": base + ean.calc_check_digit(base)}])
    shop.receive(olives["id"], "3")
    label = f"22{code}00400"

    # An admin's session is bound to no location: the till asks which store.
    page.goto(shop.server_url + "/till")
    page.select_option("#location", shop.store)
    expect(page.locator("#rate")).to_contain_text("89,500")
    page.locator("#scan").focus()
    scan(page, label + ean.calc_check_digit(label))
    expect(page.locator("#line-rows")).to_contain_text("Green olives × 0.4 kg")
    expect(page.locator("#total")).to_have_text("$2.40")


def test_email_settings_keep_the_password_unseen(page: Any, shop: Shop) -> None:
    pytest.importorskip("makhzan.mail")
    sign_in_with_key(page, shop.server_url, shop.admin.key)
    page.goto(shop.server_url + "/settings/email")
    form = page.locator("#email-form")
    form.locator("input[name=smtp_host]").fill("127.0.0.1")
    form.locator("input[name=smtp_port]").fill("2525")
    form.locator("select[name=security]").select_option("none")
    form.locator("input[name=username]").fill("shop")
    form.locator("input[name=password]").fill("smtp-secret")
    form.locator("input[name=from_address]").fill("not an address")
    form.locator("button[type=submit]").click()
    expect(page.locator("#form-error")).to_be_visible()

    form.locator("input[name=password]").fill("smtp-secret")
    form.locator("input[name=from_address]").fill("shop@example.com")
    form.locator("input[name=alert_recipients]").fill("owner@example.com, manager@example.com")
    form.locator("button[type=submit]").click()
    expect(page.locator("#form-notice")).to_be_visible()
    assert "smtp-secret" not in page.content()
    saved = shop.admin.ok("GET", "/settings/email")
    assert saved["smtp_port"] == 2525 and saved["password_set"] is True
    assert saved["alert_recipients"] == ["owner@example.com", "manager@example.com"]

    # Saved again without typing the password: the stored one stays.
    page.locator("#email-form input[name=smtp_port]").fill("2526")
    page.locator("#email-form button[type=submit]").click()
    expect(page.locator("#form-notice")).to_be_visible()
    saved = shop.admin.ok("GET", "/settings/email")
    assert saved["smtp_port"] == 2526 and saved["password_set"] is True


def test_a_disabled_user_is_signed_out(browser: Any, page: Any, shop: Shop) -> None:
    sign_in_with_key(page, shop.server_url, shop.admin.key)
    add_user(page, "karim", "manakish-daily-3", "manager")
    code = shop.tenant_id.replace("-", "")[:12]
    other = browser.new_context()
    try:
        karim = other.new_page()
        sign_in_with_password(karim, shop.server_url, code, "karim", "manakish-daily-3")
        expect(karim).to_have_url(re.compile(r"/$"))

        page.goto(shop.server_url + "/settings/users")
        page.locator("#users-table tr", has_text="karim").locator("button:has-text('Disable')").click()
        expect(page.locator("#users-table tr", has_text="karim")).to_contain_text("disabled")

        karim.goto(shop.server_url + "/")
        expect(karim).to_have_url(re.compile(r"/signin\?next=/$"))
        sign_in_with_password(karim, shop.server_url, code, "karim", "manakish-daily-3")
        expect(karim.locator("#signin-error")).to_be_visible()
    finally:
        other.close()
