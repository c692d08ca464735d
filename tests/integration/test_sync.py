"""The central side of terminal sync: the catalog change feed, batches of offline sales applied
exactly once with their conflicts, and resolving those conflicts."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from tests.support import Api, Shop, ean13, ledger_drift


def offline_sale(*lines: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "occurred_at": datetime.now(UTC).isoformat(), "offline": True,
            "lines": list(lines), **extra}


def pull_all(api: Api, since: str = "0", limit: int = 1000) -> tuple[list[dict[str, Any]], str]:
    changes: list[dict[str, Any]] = []
    while True:
        page = api.ok("GET", f"/catalog/changes?since={since}&limit={limit}")
        changes += page["changes"]
        since = page["next_cursor"]
        if not page["more"]:
            return changes, since


def latest(changes: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    state: dict[tuple[str, str], Any] = {}
    for change in changes:
        state[(change["entity"], change["key"])] = change["data"]
    return state


# --- the catalog change feed ------------------------------------------------------------------


def test_feed_carries_products_barcodes_rules_settings_and_removals(shop: Shop) -> None:
    cashier = shop.key("cashier", shop.store)
    code, other = ean13(), ean13()
    milk = shop.product(price="1.250", barcodes=[{"barcode": code}])
    changes, cursor = pull_all(cashier)
    state = latest(changes)
    assert state[("product", milk["id"])]["price"] == "1.250"
    assert state[("barcode", code)]["product_id"] == milk["id"]
    assert state[("settings", "tenant")]["lbp_rate"]
    assert ("barcode_rule", "21") in state  # the default weighed-label rule of a new tenant
    assert [int(c["seq"]) for c in changes] == sorted(int(c["seq"]) for c in changes)

    # Nothing new: an empty page at the same cursor.
    page = cashier.ok("GET", f"/catalog/changes?since={cursor}")
    assert page == {"changes": [], "next_cursor": cursor, "more": False}

    # A price change, a barcode moved to another product, a barcode removed, a new rate.
    water = shop.product(price="0.500", barcodes=[{"barcode": other}])
    shop.admin.ok("PATCH", f"/products/{milk['id']}", {"price": "1.500", "barcodes": []})
    shop.admin.ok("PATCH", f"/products/{water['id']}", {"barcodes": [{"barcode": other}, {"barcode": code}]})
    shop.admin.ok("PUT", "/settings/exchange-rate", {"lbp_rate": "90000"})
    shop.admin.ok("POST", "/barcode-rules", {"pattern": "22PPPPP$$$$$C"}, 201)

    changes, cursor2 = pull_all(cashier, cursor)
    state = latest(changes)
    assert int(cursor2) > int(cursor)
    assert state[("product", milk["id"])]["price"] == "1.500"
    assert state[("barcode", code)]["product_id"] == water["id"]
    assert state[("barcode", other)]["product_id"] == water["id"]
    assert state[("settings", "tenant")]["lbp_rate"] == "90000.0000"
    assert state[("barcode_rule", "22")]["pattern"] == "22PPPPP$$$$$C"

    shop.admin.ok("PATCH", f"/products/{water['id']}", {"barcodes": [{"barcode": other}]})
    changes, _ = pull_all(cashier, cursor2)
    assert latest(changes)[("barcode", code)] is None


def test_feed_pages_in_order_without_gaps(shop: Shop) -> None:
    cashier = shop.key("cashier", shop.store)
    made = [shop.product()["id"] for _ in range(7)]
    changes, _ = pull_all(cashier, limit=3)
    seqs = [int(c["seq"]) for c in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert {("product", p) for p in made} <= set(latest(changes))


def test_feed_is_tenant_scoped_and_cursor_checked(shop: Shop, server: Any, app_database: str) -> None:
    from tests.support import new_shop

    other = new_shop(server.url, app_database)
    theirs = other.product()
    changes, _ = pull_all(shop.key("cashier", shop.store))
    assert ("product", theirs["id"]) not in latest(changes)
    for bad in ("-1", "abc", "1e3", "99999999999999999999"):
        response = shop.admin.get(f"/catalog/changes?since={bad}")
        assert response.status_code == 422, (bad, response.text)
    assert shop.admin.get("/catalog/changes?limit=0").status_code == 422


# --- offline sales ----------------------------------------------------------------------------


def test_batch_applies_each_sale_once_with_its_own_status(shop: Shop, app_database: str) -> None:
    code = ean13()
    milk = shop.product(price="1.250", barcodes=[{"barcode": code}])
    shop.receive(milk["id"], "10")
    cashier = shop.key("cashier", shop.store)
    good = offline_sale({"barcode": code, "quantity": "2", "price": "1.250"})
    malformed = {"id": str(uuid.uuid4()), "lines": "not a list", "offline": True}
    not_an_object = 42
    other = offline_sale({"product_id": milk["id"], "quantity": "1", "price": "1.250"})

    results = cashier.ok("POST", "/sync/sales", {"sales": [good, malformed, not_an_object, other]})["results"]
    assert [r["status"] for r in results] == ["applied", "rejected", "rejected", "applied"]
    assert results[1]["error"]["code"] == "invalid_request"
    assert results[0]["conflicts"] == [] and results[0]["error"] is None
    assert shop.level(milk["id"]) == Decimal("7")

    recorded = cashier.ok("GET", f"/sales/{good['id']}")
    assert recorded["offline"] is True
    assert recorded["total"] == "2.500"
    assert recorded["lines"][0]["stock_after"] == "8.000"

    # The same batch again: duplicates, nothing applied twice.
    again = cashier.ok("POST", "/sync/sales", {"sales": [good, other]})["results"]
    assert [r["status"] for r in again] == ["duplicate", "duplicate"]
    assert shop.level(milk["id"]) == Decimal("7")
    assert ledger_drift(app_database) == []


def test_sale_committed_online_then_synced_is_a_duplicate(shop: Shop) -> None:
    code = ean13()
    milk = shop.product(price="1.000", barcodes=[{"barcode": code}])
    shop.receive(milk["id"], "5")
    cashier = shop.key("cashier", shop.store)
    sale = offline_sale({"barcode": code, "price": "1.000"})
    online = {k: v for k, v in sale.items() if k != "offline"}
    online["lines"] = [{"barcode": code}]
    assert cashier.post("/sales", online).status_code == 201
    results = cashier.ok("POST", "/sync/sales", {"sales": [sale]})["results"]
    assert results[0]["status"] == "duplicate"
    assert shop.level(milk["id"]) == Decimal("4")


def test_offline_sale_below_zero_applies_and_records_the_shortfall(shop: Shop, app_database: str) -> None:
    code = ean13()
    bread = shop.product(price="0.800", barcodes=[{"barcode": code}])
    shop.receive(bread["id"], "2")
    cashier = shop.key("cashier", shop.store)
    first = offline_sale({"barcode": code, "quantity": "2", "price": "0.800"})
    second = offline_sale({"barcode": code, "quantity": "3", "price": "0.800"})
    results = cashier.ok("POST", "/sync/sales", {"sales": [first, second]})["results"]
    assert [r["status"] for r in results] == ["applied", "applied"]
    assert results[0]["conflicts"] == []
    (shortfall,) = results[1]["conflicts"]
    assert shortfall["kind"] == "insufficient_stock"
    assert (shortfall["requested"], shortfall["available"], shortfall["stock_after"]) == ("3.000", "0.000", "-3.000")
    assert shop.level(bread["id"]) == Decimal("-3")
    assert ledger_drift(app_database) == []

    manager = shop.key("manager")
    (listed,) = manager.ok("GET", "/conflicts?status=open")["conflicts"]
    assert listed["id"] == shortfall["id"] and listed["sale_id"] == second["id"]

    # The manager counts the shelf: the level becomes what was counted, the conflict is closed.
    resolved = manager.ok("POST", f"/conflicts/{listed['id']}/resolve", {"action": "count", "counted": "4"})
    assert resolved["status"] == "resolved" and resolved["resolution"]["action"] == "count"
    assert shop.level(bread["id"]) == Decimal("4")
    assert manager.ok("GET", "/conflicts?status=open")["conflicts"] == []
    again = manager.post(f"/conflicts/{listed['id']}/resolve", {"action": "accept"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict_resolved"
    assert ledger_drift(app_database) == []


def test_a_count_through_the_api_resolves_open_shortfalls(shop: Shop) -> None:
    code = ean13()
    tea = shop.product(barcodes=[{"barcode": code}])
    cashier = shop.key("cashier", shop.store)
    cashier.ok("POST", "/sync/sales", {"sales": [offline_sale({"barcode": code, "price": "1.000"})]})
    manager = shop.key("manager")
    assert len(manager.ok("GET", "/conflicts")["conflicts"]) == 1
    shop.admin.ok("POST", "/counts", {"id": str(uuid.uuid4()), "location_id": shop.store,
                                      "lines": [{"product_id": tea["id"], "counted": "6"}]}, 201)
    assert manager.ok("GET", "/conflicts")["conflicts"] == []
    (closed,) = manager.ok("GET", "/conflicts?status=resolved")["conflicts"]
    assert closed["resolution"]["action"] == "count"


def test_price_changed_and_unknown_barcode_are_conflicts_not_refusals(shop: Shop) -> None:
    code = ean13()
    soap = shop.product(price="2.000", barcodes=[{"barcode": code}])
    shop.receive(soap["id"], "10")
    cashier = shop.key("cashier", shop.store)
    unknown = ean13()
    sale = offline_sale({"barcode": code, "quantity": "2", "price": "1.750"},
                        {"barcode": unknown, "price": "3.000"})
    (result,) = cashier.ok("POST", "/sync/sales", {"sales": [sale]})["results"]
    assert result["status"] == "applied"
    kinds = {c["kind"]: c for c in result["conflicts"]}
    assert kinds["price_changed"]["till_price"] == "1.750" and kinds["price_changed"]["price"] == "2.000"
    assert kinds["unknown_barcode"]["barcode"] == unknown
    recorded = cashier.ok("GET", f"/sales/{sale['id']}")
    # The money the till took: 2 x 1.750 plus the unknown item's 3.000.
    assert recorded["total"] == "6.500"
    assert [ln["unit_price"] for ln in recorded["lines"]] == ["1.750"]
    assert shop.level(soap["id"]) == Decimal("8")

    manager = shop.key("manager")
    unknown_conflict = next(c for c in manager.ok("GET", "/conflicts")["conflicts"] if c["kind"] == "unknown_barcode")
    refused = manager.post(f"/conflicts/{unknown_conflict['id']}/resolve", {"action": "count", "counted": "1"})
    assert refused.status_code == 422
    accepted = manager.ok("POST", f"/conflicts/{unknown_conflict['id']}/resolve", {"action": "accept", "note": "gift"})
    assert accepted["resolution"] == {"action": "accept", "note": "gift", "document_id": None}


def test_offline_sale_in_lbp_at_the_tills_rate(shop: Shop) -> None:
    code = ean13()
    rice = shop.product(price="2.000", barcodes=[{"barcode": code}])
    shop.receive(rice["id"], "5")
    cashier = shop.key("cashier", shop.store)
    sale = offline_sale({"barcode": code, "price": "178000"}, currency="LBP", exchange_rate="89000")
    (result,) = cashier.ok("POST", "/sync/sales", {"sales": [sale]})["results"]
    assert result["status"] == "applied" and result["conflicts"] == []
    recorded = cashier.ok("GET", f"/sales/{sale['id']}")
    assert (recorded["currency"], recorded["exchange_rate"], recorded["total"]) == ("LBP", "89000.0000", "178000.000")


def test_concurrent_batches_sharing_sales_apply_each_once(shop: Shop, app_database: str) -> None:
    code = ean13()
    hot = shop.product(price="1.000", barcodes=[{"barcode": code}])
    shop.receive(hot["id"], "1000")
    cashier = shop.key("cashier", shop.store)
    sales = [offline_sale({"barcode": code, "price": "1.000"}) for _ in range(60)]
    # Eight batches, each a different overlapping slice of the same 60 sales, at once.
    batches = [sales[i * 5:i * 5 + 30] for i in range(7)] + [list(reversed(sales))]

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda b: cashier.ok("POST", "/sync/sales", {"sales": b})["results"], batches))
    applied = [r["id"] for results in answers for r in results if r["status"] == "applied"]
    assert sorted(applied) == sorted(s["id"] for s in sales)
    assert all(r["status"] in ("applied", "duplicate") for results in answers for r in results)
    assert shop.level(hot["id"]) == Decimal("940")
    assert ledger_drift(app_database) == []


def test_synced_sale_crossing_the_threshold_raises_one_alert(shop: Shop) -> None:
    code = ean13()
    oil = shop.product(price="5.000", threshold="5", barcodes=[{"barcode": code}])
    shop.receive(oil["id"], "8")
    cashier = shop.key("cashier", shop.store)
    sales = [offline_sale({"barcode": code, "price": "5.000"}) for _ in range(6)]
    cashier.ok("POST", "/sync/sales", {"sales": sales})
    # GET /alerts lists an alert once no older transaction is still open on the server: poll.
    deadline = time.monotonic() + 30
    while True:
        alerts = [a for a in shop.admin.ok("GET", "/alerts")["alerts"] if a["product_id"] == oil["id"]]
        if alerts or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    time.sleep(0.5)
    alerts = [a for a in shop.admin.ok("GET", "/alerts")["alerts"] if a["product_id"] == oil["id"]]
    assert len(alerts) == 1
    # The third sale took it from 6 to 5: that sale is the one named.
    assert alerts[0]["document_id"] == sales[2]["id"]
    assert alerts[0]["quantity_after"] == "5.000"


@pytest.mark.parametrize("body", [
    {}, {"sales": []}, {"sales": "x"}, {"sales": [{}] * 501}, {"sales": [], "extra": 1}, [],
])
def test_bad_envelope_is_refused(shop: Shop, body: Any) -> None:
    response = shop.key("cashier", shop.store).post("/sync/sales", body)
    assert response.status_code == 422, response.text


def test_other_tenants_and_locations_are_refused(shop: Shop, server: Any, app_database: str) -> None:
    from tests.support import new_shop

    other = new_shop(server.url, app_database)
    theirs = other.product()
    cashier = shop.key("cashier", shop.store)
    results = cashier.ok("POST", "/sync/sales", {"sales": [
        offline_sale({"product_id": theirs["id"], "quantity": "1", "price": "1.000"}),
        offline_sale({"barcode": theirs["barcodes"][0]["barcode"], "price": "1.000"}),
        offline_sale({"barcode": ean13(), "price": "1.000"}, location_id=shop.warehouse),
    ]})["results"]
    assert results[0]["status"] == "rejected" and results[0]["error"]["code"] == "not_found"
    # Their barcode is unknown here: applied, with a conflict, and their stock untouched.
    assert results[1]["status"] == "applied" and results[1]["conflicts"][0]["kind"] == "unknown_barcode"
    assert results[2]["status"] == "rejected" and results[2]["error"]["code"] == "forbidden"
    assert other.level(theirs["id"]) == Decimal("0")

    # Their conflicts are not ours, and cannot be resolved from here.
    their_cashier = other.key("cashier", other.store)
    code = ean13()
    item = other.product(barcodes=[{"barcode": code}])
    their_cashier.ok("POST", "/sync/sales", {"sales": [offline_sale({"barcode": code, "price": "1.000"})]})
    (theirs_conflict,) = other.key("manager").ok("GET", "/conflicts")["conflicts"]
    assert theirs_conflict["product_id"] == item["id"]
    response = shop.admin.post(f"/conflicts/{theirs_conflict['id']}/resolve", {"action": "accept"})
    assert response.status_code == 404
    assert cashier.get("/conflicts").status_code == 403


# --- a model of sync, checked on random batches ------------------------------------------------

pool_line = st.tuples(st.integers(0, 2), st.integers(1, 4))
pool_sale = st.lists(pool_line, min_size=1, max_size=3)
batch_picks = st.lists(st.lists(st.integers(0, 7), min_size=1, max_size=6), min_size=1, max_size=4)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pool=st.lists(pool_sale, min_size=8, max_size=8), batches=batch_picks, start=st.integers(0, 8))
def test_random_batches_match_a_model(shop: Shop, app_database: str, pool: list[list[tuple[int, int]]],
                                      batches: list[list[int]], start: int) -> None:
    codes = [ean13() for _ in range(3)]
    products = [shop.product(price="1.000", barcodes=[{"barcode": c}])["id"] for c in codes]
    for product in products:
        if start:
            shop.receive(product, str(start))
    cashier = shop.key("cashier", shop.store)
    sales = [offline_sale(*({"barcode": codes[p], "quantity": str(q), "price": "1.000"} for p, q in lines))
             for lines in pool]

    levels = {p: Decimal(start) for p in products}
    applied: set[int] = set()
    for picks in batches:
        results = cashier.ok("POST", "/sync/sales", {"sales": [sales[i] for i in picks]})["results"]
        for i, result in zip(picks, results, strict=True):
            if i in applied:
                assert result["status"] == "duplicate"
                continue
            applied.add(i)
            assert result["status"] == "applied"
            short = set()
            for p, q in pool[i]:
                levels[products[p]] -= q
            for p, _ in pool[i]:
                if levels[products[p]] < 0:
                    short.add(products[p])
            assert {c["product_id"] for c in result["conflicts"] if c["kind"] == "insufficient_stock"} == short
    for product in products:
        assert shop.level(product) == levels[product]
    assert ledger_drift(app_database) == []


def test_a_key_tells_its_role_and_location(shop: Shop) -> None:
    cashier = shop.key("cashier", shop.store)
    me = cashier.ok("GET", "/keys/me")
    assert (me["role"], me["location_id"], me["tenant_id"]) == ("cashier", shop.store, shop.tenant_id)
    assert shop.admin.ok("GET", "/keys/me")["location_id"] is None
    assert Api(shop.server_url, "mk_nope").get("/keys/me").status_code == 401
