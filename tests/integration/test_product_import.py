"""Importing products from CSV and XLSX over real HTTP: good rows in, bad rows reported, nothing else."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from openpyxl import Workbook
from stdnum import ean
from tests.support import Api, Shop, ean13

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def upload(api: Api, data: bytes, *, content_type: str = "text/csv", dry_run: bool = False,
           multipart: bool = False, filename: str = "products.csv") -> httpx.Response:
    params = {"dry_run": "true"} if dry_run else {}
    if multipart:
        return api.http.post("/products/import", params=params, files={"file": (filename, data, content_type)})
    return api.http.post("/products/import", params=params, content=data, headers={"content-type": content_type})


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue().encode(encoding)


def find(api: Api, sku: str) -> dict[str, Any] | None:
    products = api.ok("GET", f"/products?q={sku}")["products"]
    matching = [p for p in products if p["sku"] == sku]
    return matching[0] if matching else None


def case_code(unit_code: str) -> str:
    """The GTIN-14 of a case of the item with this EAN-13 (indicator digit 1)."""
    body = "1" + unit_code[:-1]
    return body + ean.calc_check_digit(body)


def tag() -> str:
    return uuid.uuid4().hex[:8].upper()


HEADER = ["sku", "name", "name_ar", "base_unit", "price", "currency", "low_stock_threshold", "barcode",
          "case_barcode", "case_factor"]


def five_rows(t: str) -> tuple[list[list[str]], list[str]]:
    codes = [ean13() for _ in range(5)]
    wrong = codes[2][:-1] + str((int(codes[2][-1]) + 1) % 10)
    rows = [
        HEADER,
        [f"A-{t}", "Milk 1L", "حليب ١ لتر", "piece", "1.250", "USD", "12", codes[0], case_code(codes[0]), "24"],
        [f"B-{t}", "Rice 1kg", "أرز", "piece", "2.5", "USD", "5", codes[1], "", ""],
        [f"C-{t}", "Sugar", "سكر", "piece", "1", "USD", "0", wrong, "", ""],  # bad check digit
        [f"D-{t}", "Zaatar loose", "زعتر", "kg", "150,000", "LBP", "2", f"ZAATAR-{t}", "", ""],
        [f"E-{t}", "Tea", "شاي", "piece", "abc", "USD", "0", codes[4], "", ""],  # bad price
        [f"F-{t}", "Coffee", "قهوة", "piece", "3.75", "USD", "0", "", "", ""],
    ]
    return rows, codes


def assert_two_bad_rows(report: dict[str, Any], t: str) -> None:
    assert report["rows"] == 6
    assert (report["created"], report["updated"], report["failed"]) == (4, 0, 2), report["errors"]
    assert [(e["row"], e["column"], e["sku"]) for e in report["errors"]] == [
        (4, "barcode", f"C-{t}"), (6, "price", f"E-{t}")]
    assert "check digit" in report["errors"][0]["message"]


def test_csv_with_two_bad_rows_reports_exactly_those_and_imports_the_rest(shop: Shop) -> None:
    t = tag()
    rows, codes = five_rows(t)
    response = upload(shop.admin, csv_bytes(rows))
    assert response.status_code == 200, response.text
    report = response.json()
    assert_two_bad_rows(report, t)
    assert report["format"] == "csv" and report["dry_run"] is False
    milk = find(shop.admin, f"A-{t}")
    assert milk is not None
    assert (milk["name_ar"], milk["price"], milk["low_stock_threshold"]) == ("حليب ١ لتر", "1.250", "12.000")
    assert {(b["barcode"], b["factor"], b["unit"]) for b in milk["barcodes"]} == {
        (codes[0], "1.000", "piece"), (case_code(codes[0]), "24.000", "case")}
    zaatar = find(shop.admin, f"D-{t}")
    assert zaatar is not None
    assert (zaatar["base_unit"], zaatar["price"], zaatar["currency"]) == ("kg", "150000.000", "LBP")
    assert zaatar["barcodes"][0]["kind"] == "internal"
    assert find(shop.admin, f"C-{t}") is None and find(shop.admin, f"E-{t}") is None
    # The case code scans as 24 pieces, like one registered through the API.
    scan = shop.admin.ok("GET", f"/scan/{case_code(codes[0])}?location_id={shop.store}")
    assert scan["quantity"] == "24.000"


def test_xlsx_with_two_bad_rows_and_a_number_cell_that_lost_its_zero(shop: Shop) -> None:
    t = tag()
    rows, _ = five_rows(t)
    book = Workbook()
    sheet = book.active
    sheet.append(["Price list, November"])  # a title row above the header
    sheet.append(HEADER)
    for cells in rows[1:]:
        sheet.append([Decimal(c) if c.replace(".", "").isdigit() and i in (4, 6) else c for i, c in enumerate(cells)])
    # A UPC typed as a number: Excel keeps 36000291452 for 036000291452.
    sheet.append([f"G-{t}", "Tissues", "محارم", "piece", 0.75, "USD", 3, 36000291452])
    # A price a formula computed: the float behind the "3.3" Excel shows.
    sheet.append([f"H-{t}", "Cheese", "جبنة", "piece", 1.1 * 3, "USD", 0])
    out = io.BytesIO()
    book.save(out)
    response = upload(shop.admin, out.getvalue(), content_type=XLSX, multipart=True, filename="products.xlsx")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["format"] == "xlsx" and report["header_row"] == 2
    assert report["rows"] == 8
    assert (report["created"], report["failed"]) == (6, 2), report["errors"]
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(5, "barcode"), (7, "price")]
    tissues = find(shop.admin, f"G-{t}")
    assert tissues is not None and tissues["price"] == "0.750"
    # Stored in the canonical EAN-13 form of the UPC-A.
    assert tissues["barcodes"][0]["barcode"] == "0036000291452"
    cheese = find(shop.admin, f"H-{t}")
    assert 1.1 * 3 != 3.3 and cheese is not None and cheese["price"] == "3.300"


def test_arabic_headers_and_windows_1256_and_utf8_bom(shop: Shop) -> None:
    # Excel's "CSV (Windows Arabic)", "CSV UTF-8", "Unicode text" (UTF-16, tabs), and ";" lists.
    for encoding, delimiter in (("cp1256", ","), ("utf-8-sig", ","), ("utf-16", "\t"), ("utf-8", ";")):
        t = tag()
        code = ean13()
        rows = [
            ["رمز الصنف", "الاسم", "الاسم بالعربية", "الوحدة", "السعر", "العملة", "الحد الأدنى", "الباركود"],
            # Windows-1256 has no Arabic-Indic digits; UTF-8 files often do.
            [f"AR-{t}", "Labneh", "لبنة بلدية", "كغ", "4.5" if encoding == "cp1256" else "٤٫٥", "دولار", "٢"
             if encoding != "cp1256" else "2", code],
            [f"AR2-{t}", "Bread", "خبز عربي", "قطعة", "", "ل.ل", "", ""],  # a new product needs a price
        ]
        response = upload(shop.admin, csv_bytes(rows, encoding, delimiter))
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["encoding"] == {"cp1256": "windows-1256", "utf-8-sig": "utf-8-sig", "utf-16": "utf-16",
                                      "utf-8": "utf-8"}[encoding]
        assert report["columns"]["sku"] == "رمز الصنف" and report["columns"]["name_ar"] == "الاسم بالعربية"
        assert (report["created"], report["failed"]) == (1, 1), report
        assert report["errors"][0]["row"] == 3 and report["errors"][0]["column"] == "السعر"
        labneh = find(shop.admin, f"AR-{t}")
        assert labneh is not None
        assert (labneh["name_ar"], labneh["base_unit"], labneh["price"]) == ("لبنة بلدية", "kg", "4.500")
        # Arabic-aware search finds it under a spelling variant (ة typed as ه).
        found = shop.admin.ok("GET", "/products?q=لبنه بلديه")["products"]
        assert any(p["sku"] == f"AR-{t}" for p in found)


def test_reimport_updates_by_sku_and_leaves_unchanged_rows_alone(shop: Shop) -> None:
    t = tag()
    code = ean13()
    first = csv_bytes([["sku", "name", "price", "barcode"], [f"U-{t}", "Oil", "5.000", code],
                       [f"V-{t}", "Salt", "0.5", ""]])
    assert upload(shop.admin, first).json()["created"] == 2
    before = find(shop.admin, f"V-{t}")
    second = csv_bytes([["sku", "price"], [f"U-{t}", "5.500"], [f"V-{t}", "0.500"]])
    report = upload(shop.admin, second).json()
    assert (report["updated"], report["unchanged"], report["created"], report["failed"]) == (1, 1, 0, 0), report
    oil = find(shop.admin, f"U-{t}")
    assert oil is not None and oil["price"] == "5.500" and oil["name"] == "Oil"
    # An empty or missing barcode column keeps the product's codes.
    assert [b["barcode"] for b in oil["barcodes"]] == [code]
    assert find(shop.admin, f"V-{t}") == before  # not even updated_at moved


def test_a_barcode_of_another_product_fails_that_row_only(shop: Shop) -> None:
    t = tag()
    existing = shop.product()
    taken = existing["barcodes"][0]["barcode"]
    data = csv_bytes([["sku", "name", "price", "barcode"], [f"T-{t}", "Thief", "1", taken],
                      [f"OK-{t}", "Fine", "1", ean13()]])
    report = upload(shop.admin, data).json()
    assert (report["created"], report["failed"]) == (1, 1)
    assert report["errors"][0]["code"] == "barcode_taken" and existing["sku"] in report["errors"][0]["message"]
    assert find(shop.admin, f"T-{t}") is None
    assert shop.admin.ok("GET", f"/products/{existing['id']}")["barcodes"][0]["barcode"] == taken


def test_duplicates_within_the_file_are_reported(shop: Shop) -> None:
    t = tag()
    code = ean13()
    data = csv_bytes([["sku", "name", "price", "barcode"], [f"X-{t}", "One", "1", code],
                      [f"X-{t}", "Again", "2", ""], [f"Y-{t}", "Other", "1", code]])
    report = upload(shop.admin, data).json()
    assert [(e["row"], e["code"]) for e in report["errors"]] == [(3, "duplicate_sku"), (4, "duplicate_barcode")]
    assert report["created"] == 1


def test_dry_run_reports_the_same_and_changes_nothing(shop: Shop) -> None:
    t = tag()
    rows, _ = five_rows(t)
    response = upload(shop.admin, csv_bytes(rows), dry_run=True)
    assert response.status_code == 200
    report = response.json()
    assert report["dry_run"] is True
    assert_two_bad_rows(report, t)
    assert find(shop.admin, f"A-{t}") is None


def test_import_needs_the_admin_role(shop: Shop) -> None:
    manager = shop.key("manager")
    response = upload(manager, csv_bytes([["sku", "name", "price"], [f"M-{tag()}", "x", "1"]]))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_hostile_files(shop: Shop) -> None:
    # Larger than the limit: refused from its Content-Length, before it is read.
    huge = b"sku,name,price\r\n" + b"H,x,1\r\n" * (21 * 1024 * 1024 // 7)
    response = upload(shop.admin, huge)
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
    # The same without a Content-Length (chunked): refused once the running count passes the limit.
    chunks = (huge[i:i + (1 << 20)] for i in range(0, len(huge), 1 << 20))
    response = shop.admin.http.post("/products/import", content=chunks, headers={"content-type": "text/csv"})
    assert response.status_code == 413
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    not_xlsx = io.BytesIO()
    with zipfile.ZipFile(not_xlsx, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    for data, content_type in ((png, "image/png"), (not_xlsx.getvalue(), XLSX), (b"\xd0\xcf\x11\xe0" + b"\0" * 600, ""),
                               (b"", "text/csv"), (b"just,some\r\ntext,here\r\n", "text/csv"),
                               (b"garbage", XLSX)):
        response = upload(shop.admin, data, content_type=content_type or "application/octet-stream")
        assert response.status_code == 422, (data[:20], response.text)
        assert response.json()["error"]["code"] == "not_a_spreadsheet"
    # A multipart form without the file field.
    response = shop.admin.http.post("/products/import", data={"other": "x"}, files={"nope": ("a.csv", b"sku\r\n")})
    assert response.status_code == 422


def test_many_rows_in_several_chunks(shop: Shop) -> None:
    t = tag()
    rows = [["sku", "name", "price", "barcode"]]
    rows += [[f"N{n:04d}-{t}", f"Item {n}", f"{n}.25", ean13()] for n in range(1200)]
    rows[700][2] = "-1"  # one bad row in the middle of the second chunk
    report = upload(shop.admin, csv_bytes(rows)).json()
    assert (report["created"], report["failed"]) == (1199, 1), report["errors"][:3]
    assert report["errors"][0]["row"] == 701


def test_two_imports_racing_for_one_barcode(shop: Shop) -> None:
    """Both files pass their checks; the database lets one row have the code and the other is reported."""
    from concurrent.futures import ThreadPoolExecutor

    t = tag()
    shared = ean13()

    def sheet(side: str) -> bytes:
        rows = [["sku", "name", "price", "barcode"]]
        rows += [[f"{side}{n:03d}-{t}", f"{side} {n}", "1", ean13()] for n in range(400)]
        rows.append([f"{side}-SHARED-{t}", "Shared", "1", shared])
        return csv_bytes(rows)

    with ThreadPoolExecutor(2) as pool:
        reports = [f.result().json() for f in [pool.submit(upload, shop.admin, sheet(side)) for side in "PQ"]]
    assert sorted(r["created"] for r in reports) == [400, 401], [r["errors"] for r in reports]
    (loser,) = [r for r in reports if r["failed"] == 1]
    assert loser["errors"][0]["row"] == 402 and loser["errors"][0]["code"] == "barcode_taken"
    owners = [p for p in shop.admin.ok("GET", f"/products?q={shared}")["products"]
              if any(b["barcode"] == shared for b in p["barcodes"])]
    assert len(owners) == 1


def test_cli_imports_and_exports_the_same_columns(shop: Shop, app_database: str, tmp_path: Path) -> None:
    t = tag()
    rows, _ = five_rows(t)
    source = tmp_path / "prices.csv"
    source.write_bytes(csv_bytes(rows))
    env = {**os.environ, "MAKHZAN_DATABASE_URL": app_database}
    command = [sys.executable, "-c", "from makhzan.cli import main; main()", "products"]
    done = subprocess.run([*command, "import", "--tenant", shop.tenant_id, "--json", str(source)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr  # two rows had problems
    report = json.loads(done.stdout)
    assert_two_bad_rows(report, t)
    exported = tmp_path / "catalogue.xlsx"
    done = subprocess.run([*command, "export", "--tenant", shop.tenant_id, str(exported)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    again = subprocess.run([*command, "import", "--tenant", shop.tenant_id, "--dry-run", str(exported)], env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "4 unchanged, 0 with problems (dry run" in again.stdout, again.stdout
