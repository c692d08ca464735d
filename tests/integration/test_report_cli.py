"""``makhzan report low-stock`` run as a user runs it: each file format read back and compared
with the API's JSON rows, the location filter, the errors, and the progress bar on a terminal."""

from __future__ import annotations

import csv
import io
import os
import pty
import subprocess
import uuid
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import psycopg
from openpyxl import load_workbook
from tests.integration.test_cli import COMMAND, makhzan
from tests.support import Databases, Shop, new_tenant

from makhzan.report_files import LOW_STOCK_COLUMNS

REPORT = "/reports/low-stock"
ARABIC = "حليب طازج كامل الدسم"
ANGLED = "Tea <b>&amp;</b> \"co\""
NUMBERS = {"quantity", "low_stock_threshold", "suggested_reorder"}


def _low_shop(shop: Shop) -> dict[str, dict[str, Any]]:
    p = {
        "arabic": shop.product(threshold="8", name_ar=ARABIC),
        "angled": shop.product(threshold="10", name=ANGLED),
        "emptied": shop.product(threshold="5"),
        "warehouse": shop.product(threshold="10"),
        "above": shop.product(threshold="2"),
    }
    shop.receive(p["arabic"]["id"], "6")
    shop.receive(p["angled"]["id"], "1.5")
    shop.admin.ok("POST", "/counts", {"id": str(uuid.uuid4()), "location_id": shop.store,
                                      "lines": [{"product_id": p["emptied"]["id"], "counted": "0"}]}, 201)
    shop.receive(p["warehouse"]["id"], "2", location=shop.warehouse)
    shop.receive(p["above"]["id"], "5")
    return p


def _texts(rows: list[dict[str, Any]]) -> list[list[str]]:
    """The API's JSON rows as the text a file shows (JSON already has decimals as ``"5.000"``)."""
    return [["" if row[c] is None else str(row[c]) for c in LOW_STOCK_COLUMNS] for row in rows]


def _report(database: str, tmp_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return makhzan(database, tmp_path, "report", "low-stock", *args, check=check)


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.cell_attrs: list[dict[str, str | None]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
            self.cell_attrs.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_each_format_holds_the_api_rows(shop: Shop, app_database: str, tmp_path: Path) -> None:
    p = _low_shop(shop)
    rows = shop.admin.ok("GET", REPORT)["rows"]
    assert [r["product_id"] for r in rows] == [p[n]["id"] for n in ("emptied", "angled", "warehouse", "arabic")]
    expected = _texts(rows)
    tenant = ("--tenant", shop.tenant_id)

    # CSV: a BOM first, so that Excel reads UTF-8; then exactly the API's CSV.
    done = _report(app_database, tmp_path, *tenant, "--output", str(tmp_path / "low.csv"))
    assert f"wrote {len(rows)} row(s)" in done.stdout
    raw = (tmp_path / "low.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table == [list(LOW_STOCK_COLUMNS), *expected]
    assert raw[3:] == shop.admin.get(REPORT, headers={"Accept": "text/csv"}).content

    # XLSX: bold header, numbers as numeric cells shown with three decimals, text intact.
    _report(app_database, tmp_path, *tenant, "--output", str(tmp_path / "low.xlsx"))
    sheet = load_workbook(tmp_path / "low.xlsx").active
    assert sheet is not None
    lines = list(sheet.iter_rows())
    assert [c.value for c in lines[0]] == list(LOW_STOCK_COLUMNS)
    assert all(c.font.bold for c in lines[0])
    assert len(lines) == 1 + len(rows)
    for line, row in zip(lines[1:], rows, strict=True):
        for cell, column in zip(line, LOW_STOCK_COLUMNS, strict=True):
            if column in NUMBERS:
                assert isinstance(cell.value, int | float), (column, cell.value)
                assert cell.number_format == "0.000"
                assert Decimal(str(cell.value)).quantize(Decimal("0.001")) == Decimal(row[column])
            else:
                assert cell.value == row[column], column
    assert any(c.value == ARABIC for line in lines for c in line)

    # HTML: one self-contained table, the same cells in the same order, names escaped.
    _report(app_database, tmp_path, *tenant, "--output", str(tmp_path / "low.html"))
    page = (tmp_path / "low.html").read_text(encoding="utf-8")
    assert "<b>" not in page and "&lt;b&gt;&amp;amp;&lt;/b&gt;" in page
    assert ARABIC in page and '<td dir="auto">' in page and 'charset="utf-8"' in page
    assert "<script" not in page and "http" not in page  # nothing fetched from elsewhere
    parsed = _Cells()
    parsed.feed(page)
    assert parsed.rows == [list(LOW_STOCK_COLUMNS), *expected]
    assert any(cell == ANGLED for row in parsed.rows for cell in row)

    # --format wins over an extension that says nothing.
    _report(app_database, tmp_path, *tenant, "--format", "CSV", "--output", str(tmp_path / "low.data"))
    assert (tmp_path / "low.data").read_bytes() == raw


def test_location_filter_matches_the_api(shop: Shop, app_database: str, tmp_path: Path) -> None:
    _low_shop(shop)
    for location in (shop.store, shop.warehouse):
        rows = shop.admin.ok("GET", f"{REPORT}?location_id={location}")["rows"]
        assert rows and {r["location_id"] for r in rows} == {location}
        out = tmp_path / f"{location}.csv"
        _report(app_database, tmp_path, "--tenant", shop.tenant_id, "--location", location, "--output", str(out))
        table = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
        assert table[1:] == _texts(rows)


def test_empty_report_still_writes_the_header(shop: Shop, app_database: str, tmp_path: Path) -> None:
    out = tmp_path / "none.xlsx"
    done = _report(app_database, tmp_path, "--tenant", shop.tenant_id, "--output", str(out))
    assert "wrote 0 row(s)" in done.stdout
    sheet = load_workbook(out).active
    assert sheet is not None
    assert [[c.value for c in line] for line in sheet.iter_rows()] == [list(LOW_STOCK_COLUMNS)]


def test_unknown_tenant_location_or_format_fail_clearly(shop: Shop, app_database: str, tmp_path: Path) -> None:
    out = tmp_path / "report.csv"
    stranger = str(uuid.uuid4())
    done = _report(app_database, tmp_path, "--tenant", stranger, "--output", str(out), check=False)
    assert done.returncode == 1 and "Tenant not found" in done.stderr and stranger in done.stderr

    other = new_tenant(app_database, "Other shop")
    # Another tenant's location is as unknown as a made-up one.
    for location in (stranger, shop.store):
        done = _report(app_database, tmp_path, "--tenant", str(other["tenant_id"]), "--location", location,
                       "--output", str(out), check=False)
        assert done.returncode == 1 and "Location not found" in done.stderr and location in done.stderr

    done = _report(app_database, tmp_path, "--tenant", shop.tenant_id, "--format", "pdf", "--output", str(out),
                   check=False)
    assert done.returncode == 2 and "pdf" in done.stderr
    done = _report(app_database, tmp_path, "--tenant", shop.tenant_id, "--output", str(tmp_path / "r.txt"),
                   check=False)
    assert done.returncode == 2 and "--format" in done.stderr
    done = _report(app_database, tmp_path, "--tenant", "not-a-uuid", "--output", str(out), check=False)
    assert done.returncode == 2
    done = _report(app_database, tmp_path, "--tenant", shop.tenant_id, "--output",
                   str(tmp_path / "missing" / "r.csv"), check=False)
    assert done.returncode == 1 and "cannot write" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_progress_bar_on_a_terminal_for_a_large_report(databases: Databases, tmp_path: Path) -> None:
    # Its own database: 1,500 levels written straight in, with the ledger rows that match them.
    database = databases.fresh()
    tenant_id = str(new_tenant(database, "Big shop")["tenant_id"])
    with psycopg.connect(database) as conn, conn.transaction():
        location = uuid.uuid4()
        conn.execute("INSERT INTO locations (tenant_id, location_id, name, kind) VALUES (%s, %s, 'Store', 'store')",
                     (tenant_id, location))
        conn.execute("INSERT INTO products (tenant_id, product_id, sku, name, base_unit, price, low_stock_threshold)"
                     " SELECT %s, gen_random_uuid(), 'BIG-' || i, 'Big ' || i, 'piece', 1, 10"
                     " FROM generate_series(1, 1500) AS i", (tenant_id,))
        conn.execute("INSERT INTO stock_movements (tenant_id, product_id, location_id, delta, kind, document_id,"
                     " occurred_at) SELECT tenant_id, product_id, %s, 1, 'receipt', gen_random_uuid(), now()"
                     " FROM products WHERE tenant_id = %s", (location, tenant_id))
        conn.execute("INSERT INTO stock_levels (tenant_id, product_id, location_id, quantity)"
                     " SELECT tenant_id, product_id, %s, 1 FROM products WHERE tenant_id = %s", (location, tenant_id))

    out = tmp_path / "big.csv"
    env = {**os.environ, "MAKHZAN_DATABASE_URL": database, "MAKHZAN_DATA_DIR": str(tmp_path), "COLUMNS": "80"}
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen([*COMMAND, "report", "low-stock", "--tenant", tenant_id, "--output", str(out)],
                                   env=env, stdout=follower, stderr=subprocess.PIPE)
        os.close(follower)
        screen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closes when the command exits
                break
            if not chunk:
                break
            screen += chunk
        assert process.wait(120) == 0, process.stderr.read() if process.stderr else ""
    finally:
        os.close(leader)
    assert b"writing big.csv" in screen and b"100%" in screen, screen[-500:]
    assert b"wrote 1500 row(s)" in screen
    assert len(out.read_text(encoding="utf-8-sig").splitlines()) == 1501

    # Not a terminal: no bar in the output.
    piped = makhzan(database, tmp_path, "report", "low-stock", "--tenant", tenant_id, "--output", str(out))
    assert piped.stdout.strip() == f"wrote 1500 row(s) to {out}"
