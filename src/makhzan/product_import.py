"""Products imported from the spreadsheets shops keep today: CSV or XLSX, English or Arabic headers.

An import is all-or-nothing **per row**, not per file: a shop owner with 800 good rows and two
typos expects the 800 in and a list of the two. Each row is checked (every bad cell reported,
with the row number the spreadsheet shows, the column as the file names it and a sentence),
then against the catalogue (a barcode another product holds); the good rows are written, and a
row the database still refuses (a concurrent edit took its code) is rolled back to its own
savepoint and reported while the rows around it apply. Rows are applied in chunks of
``CHUNK_ROWS``, one transaction per chunk: a crash halfway leaves whole rows in, and importing
the same file again finishes the job (rows are matched by SKU; an unchanged row writes nothing,
so terminals are not sent a catalogue change for it).

What a row means:

- ``sku`` is required. A SKU the shop already has updates that product, otherwise the row
  creates one (then ``name`` and ``price`` are required).
- An empty cell leaves the product's field as it is (on update) or takes the default (on
  create: ``base_unit`` piece, ``currency`` USD, ``low_stock_threshold`` 0).
- ``barcode`` lists the unit codes (factor 1), ``case_barcode`` the case or pack codes with
  ``case_factor`` (one factor for all, or one per code), separated by ``;``, ``,`` or spaces.
  A non-empty barcode cell replaces that kind of code (unit or case) of the product; an empty
  one keeps them. Digits-only codes of 8, 12, 13 or 14 digits are GS1 and their check digit is
  verified as the API does; anything else (``ZAATAR-500``, ``12345``) is an internal code.
  Excel drops the leading zeros of a code typed as a number: a numeric cell is padded back to
  12 or 13 digits when that gives a valid check digit.
- Numbers may use Arabic-Indic digits (١٫٢٥٠) and thousands separators (150,000).
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import zipfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from pydantic import ValidationError

from makhzan import catalog, errors, units
from makhzan.barcodes import is_gs1_valid, normalize_barcode
from makhzan.db import Connection, translate_errors
from makhzan.models import BarcodeIn, ProductIn, ProductPatch
from makhzan.queries import Q
from makhzan.text import normalize_for_search

T = TypeVar("T")

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000
# An XLSX is a zip: its sheets may inflate far beyond the upload limit (a "zip bomb").
MAX_XLSX_INFLATED_BYTES = 200 * 1024 * 1024
CHUNK_ROWS = 500
# Errors listed in a report; the counts stay exact beyond it.
MAX_REPORTED_ERRORS = 1000
# The header may sit under a title row or two ("Price list, November").
_HEADER_SEARCH_ROWS = 10

FIELDS = ("sku", "name", "name_ar", "base_unit", "price", "currency", "low_stock_threshold", "barcode",
          "case_barcode", "case_factor", "active")


class NotASpreadsheet(errors.MakhzanError):
    status, code = 422, "not_a_spreadsheet"


class FileTooLarge(errors.MakhzanError):
    status, code = 413, "payload_too_large"


# --- reading the file -------------------------------------------------------------------------


@dataclass
class Table:
    format: str  # "csv" or "xlsx"
    encoding: str | None
    rows: list[tuple[int, list[Any]]]  # (row number as the spreadsheet shows it, cells)


_XLSX_TYPES = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",)


def read_table(data: bytes, *, content_type: str | None = None, filename: str | None = None) -> Table:
    """The rows of an uploaded CSV or XLSX file; ``NotASpreadsheet`` for anything else."""
    if len(data) > MAX_IMPORT_BYTES:
        raise FileTooLarge(f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.",
                           {"limit_bytes": MAX_IMPORT_BYTES})
    if not data.strip():
        raise NotASpreadsheet("The file is empty.")
    if data.startswith(b"PK\x03\x04"):
        return _read_xlsx(data)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise NotASpreadsheet("This is an old Excel (.xls) file; save it as .xlsx or CSV and upload that.")
    if (content_type or "").split(";")[0].strip().lower() in _XLSX_TYPES or (filename or "").lower().endswith(".xlsx"):
        raise NotASpreadsheet("The file is named as an XLSX workbook but is not one.")
    return _read_csv(data)


def _decode(data: bytes) -> tuple[str, str]:
    # Excel writes UTF-8 with a BOM ("CSV UTF-8"), UTF-16 for "Unicode text", and the Windows
    # ANSI code page otherwise, which on an Arabic Windows is 1256.
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise NotASpreadsheet("The file starts like UTF-16 text but is not.") from None
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            raise NotASpreadsheet("The file starts like UTF-8 text but is not.") from None
    if b"\x00" in data:
        raise NotASpreadsheet("This is not a CSV or XLSX file (it holds binary data).")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1256", errors="replace"), "windows-1256"


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _read_csv(data: bytes) -> Table:
    text, encoding = _decode(data)
    sample = text[:20000]
    # Binary files that decode as 1256 by accident are full of control characters.
    if len(_CONTROL.findall(sample)) > max(5, len(sample) // 100):
        raise NotASpreadsheet("This is not a CSV or XLSX file (it holds binary data).")
    # Only the delimiter is sniffed (from the header line): Excel writes ";" or a tab in some
    # locales. Quoting stays Excel's; the sniffer guesses it wrong from a header without quotes.
    try:
        delimiter = csv.Sniffer().sniff(sample.split("\n", 1)[0] or sample, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    rows = []
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
            if number > MAX_ROWS + _HEADER_SEARCH_ROWS:
                raise FileTooLarge(f"The file has more than {MAX_ROWS} rows; split it.", {"limit_rows": MAX_ROWS})
            rows.append((number, cells))
    except csv.Error as exc:
        raise NotASpreadsheet(f"The CSV file cannot be read: {exc}.") from None
    return Table("csv", encoding, rows)


def _read_xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            inflated = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise NotASpreadsheet("The file looks like a zip archive but cannot be opened.") from None
    if "xl/workbook.xml" not in names:
        raise NotASpreadsheet("This zip file is not an Excel workbook (.xlsx).")
    if inflated > MAX_XLSX_INFLATED_BYTES:
        raise FileTooLarge("The workbook unpacks to too much data; split it.", {"limit_bytes": MAX_XLSX_INFLATED_BYTES})
    try:
        # read_only streams the sheet; data_only gives a formula cell's last computed value,
        # never the formula text.
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged workbook
        raise NotASpreadsheet(f"The workbook cannot be read ({type(exc).__name__}).") from None
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise NotASpreadsheet("The workbook has no sheet.")
        rows = []
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            if number > MAX_ROWS + _HEADER_SEARCH_ROWS:
                raise FileTooLarge(f"The sheet has more than {MAX_ROWS} rows; split it.", {"limit_rows": MAX_ROWS})
            rows.append((number, list(cells)))
    finally:
        book.close()
    return Table("xlsx", None, rows)


# --- understanding the header -----------------------------------------------------------------


def _fold_header(name: str) -> str:
    folded = normalize_for_search(name)
    # "Case factor", "case_factor", "case-factor" and "CaseFactor" are one header.
    return re.sub(r"[\s_\-./()]+", "", folded).removeprefix("ال") if folded else ""


_HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "sku": ("sku", "item code", "product code", "code", "ref", "reference", "رمز الصنف", "رمز المنتج", "الرمز",
            "كود", "كود الصنف", "رقم الصنف", "المرجع"),
    "name": ("name", "name en", "english name", "product", "product name", "item", "item name", "description",
             "الاسم", "الاسم بالانجليزيه", "الاسم الانجليزي", "اسم المنتج", "اسم الصنف", "الصنف"),
    "name_ar": ("name ar", "arabic name", "name arabic", "الاسم بالعربيه", "الاسم العربي", "اسم عربي",
                "الاسم بالعربي"),
    "base_unit": ("base unit", "unit", "uom", "الوحده", "وحده القياس", "الوحده الاساسيه"),
    "price": ("price", "unit price", "selling price", "sale price", "السعر", "سعر البيع", "سعر المبيع", "سعر الوحده"),
    "currency": ("currency", "العمله"),
    "low_stock_threshold": ("low stock threshold", "threshold", "min stock", "minimum stock", "reorder level",
                            "reorder point", "حد المخزون المنخفض", "الحد الادني", "حد اعاده الطلب",
                            "الحد الادني للمخزون"),
    "barcode": ("barcode", "barcodes", "ean", "upc", "gtin", "unit barcode", "الباركود", "باركود", "الرمز الشريطي",
                "باركود الوحده"),
    "case_barcode": ("case barcode", "case barcodes", "pack barcode", "carton barcode", "باركود الكرتونه",
                     "باركود العلبه", "باركود الصندوق"),
    "case_factor": ("case factor", "case size", "pack size", "units per case", "case qty", "عدد القطع في الكرتونه",
                    "عامل الكرتونه", "حجم الكرتونه"),
    "active": ("active", "sold", "نشط", "فعال"),
}
_HEADERS = {_fold_header(alias): name for name, aliases in _HEADER_NAMES.items() for alias in (name, *aliases)}


@dataclass
class Columns:
    header_row: int
    index: dict[str, int]  # field -> column index
    names: dict[str, str]  # field -> the header as the file spells it
    ignored: list[str]


def _header_of(cells: list[Any]) -> tuple[dict[str, int], dict[str, str], list[str], list[str]]:
    index: dict[str, int] = {}
    names: dict[str, str] = {}
    ignored: list[str] = []
    duplicated: list[str] = []
    for position, cell in enumerate(cells):
        text = _cell_text(cell)
        if not text:
            continue
        field_name = _HEADERS.get(_fold_header(text))
        if field_name is None:
            ignored.append(text)
        elif field_name in index:
            duplicated.append(text)
        else:
            index[field_name] = position
            names[field_name] = text
    return index, names, ignored, duplicated


def find_columns(table: Table) -> Columns:
    for number, cells in table.rows[:_HEADER_SEARCH_ROWS]:
        index, names, ignored, duplicated = _header_of(cells)
        if "sku" not in index:
            continue
        if duplicated:
            raise NotASpreadsheet(
                "Two columns of the header mean the same thing: " + ", ".join(duplicated) + ".",
                {"row": number, "columns": duplicated},
            )
        return Columns(number, index, names, ignored)
    raise NotASpreadsheet(
        "No header row with a SKU column was found in the first rows; name one column 'sku' (or 'رمز الصنف').",
        {"expected_columns": list(FIELDS)},
    )


# --- reading one row --------------------------------------------------------------------------


@dataclass
class Problem:
    row: int
    column: str
    message: str
    code: str = "invalid_value"
    sku: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "sku": self.sku, "code": self.code, "message": self.message}


@dataclass
class Barcode:
    barcode: str
    factor: Decimal
    kind: str


@dataclass
class Row:
    number: int
    sku: str
    values: dict[str, Any]  # only the non-empty fields of the row
    unit_codes: list[Barcode] | None
    case_codes: list[Barcode] | None


_DIGITS = str.maketrans({**{chr(0x0660 + d): str(d) for d in range(10)},
                         **{chr(0x06F0 + d): str(d) for d in range(10)},
                         "٫": ".", "٬": ",", "\u00a0": "", "\u202f": ""})
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d*)?")
_UNITS = {
    "piece": "piece", "pieces": "piece", "pc": "piece", "pcs": "piece", "each": "piece", "unit": "piece",
    "قطعه": "piece", "حبه": "piece", "عدد": "piece",
    "kg": "kg", "kilo": "kg", "kilogram": "kg", "كغ": "kg", "كلغ": "kg", "كيلو": "kg", "كيلوغرام": "kg",
    "g": "g", "gram": "g", "gr": "g", "غ": "g", "غرام": "g", "جرام": "g",
    "l": "l", "liter": "l", "litre": "l", "lt": "l", "ل": "l", "لتر": "l", "ليتر": "l",
    "ml": "ml", "مل": "ml", "ملل": "ml", "ميلي": "ml",
}
_CURRENCIES = {"usd": "USD", "$": "USD", "us$": "USD", "دولار": "USD", "lbp": "LBP", "ll": "LBP", "l.l": "LBP",
               "ل.ل": "LBP", "لل": "LBP", "ليره": "LBP", "ليره لبنانيه": "LBP"}
_BOOLEANS = {"yes": True, "y": True, "true": True, "1": True, "نعم": True, "no": False, "n": False, "false": False,
             "0": False, "لا": False}
_CODE_SEPARATORS = re.compile(r"[;,\s]+")
# Cells a spreadsheet could run as a formula; our exports prefix them with ' (see product_export).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # What Excel shows (15 significant digits): a price computed by a formula as
        # 1.2999999999999998 is the 1.3 the owner sees, never the float's binary expansion.
        return str(int(value)) if value.is_integer() else format(value, ".15g")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    text = str(value).strip()
    if text.startswith("'") and text[1:2] in _FORMULA_START:
        text = text[1:]
    return text


def _number_text(text: str) -> str:
    text = text.translate(_DIGITS).strip().removeprefix("$").removesuffix("$").strip()
    if _THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    return text


def _codes(raw: Any) -> list[str]:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        text = _cell_text(raw)
        # A code typed as a number lost its leading zeros; put them back if that makes it valid.
        if text.isdigit() and len(text) < 13 and not is_gs1_valid(text):
            for width in (12, 13):
                if is_gs1_valid(text.zfill(width)):
                    return [text.zfill(width)]
        return [text]
    text = _cell_text(raw).translate(_DIGITS)
    return [code for code in _CODE_SEPARATORS.split(text) if code]


def _barcode(code: str, factor: Decimal, column: str, row: int, problems: list[Problem]) -> Barcode | None:
    kind = "gs1" if code.isascii() and code.isdigit() and len(code) in (8, 12, 13, 14) else "internal"
    try:
        return Barcode(normalize_barcode(code, kind), factor, kind)
    except errors.MakhzanError as exc:
        problems.append(Problem(row, column, f"{code}: {exc.message}", exc.code))
        return None


def parse_row(number: int, cells: list[Any], columns: Columns) -> Row | list[Problem]:
    """One data row's values, checked cell by cell; every bad cell is reported, not just the first."""
    raw = {name: (cells[i] if i < len(cells) else None) for name, i in columns.index.items()}
    text = {name: _cell_text(value) for name, value in raw.items()}
    problems: list[Problem] = []

    def bad(name: str, message: str, code: str = "invalid_value") -> None:
        problems.append(Problem(number, columns.names[name], message, code))

    values: dict[str, Any] = {}
    sku = text.get("sku", "")
    if not sku:
        bad("sku", "The SKU is empty.", "missing_value")
    for name in ("sku", "name", "name_ar"):
        if text.get(name):
            values[name] = text[name]
    if text.get("base_unit"):
        unit = _UNITS.get(normalize_for_search(text["base_unit"]).replace(" ", ""))
        if unit is None:
            bad("base_unit", f"Unknown unit {text['base_unit']!r}; use one of {', '.join(units.BASE_UNITS)}.")
        values["base_unit"] = unit
    if text.get("currency"):
        currency = _CURRENCIES.get(normalize_for_search(text["currency"]).replace(" ", ""))
        if currency is None:
            bad("currency", f"Unknown currency {text['currency']!r}; use USD or LBP.")
        values["currency"] = currency
    for name in ("price", "low_stock_threshold"):
        if text.get(name):
            try:
                values[name] = units.parse_money(_number_text(text[name]), field=columns.names[name])
            except errors.MakhzanError as exc:
                bad(name, exc.message, exc.code)
    if text.get("active"):
        active = _BOOLEANS.get(normalize_for_search(text["active"]))
        if active is None:
            bad("active", f"Write yes or no, not {text['active']!r}.")
        values["active"] = active

    unit_codes = None
    if text.get("barcode"):
        found = [_barcode(c, Decimal(1), columns.names["barcode"], number, problems)
                 for c in _codes(raw["barcode"])]
        unit_codes = [b for b in found if b is not None]
    case_codes = _case_codes(number, raw, text, columns, problems)

    for problem in problems:
        problem.sku = sku or None
    if problems:
        return problems
    return Row(number, sku, values, unit_codes, case_codes)


def _case_codes(number: int, raw: dict[str, Any], text: dict[str, str], columns: Columns,
                problems: list[Problem]) -> list[Barcode] | None:
    if not text.get("case_barcode"):
        if text.get("case_factor"):
            problems.append(Problem(number, columns.names["case_factor"], "A case factor needs a case barcode."))
        return None
    column = columns.names["case_barcode"]
    codes = _codes(raw["case_barcode"])
    if not text.get("case_factor"):
        problems.append(Problem(number, columns.names.get("case_factor", "case_factor"),
                                "A case barcode needs its case factor (how many base units one scan is).",
                                "missing_value"))
        return None
    factors = []
    for part in _CODE_SEPARATORS.split(_number_text(text["case_factor"])):
        if not part:
            continue
        try:
            factors.append(units.parse_quantity(part, field=columns.names["case_factor"]))
        except errors.MakhzanError as exc:
            problems.append(Problem(number, columns.names["case_factor"], exc.message, exc.code))
            return None
    if len(factors) == 1:
        factors *= len(codes)
    if len(factors) != len(codes):
        problems.append(Problem(number, columns.names["case_factor"],
                                "Give one case factor for all case barcodes, or one per barcode."))
        return None
    found = [_barcode(code, factor, column, number, problems) for code, factor in zip(codes, factors, strict=True)]
    return [b for b in found if b is not None]


def parse_rows(table: Table, columns: Columns) -> tuple[list[Row], list[Problem], int]:
    """The valid rows, the problems of the others, and how many data rows the file has."""
    rows: list[Row] = []
    problems: list[Problem] = []
    seen_sku: dict[str, int] = {}
    seen_code: dict[str, int] = {}
    total = 0
    for number, cells in table.rows:
        if number <= columns.header_row or not any(_cell_text(c) for c in cells):
            continue
        total += 1
        if total > MAX_ROWS:
            raise FileTooLarge(f"The file has more than {MAX_ROWS} rows; split it.", {"limit_rows": MAX_ROWS})
        parsed = parse_row(number, cells, columns)
        if isinstance(parsed, list):
            problems.extend(parsed)
            continue
        # A SKU or code twice in one file is a mistake to show, not something to apply twice.
        if parsed.sku in seen_sku:
            problems.append(Problem(number, columns.names["sku"], f"SKU {parsed.sku} is also on row "
                                    f"{seen_sku[parsed.sku]}.", "duplicate_sku", parsed.sku))
            continue
        codes = [b.barcode for b in (parsed.unit_codes or []) + (parsed.case_codes or [])]
        repeated = [c for c in codes if c in seen_code or codes.count(c) > 1]
        if repeated:
            other = seen_code.get(repeated[0])
            where = f"also on row {other}" if other else "listed twice in this row"
            column = columns.names["barcode" if "barcode" in columns.names else "case_barcode"]
            problems.append(Problem(number, column, f"Barcode {repeated[0]} is {where}.", "duplicate_barcode",
                                    parsed.sku))
            continue
        seen_sku[parsed.sku] = number
        seen_code.update({c: number for c in codes})
        rows.append(parsed)
    return rows, problems, total


# --- applying rows ----------------------------------------------------------------------------


@dataclass
class Outcome:
    row: int
    sku: str
    status: str  # created | updated | unchanged | failed
    product_id: UUID | None = None
    problem: Problem | None = None


def _merged_codes(row: Row, current: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The product's barcode set after this row, or None when the row leaves it as it is."""
    if row.unit_codes is None and row.case_codes is None:
        return None
    existing = {b["barcode"]: b for b in current}
    result = []
    for given, is_unit in ((row.unit_codes, True), (row.case_codes, False)):
        if given is None:
            result += [b for b in current if (b["factor"] == 1) == is_unit]
            continue
        for code in given:
            old = existing.get(code.barcode)
            # A code the product already has keeps its unit name and kind (an internal code of
            # 13 digits stays internal).
            unit = old["unit"] if old else ("piece" if is_unit else "case")
            kind = old["kind"] if old else code.kind
            result.append({"barcode": code.barcode, "factor": code.factor, "unit": unit, "kind": kind})
    return result


def _same_codes(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    def key(codes: list[dict[str, Any]]) -> set[tuple[str, Decimal]]:
        return {(c["barcode"], Decimal(c["factor"])) for c in codes}

    return key(a) == key(b)


@dataclass
class _Plan:
    """What one checked row will do: nothing (unchanged), a create, or an update."""

    row: Row
    outcome: Outcome
    create: ProductIn | None = None
    update: ProductPatch | None = None


def _plan(row: Row, current: dict[str, Any] | None, owners: dict[str, dict[str, Any]], columns: Columns) -> _Plan:
    """Decide a row against the catalogue as read at the start of its chunk; raises ValidationError."""
    codes_before = current["barcodes"] if current else []
    codes = _merged_codes(row, codes_before)
    for code in [c["barcode"] for c in codes or []]:
        owner = owners.get(code)
        if owner is not None and (current is None or owner["product_id"] != current["id"]):
            column = "barcode" if any(c.barcode == code for c in row.unit_codes or []) else "case_barcode"
            return _Plan(row, _failed(row, columns.names.get(column, column), "barcode_taken",
                                      f"Barcode {code} already belongs to SKU {owner['sku']}."))
    barcodes = [BarcodeIn(**c) for c in codes] if codes is not None else None
    if current is None:
        missing = [name for name in ("name", "price") if name not in row.values]
        if missing:
            return _Plan(row, _failed(row, columns.names.get(missing[0], missing[0]), "missing_value",
                                      f"A new product needs a {missing[0]}; {row.sku} is not in the catalogue yet."))
        return _Plan(row, Outcome(row.number, row.sku, "created"), create=ProductIn(**row.values,
                                                                                   barcodes=barcodes or []))
    changes = {k: v for k, v in row.values.items() if current.get(k) != v}
    if codes is not None and not _same_codes(codes, codes_before):
        changes["barcodes"] = barcodes
    if not changes:
        return _Plan(row, Outcome(row.number, row.sku, "unchanged", current["id"]))
    return _Plan(row, Outcome(row.number, row.sku, "updated", current["id"]), update=ProductPatch(**changes))


async def _write(conn: Connection, tenant_id: UUID, plan: _Plan) -> None:
    if plan.create is not None:
        product = await catalog.create_product(conn, tenant_id, plan.create)
        plan.outcome.product_id = product["id"]
    elif plan.update is not None:
        assert plan.outcome.product_id is not None
        await catalog.update_product(conn, tenant_id, plan.outcome.product_id, plan.update)


def _failed(row: Row, column: str, code: str, message: str) -> Outcome:
    return Outcome(row.number, row.sku, "failed", problem=Problem(row.number, column, message, code, row.sku))


async def _current(conn: Connection, tenant_id: UUID, rows: list[Row]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The chunk's existing products by SKU (with their barcodes), and who holds each code it names."""
    cur = await conn.execute(Q.products_by_skus, {"tenant_id": tenant_id, "skus": [r.sku for r in rows]})
    by_sku = {p["sku"]: p for p in await cur.fetchall()}
    codes: dict[UUID, list[dict[str, Any]]] = {p["product_id"]: [] for p in by_sku.values()}
    if by_sku:
        cur = await conn.execute(Q.barcodes_of_products, {"tenant_id": tenant_id, "product_ids": list(codes)})
        for b in await cur.fetchall():
            codes[b["product_id"]].append(dict(b))
    named = [b.barcode for r in rows for b in (r.unit_codes or []) + (r.case_codes or [])]
    cur = await conn.execute(Q.barcode_owners, {"tenant_id": tenant_id, "barcodes": named})
    owners = {o["barcode"]: o for o in await cur.fetchall()}
    current = {sku: {**catalog.product_out(p), "barcodes": codes[p["product_id"]]} for sku, p in by_sku.items()}
    return current, owners


async def apply_rows(conn: Connection, tenant_id: UUID, rows: list[Row], columns: Columns, *,
                     dry_run: bool = False) -> list[Outcome]:
    """Create or update each row's product, in the caller's transaction; a row that fails changes nothing.

    Every row is first checked against the catalogue read in three queries; then the writes go
    together in one savepoint. Only if the database still refuses one (a code or SKU taken by a
    concurrent edit) are the writes redone one savepoint per row, to tell which row it was.
    With ``dry_run`` every row is checked and written as for real, then rolled back.
    """
    async with conn.transaction(force_rollback=dry_run):
        current, owners = await _current(conn, tenant_id, rows)
        plans = []
        for row in rows:
            try:
                plans.append(_plan(row, current.get(row.sku), owners, columns))
            except ValidationError as exc:
                plans.append(_Plan(row, _failed(row, _column_of(exc, columns), "invalid_value", _first_message(exc))))
        writes = [p for p in plans if p.create is not None or p.update is not None]
        try:
            async with conn.transaction():
                with translate_errors():
                    for plan in writes:
                        await _write(conn, tenant_id, plan)
        except errors.MakhzanError:
            for plan in writes:
                try:
                    async with conn.transaction():
                        with translate_errors():
                            await _write(conn, tenant_id, plan)
                except errors.MakhzanError as exc:
                    plan.outcome = _failed(plan.row, _column_of(exc, columns), exc.code, exc.message)
    return [plan.outcome for plan in plans]


def _column_of(exc: Exception, columns: Columns) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        name = str(exc.errors()[0]["loc"][0])
    elif isinstance(exc, errors.BarcodeTaken | errors.InvalidBarcode):
        name = "barcode"
    elif isinstance(exc, errors.SkuTaken):
        name = "sku"
    else:
        name = str(getattr(exc, "details", {}).get("field", "sku"))
    return columns.names.get(name, name)


def _first_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"{first['loc'][0]} {first['msg']}"


# --- the whole import -------------------------------------------------------------------------


@dataclass
class Report:
    dry_run: bool
    format: str
    encoding: str | None
    header_row: int
    columns: dict[str, str]
    ignored_columns: list[str]
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    problems: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        problems = sorted(self.problems, key=lambda p: p.row)
        return {
            "dry_run": self.dry_run, "format": self.format, "encoding": self.encoding,
            "header_row": self.header_row, "columns": self.columns, "ignored_columns": self.ignored_columns,
            "rows": self.rows, "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
            "failed": self.failed, "errors": [p.as_dict() for p in problems[:MAX_REPORTED_ERRORS]],
            "errors_truncated": len(problems) > MAX_REPORTED_ERRORS,
        }


def _read_and_check(data: bytes, content_type: str | None, filename: str | None
                    ) -> tuple[Table, Columns, tuple[list[Row], list[Problem], int]]:
    table = read_table(data, content_type=content_type, filename=filename)
    columns = find_columns(table)
    return table, columns, parse_rows(table, columns)


Transact = Callable[[Callable[[Connection], Awaitable[Any]]], Awaitable[Any]]


def _chunks(rows: list[Row]) -> Iterator[list[Row]]:
    for start in range(0, len(rows), CHUNK_ROWS):
        yield rows[start:start + CHUNK_ROWS]


async def import_products(transact: Transact, tenant_id: UUID, data: bytes, *, content_type: str | None = None,
                          filename: str | None = None, dry_run: bool = False) -> Report:
    """Read, check and apply a whole file; ``transact`` runs one unit of work in one transaction."""
    # Parsing a large workbook takes CPU seconds: off the event loop, so the tills stay served.
    table, columns, (rows, problems, total) = await asyncio.to_thread(_read_and_check, data, content_type, filename)
    report = Report(dry_run, table.format, table.encoding, columns.header_row, columns.names, columns.ignored,
                    rows=total, problems=problems)
    failed_rows = {p.row for p in problems}
    for chunk in _chunks(rows):
        outcomes: list[Outcome] = await transact(
            lambda conn, chunk=chunk: apply_rows(conn, tenant_id, chunk, columns, dry_run=dry_run))
        for outcome in outcomes:
            if outcome.problem is not None:
                report.problems.append(outcome.problem)
                failed_rows.add(outcome.row)
            else:
                setattr(report, outcome.status, getattr(report, outcome.status) + 1)
    report.failed = len(failed_rows)
    return report
