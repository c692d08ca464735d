"""The back-office forms refuse bad input with a page that says why (never a 500) and change nothing.

Plain HTTP with the session cookie, as a browser posts the forms; no browser needed.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx

from tests.browser.helpers import cashier_key, stocked_product
from tests.support import Shop


def session(shop: Shop, key: str) -> httpx.Client:
    client = httpx.Client(base_url=shop.server_url, timeout=30)
    signed = client.post("/signin", data={"method": "key", "key": key, "next": "/"})
    assert signed.status_code == 303, signed.text
    return client


def test_bad_documents_and_products_are_refused_on_the_page(shop: Shop) -> None:
    soap = stocked_product(shop, stock="5", price="1.000", name="Soap")
    code = soap["barcodes"][0]["barcode"]
    office = session(shop, shop.admin.key)
    doc = str(uuid.uuid4())
    refused = [
        ("/stock/receive", {"doc_id": doc, "location_id": shop.store}),  # no line
        ("/stock/receive", {"doc_id": "not-a-uuid", "location_id": shop.store, "barcode": code, "quantity": "1"}),
        ("/stock/receive", {"doc_id": doc, "location_id": shop.store, "barcode": "0000000000000", "quantity": "1"}),
        ("/stock/adjust", {"doc_id": doc, "location_id": shop.store, "reason": "waste", "barcode": code,
                           "quantity": "1e999"}),
        ("/stock/adjust", {"doc_id": doc, "location_id": shop.store, "reason": "arson", "barcode": code,
                           "quantity": "-1"}),
        ("/stock/transfer", {"doc_id": doc, "from_location_id": shop.store, "to_location_id": shop.store,
                             "barcode": code, "quantity": "1"}),
        ("/stock/transfer", {"doc_id": doc, "from_location_id": shop.store, "to_location_id": shop.warehouse,
                             "barcode": code, "quantity": "50"}),  # more than there is
        ("/products/new", {"sku": "", "name": "x", "price": "1", "base_unit": "piece", "currency": "USD"}),
        (f"/products/{soap['id']}", {"sku": soap["sku"], "name": "Soap", "price": "-1", "base_unit": "piece",
                                     "currency": "USD", "low_stock_threshold": "0", "barcode": code}),
        (f"/products/{soap['id']}", {"sku": soap["sku"], "name": "Soap", "price": "1", "base_unit": "piece",
                                     "currency": "USD", "low_stock_threshold": "0", "barcode": "5449000000997"}),
    ]
    for path, form in refused:
        response = office.post(path, data=form)
        assert 400 <= response.status_code < 500, (path, form, response.status_code, response.text[-500:])
        assert 'class="alert error"' in response.text, (path, form)
    assert shop.level(soap["id"]) == Decimal("5")
    assert shop.admin.ok("GET", f"/products/{soap['id']}")["price"] == "1.000"

    for path in (f"/stock/products/{soap['id']}?before=1&balance=1e99999", "/reports/daily/2020-01-01",
                 "/reports/daily/not-a-date", f"/stock/products/{uuid.uuid4()}", "/stock/shred",
                 "/reports/conflicts?status=everything"):
        assert 400 <= office.get(path).status_code < 500, path
    assert office.post(f"/reports/conflicts/{uuid.uuid4()}/resolve", data={"action": "accept"}).status_code == 404

    # A cashier's session does not open the back office.
    till = session(shop, cashier_key(shop))
    for path in ("/products", "/stock", "/reports", "/products/import"):
        assert till.get(path).status_code == 403, path
    assert till.post("/stock/receive", data={"doc_id": doc, "location_id": shop.store, "barcode": code,
                                             "quantity": "9"}).status_code == 403
    assert shop.level(soap["id"]) == Decimal("5")
