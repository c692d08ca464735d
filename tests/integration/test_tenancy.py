"""Another tenant's ids answer 404 (or 403 for a bound key) and change nothing; roles hold."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
from tests.support import Api, ServerProcess, Shop, new_shop


def test_other_tenants_ids_are_not_found_and_untouched(shop: Shop, server: ServerProcess, app_database: str) -> None:
    other = new_shop(server.url, app_database)
    theirs = other.product(price="2.000")
    other.receive(theirs["id"], "10", other.store)
    their_sale = other.admin.ok("POST", "/sales", {"id": str(uuid.uuid4()), "location_id": other.store,
                                                   "lines": [{"product_id": theirs["id"], "quantity": "1"}]}, 201)
    their_code = theirs["barcodes"][0]["barcode"]
    me = shop.admin
    mine = shop.product()
    shop.receive(mine["id"], "10")

    assert me.get(f"/products/{theirs['id']}").status_code == 404
    assert me.patch(f"/products/{theirs['id']}", {"price": "0.010"}).status_code == 404
    assert me.get(f"/products/{theirs['id']}/movements").json()["movements"] == []
    assert me.get(f"/sales/{their_sale['id']}").status_code == 404
    assert me.get(f"/scan/{their_code}?location_id={shop.store}").status_code == 404
    assert me.get(f"/stock?product_id={theirs['id']}").json()["levels"] == []
    assert me.get(f"/products?q={theirs['sku']}").json()["products"] == []
    assert their_code not in str(me.get("/products").json())

    line = {"product_id": theirs["id"], "quantity": "1"}
    writes = [
        ("/sales", {"id": str(uuid.uuid4()), "location_id": shop.store, "lines": [line]}),
        ("/sales", {"id": str(uuid.uuid4()), "location_id": other.store,
                    "lines": [{"product_id": mine["id"], "quantity": "1"}]}),
        ("/receipts", {"id": str(uuid.uuid4()), "location_id": shop.store, "lines": [line]}),
        ("/receipts", {"id": str(uuid.uuid4()), "location_id": other.store,
                       "lines": [{"product_id": mine["id"], "quantity": "1"}]}),
        ("/transfers", {"id": str(uuid.uuid4()), "from_location_id": other.store, "to_location_id": shop.store,
                        "lines": [{"product_id": mine["id"], "quantity": "1"}]}),
        ("/transfers", {"id": str(uuid.uuid4()), "from_location_id": shop.store, "to_location_id": other.store,
                        "lines": [{"product_id": mine["id"], "quantity": "1"}]}),
        ("/adjustments", {"id": str(uuid.uuid4()), "location_id": shop.store, "reason": "waste",
                          "lines": [{"product_id": theirs["id"], "delta": "-1"}]}),
        ("/counts", {"id": str(uuid.uuid4()), "location_id": shop.store,
                     "lines": [{"product_id": theirs["id"], "counted": "0"}]}),
        ("/keys", {"name": "x", "role": "cashier", "location_id": other.store}),
        # Their sale's id: a new sale of mine may not read or overwrite it.
        ("/sales", {"id": their_sale["id"], "location_id": shop.store,
                    "lines": [{"product_id": mine["id"], "quantity": "1"}]}),
    ]
    for path, body in writes[:-1]:
        response = me.post(path, body)
        assert response.status_code == 404, (path, body, response.text)
        assert response.json()["error"]["code"] == "not_found"
    # Ids are per tenant: my sale with their sale's id is simply my own sale.
    assert me.post(*writes[-1]).status_code == 201

    assert other.level(theirs["id"], other.store) == Decimal("9")
    assert other.admin.ok("GET", f"/sales/{their_sale['id']}")["total"] == their_sale["total"]
    assert shop.level(mine["id"]) == Decimal("9")


def test_roles_and_location_bound_keys(shop: Shop) -> None:
    cashier = shop.key("cashier", shop.store)
    manager = shop.key("manager")
    p = shop.product()
    shop.receive(p["id"], "5")
    receipt = {"id": str(uuid.uuid4()), "location_id": shop.store, "lines": [{"product_id": p["id"], "quantity": "1"}]}

    assert cashier.post("/receipts", receipt).status_code == 403
    assert cashier.post("/products", {"sku": "X", "name": "X", "price": "1"}).status_code == 403
    assert manager.post("/products", {"sku": "X", "name": "X", "price": "1"}).status_code == 403
    assert manager.post("/receipts", receipt).status_code == 201
    assert cashier.post("/keys", {"name": "k", "role": "admin"}).status_code == 403

    # A till's key sells at its own location by default and nowhere else.
    line = [{"product_id": p["id"], "quantity": "1"}]
    assert cashier.post("/sales", {"id": str(uuid.uuid4()), "lines": line}).status_code == 201
    refused = cashier.post("/sales", {"id": str(uuid.uuid4()), "location_id": shop.warehouse, "lines": line})
    assert refused.status_code == 403
    assert cashier.get(f"/scan/{p['barcodes'][0]['barcode']}?location_id={shop.warehouse}").status_code == 403
    assert shop.level(p["id"]) == Decimal("5")  # +1 received, -1 sold


def test_missing_or_wrong_key_is_401(shop: Shop, server: ServerProcess) -> None:
    assert httpx.get(f"{server.url}/api/v1/locations").status_code == 401
    for key in ("nonsense", "mk_" + "0" * 32 + "_secret", shop.admin.key + "x"):
        api = Api(server.url, key)
        response = api.get("/locations")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
