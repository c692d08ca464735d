"""Signing in to the screens with a password or an API key, and what the session cookie allows."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import off_the_loop
from tests.browser.helpers import cashier_key, sign_in_with_key, sign_in_with_password
from tests.support import Shop, new_shop


def add_user(page: Any, login: str, password: str, role: str) -> None:
    page.goto(page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2] + "/settings/users")
    form = page.locator("#new-user")
    form.locator("input[name=login]").fill(login)
    form.locator("input[name=display_name]").fill(login.title())
    form.locator("select[name=role]").select_option(role)
    form.locator("input[name=password]").fill(password)
    form.locator("button[type=submit]").click()
    expect(page.locator("#users-table")).to_contain_text(login)


def test_password_sign_in_finds_the_shop_by_its_code(browser: Any, page: Any, shop: Shop) -> None:
    sign_in_with_key(page, shop.server_url, shop.admin.key)
    expect(page).to_have_url(re.compile(r"/$"))
    add_user(page, "rania", "cedar-tree-42", "manager")
    add_user(page, "omar", "falafel-time-7", "cashier")
    shop_code = page.locator("[data-testid=shop-code]").inner_text()
    assert shop_code == shop.tenant_id.replace("-", "")[:12]

    manager = browser.new_context()
    try:
        other = manager.new_page()
        sign_in_with_password(other, shop.server_url, shop_code, "rania", "wrong-password")
        expect(other.locator("#signin-error")).to_contain_text("not right")
        sign_in_with_password(other, shop.server_url, shop_code.upper(), "Rania", "cedar-tree-42")
        expect(other).to_have_url(re.compile(r"/$"))
        expect(other.locator(".who")).to_contain_text("Rania")
        cookie = next(c for c in manager.cookies() if c["name"] == "makhzan_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        # The same cookie authenticates the page's own calls to the API.
        assert other.evaluate("fetch('/api/v1/settings').then(r => r.status)") == 200
        # A manager is not an admin.
        assert other.goto(f"{shop.server_url}/settings/users").status == 403
        other.goto(shop.server_url + "/")
        other.click("button:has-text('Sign out')")
        expect(other).to_have_url(re.compile(r"/signin$"))
        assert other.evaluate("fetch('/api/v1/settings').then(r => r.status)") == 401
        other.goto(shop.server_url + "/")
        expect(other).to_have_url(re.compile(r"/signin\?next=/$"))
    finally:
        manager.close()

    cashier = browser.new_context()
    try:
        till = cashier.new_page()
        sign_in_with_password(till, shop.server_url, shop_code, "omar", "falafel-time-7")
        expect(till).to_have_url(re.compile(r"/till$"))
        assert till.goto(shop.server_url + "/").status == 403
    finally:
        cashier.close()


def test_guessing_a_password_is_stopped_after_five_tries(page: Any, shop: Shop) -> None:
    sign_in_with_key(page, shop.server_url, shop.admin.key)
    add_user(page, "nadine", "zaatar-and-oil-9", "manager")
    code = shop.tenant_id.replace("-", "")[:12]
    page.goto(shop.server_url + "/")
    page.click("button:has-text('Sign out')")
    for _ in range(5):
        sign_in_with_password(page, shop.server_url, code, "nadine", "guess-guess")
        expect(page.locator("#signin-error")).to_contain_text("not right")
    # The right password, too late: refused until the window passes.
    sign_in_with_password(page, shop.server_url, code, "nadine", "zaatar-and-oil-9")
    expect(page.locator("#signin-error")).to_contain_text("Too many wrong passwords")
    expect(page).to_have_url(re.compile(r"/signin$"))


def test_key_sign_in_and_a_wrong_key(page: Any, shop: Shop) -> None:
    sign_in_with_key(page, shop.server_url, shop.admin.key[:-3] + "xyz")
    expect(page.locator("#signin-error")).to_contain_text("not valid")
    sign_in_with_key(page, shop.server_url, cashier_key(shop))
    expect(page).to_have_url(re.compile(r"/till$"))


def test_a_session_is_scoped_to_its_own_shop(page: Any, shop: Shop, server: Any, app_database: str) -> None:
    other = off_the_loop(new_shop, server.url, app_database)
    product = other.product(price="1.000")
    sign_in_with_key(page, shop.server_url, shop.admin.key)
    status = page.evaluate(f"fetch('/api/v1/products/{product['id']}').then(r => r.status)")
    assert status == 404
