"""The session cookie at the HTTP level (no browser): what the API and the forms accept."""

from __future__ import annotations

from typing import Any

import httpx

from tests.browser.conftest import off_the_loop
from tests.support import Shop, new_shop


def signed_in(shop: Shop, key: str | None = None) -> httpx.Client:
    client = httpx.Client(base_url=shop.server_url, timeout=30)
    reply = client.post("/signin", data={"method": "key", "key": key or shop.admin.key, "next": "//evil.example/x"})
    assert reply.status_code == 303
    assert reply.headers["location"] == "/"  # never sent to another site after sign-in
    return client


def test_the_cookie_is_a_fallback_and_a_bearer_key_wins(shop: Shop, server: Any, app_database: str) -> None:
    client = signed_in(shop)
    assert client.get("/api/v1/settings").json()["tenant_id"] == shop.tenant_id
    other = off_the_loop(new_shop, server.url, app_database)
    # With an Authorization header, the key decides, whatever the cookie says.
    reply = client.get("/api/v1/settings", headers={"Authorization": f"Bearer {other.admin.key}"})
    assert reply.json()["tenant_id"] == other.tenant_id
    reply = client.get("/api/v1/settings", headers={"Authorization": "Bearer nonsense"})
    assert reply.status_code == 401


def test_a_forged_or_ended_session_is_refused(shop: Shop) -> None:
    forged = httpx.Client(base_url=shop.server_url, timeout=30)
    for value in ("nonsense", f"ms_{shop.tenant_id.replace('-', '')}_made-up", "ms_zz_x"):
        forged.cookies.set("makhzan_session", value)
        reply = forged.get("/api/v1/settings")
        assert reply.status_code == 401 and reply.json()["error"]["code"] == "unauthorized"
        assert forged.get("/").status_code == 303
    client = signed_in(shop)
    value = client.cookies["makhzan_session"]
    assert client.post("/signout").status_code == 303
    replay = httpx.Client(base_url=shop.server_url, timeout=30)
    replay.cookies.set("makhzan_session", value)
    assert replay.get("/api/v1/settings").status_code == 401


def test_a_form_posted_from_another_origin_is_refused(shop: Shop) -> None:
    client = signed_in(shop)
    before = shop.admin.ok("GET", "/locations")["locations"]
    reply = client.post("/settings/locations", data={"name": "Sneaky", "kind": "store"},
                        headers={"Origin": "http://evil.example"})
    assert reply.status_code == 403
    assert shop.admin.ok("GET", "/locations")["locations"] == before
    # Nor may another site sign a browser in or out.
    stranger = httpx.Client(base_url=shop.server_url, timeout=30)
    reply = stranger.post("/signin", data={"method": "key", "key": shop.admin.key},
                          headers={"Origin": "http://evil.example"})
    assert reply.status_code == 403 and "makhzan_session" not in stranger.cookies
    assert client.post("/signout", headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.get("/api/v1/settings").status_code == 200
    reply = client.post("/settings/locations", data={"name": "Jounieh store", "kind": "store"},
                        headers={"Origin": shop.server_url})
    assert reply.status_code == 303
    assert any(loc["name"] == "Jounieh store" for loc in shop.admin.ok("GET", "/locations")["locations"])


def test_a_cashier_session_sells_but_opens_no_back_office(shop: Shop) -> None:
    key = shop.admin.ok("POST", "/keys", {"name": "till", "role": "cashier", "location_id": shop.store}, 201)["key"]
    client = httpx.Client(base_url=shop.server_url, timeout=30)
    reply = client.post("/signin", data={"method": "key", "key": key})
    assert reply.headers["location"] == "/till"
    assert client.get("/till").status_code == 200
    assert client.get("/").status_code == 403
    assert client.get("/settings/keys").status_code == 403
    # The API applies the role of the session like the role of a key.
    assert client.post("/api/v1/locations", json={"name": "X", "kind": "store"}).status_code == 403
