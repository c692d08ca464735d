"""The back office over plain HTTP, the forms posted as a browser posts them (session cookie):
bad input answers a page that says why (never a 500) and changes nothing; the ledger's pages
and the kept morning report.
"""

from __future__ import annotations

import asyncio
import io
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from uuid import UUID

import httpx
import psycopg
from openpyxl import load_workbook
from psycopg.rows import dict_row

from makhzan import daily_report
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


def test_ledger_pages_carry_the_running_balance_and_reports_show_the_morning_report(
        shop: Shop, app_database: str) -> None:
    """Plain HTTP: 103 receipts of 1 make two ledger pages whose balances run on without a gap."""
    salt = stocked_product(shop, stock="0", price="0.500", threshold="200", name="Salt")
    for _ in range(103):
        shop.receive(salt["id"], "1")
    office = session(shop, shop.admin.key)
    first = office.get(f"/stock/products/{salt['id']}?location_id={shop.store}").text
    balances = [Decimal(b) for b in re.findall(r'data-testid="balance"><bdi dir="ltr">([^<]+)<', first)]
    assert balances == [Decimal(n) for n in range(103, 3, -1)]
    older = re.search(r'href="(/stock/products/[^"]+before=[^"]+)"', first)
    assert older is not None
    second = office.get(older.group(1).replace("&amp;", "&")).text
    second_balances = re.findall(r'data-testid="balance"><bdi dir="ltr">([^<]+)<', second)
    assert [Decimal(b) for b in second_balances] == [Decimal(3), Decimal(2), Decimal(1)]

    # The morning report kept for today lists Salt (103 is at or below its threshold of 200); made
    # as the scheduler makes it, on its own connection as the schema owner.
    today = date.today()

    async def keep() -> bool:
        async with await psycopg.AsyncConnection.connect(app_database, autocommit=True, row_factory=dict_row) as conn:
            return await daily_report.make_report(conn, UUID(shop.tenant_id), today)

    # In a thread of its own: once a browser test ran, Playwright keeps an event loop on this one.
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(asyncio.run, keep()).result()
    reports = office.get("/reports").text
    assert f'href="/reports/daily/{today.isoformat()}"' in reports and "Salt" in reports
    kept = office.get(f"/reports/daily/{today.isoformat()}")
    assert kept.status_code == 200 and "Salt" in kept.text
    # The same report as files a manager opens in Excel.
    as_csv = office.get(f"/reports/low-stock.csv?location_id={shop.store}")
    assert as_csv.content.startswith(b"\xef\xbb\xbf") and salt["sku"] in as_csv.content.decode("utf-8-sig")
    as_xlsx = office.get("/reports/low-stock.xlsx")
    cells = [c.value for row in load_workbook(io.BytesIO(as_xlsx.content)).active.iter_rows() for c in row]
    assert salt["sku"] in cells
    assert office.get("/reports/low-stock.pdf").status_code == 404
    # The stock page finds it by name.
    found = office.get("/stock", params={"q": "salt"}).text
    assert f'data-product="{salt["id"]}"' in found


def test_transfer_adjust_and_count_through_the_forms(shop: Shop) -> None:
    rice = stocked_product(shop, stock="20", price="2.000", name="Rice", case=True)
    unit, case = (b["barcode"] for b in rice["barcodes"])
    office = session(shop, shop.admin.key)

    def post(kind: str, **form: object) -> httpx.Response:
        response = office.post(f"/stock/{kind}", data={"doc_id": str(uuid.uuid4()), **form})
        problems = re.findall(r"alert error[^<]*<", response.text)
        assert response.status_code == 200 and 'id="doc-done"' in response.text, problems
        return response

    post("transfer", from_location_id=shop.store, to_location_id=shop.warehouse, barcode=[unit], quantity=["5"])
    assert (shop.level(rice["id"]), shop.level(rice["id"], shop.warehouse)) == (Decimal(15), Decimal(5))
    post("adjust", location_id=shop.store, reason="damage", note="torn bag", barcode=[unit], quantity=["-2"])
    assert shop.level(rice["id"]) == Decimal(13)
    # Counted: one case of 24 and 3 loose bags.
    post("count", location_id=shop.store, barcode=[case, unit], quantity=["1", "3"], label=["", ""])
    assert shop.level(rice["id"]) == Decimal(27)
