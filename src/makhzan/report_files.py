"""Report rows as files a manager opens: CSV, XLSX and HTML, shared by the API and the CLI.

Quantities are Decimals with three places everywhere: text cells read ``5.000``, and XLSX
cells are numbers formatted ``0.000`` so that a spreadsheet can still sum them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import jinja2

LOW_STOCK_COLUMNS = ("product_id", "sku", "name", "name_ar", "base_unit", "location_id", "location_name",
                     "quantity", "low_stock_threshold", "suggested_reorder")
_THOUSANDTHS = Decimal("0.001")

Rows = Iterable[dict[str, Any]]


def cell_text(value: Any) -> str:
    """One value as text: empty for NULL, three decimal places for a quantity."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.quantize(_THOUSANDTHS), "f")
    return str(value)


def _write_csv_rows(out: IO[str], rows: Rows, columns: tuple[str, ...]) -> None:
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell_text(row[c]) for c in columns])


def to_csv(rows: Rows, columns: tuple[str, ...]) -> bytes:
    """CSV for an HTTP response (UTF-8, no BOM: a client that parses it gets clean headers)."""
    out = io.StringIO()
    _write_csv_rows(out, rows, columns)
    return out.getvalue().encode("utf-8")


def write_csv(path: Path, rows: Rows, columns: tuple[str, ...], title: str) -> None:
    # The BOM is what makes Excel read the file as UTF-8 rather than the ANSI code page,
    # so Arabic names show as Arabic and not as mojibake.
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        _write_csv_rows(out, rows, columns)


def write_xlsx(path: Path, rows: Rows, columns: tuple[str, ...], title: str) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    # Write-only mode streams rows to disk: memory stays flat on a tenant with a million levels.
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])  # Excel's limit on a sheet name
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def header(name: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        return cell

    def value(raw: Any) -> Any:
        if isinstance(raw, Decimal):
            cell = WriteOnlyCell(sheet, value=raw.quantize(_THOUSANDTHS))
            cell.number_format = "0.000"
            return cell
        return None if raw is None else str(raw)

    sheet.append([header(c) for c in columns])
    for row in rows:
        sheet.append([value(row[c]) for c in columns])
    book.save(path)


_ENVIRONMENT = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
_ENVIRONMENT.filters["cell"] = cell_text
_ENVIRONMENT.tests["decimal"] = lambda value: isinstance(value, Decimal)
_HTML = _ENVIRONMENT.from_string("""\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; }
th { background: #f3f3f3; text-align: start; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<table>
<thead><tr>{% for column in columns %}<th>{{ column }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in rows %}
<tr>{% for column in columns %}{% set raw = row[column] %}
{% if raw is decimal %}<td class="number">{{ raw | cell }}</td>{% else %}<td dir="auto">{{ raw | cell }}</td>{% endif %}
{% endfor %}</tr>
{% endfor %}
</tbody>
</table>
</body>
</html>
""")


def write_html(path: Path, rows: Rows, columns: tuple[str, ...], title: str) -> None:
    # generate() renders row by row, so a progress bar over ``rows`` moves as the file is written.
    with path.open("w", encoding="utf-8") as out:
        for chunk in _HTML.generate(title=title, columns=columns, rows=rows):
            out.write(chunk)


WRITERS: dict[str, Callable[[Path, Rows, tuple[str, ...], str], None]] = {
    "csv": write_csv,
    "xlsx": write_xlsx,
    "html": write_html,
}


def format_for(path: Path) -> str | None:
    """The format a file name asks for (``.htm`` counts as HTML), or None."""
    suffix = path.suffix.lower().lstrip(".")
    suffix = "html" if suffix == "htm" else suffix
    return suffix if suffix in WRITERS else None
