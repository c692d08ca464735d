"""The catalogue as a spreadsheet, in the columns ``product_import`` reads back.

A cell an attacker controls (a product name typed by a supplier, an import from elsewhere) must
not run as a formula when a manager opens the file: in CSV, text starting with ``= + - @`` or a
tab or carriage return is prefixed with ``'`` (the OWASP advice; the import strips it again); in
XLSX every text cell is written with the string type, which Excel and LibreOffice never evaluate.
"""

from __future__ import annotations

import asyncio
import csv
import io
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

from makhzan import catalog
from makhzan.db import Connection

COLUMNS = ("sku", "name", "name_ar", "base_unit", "price", "currency", "low_stock_threshold", "barcode",
           "case_barcode", "case_factor", "active")
PAGE = 1000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_THOUSANDTHS = Decimal("0.001")

Read = Callable[[Callable[[Connection], Awaitable[Any]]], Awaitable[Any]]


def _number(value: Decimal) -> str:
    return format(value.quantize(_THOUSANDTHS), "f")


def row_of(product: dict[str, Any]) -> dict[str, Any]:
    """One product as the export's cells (text, Decimal or None)."""
    units = [b for b in product.get("barcodes", []) if b["factor"] == 1]
    cases = [b for b in product.get("barcodes", []) if b["factor"] != 1]
    factors = list(dict.fromkeys(_number(b["factor"]) for b in cases))
    return {
        "sku": product["sku"], "name": product["name"], "name_ar": product["name_ar"],
        "base_unit": product["base_unit"], "price": product["price"], "currency": product["currency"],
        "low_stock_threshold": product["low_stock_threshold"],
        "barcode": "; ".join(b["barcode"] for b in units) or None,
        "case_barcode": "; ".join(b["barcode"] for b in cases) or None,
        # One factor when every case code shares it, else one per code in the same order.
        "case_factor": (factors[0] if len(factors) == 1 else "; ".join(_number(b["factor"]) for b in cases)) or None,
        "active": "yes" if product["active"] else "no",
    }


async def pages(read: Read, tenant_id: UUID) -> AsyncIterator[list[dict[str, Any]]]:
    """Every product in SKU order as export rows, a page per read: a large catalogue never sits in memory."""
    after = ""
    while True:
        page: list[dict[str, Any]] = await read(
            lambda conn, after=after: catalog.list_products(conn, tenant_id, after, PAGE))
        yield [row_of(product) for product in page]
        if len(page) < PAGE:
            return
        after = page[-1]["sku"]


def csv_safe(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return _number(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


async def csv_chunks(rows: AsyncIterator[list[dict[str, Any]]]) -> AsyncIterator[bytes]:
    """UTF-8 with a BOM: without it Excel reads the file in the ANSI code page and Arabic turns to noise."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    yield b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")
    async for page in rows:
        out.seek(0)
        out.truncate()
        writer.writerows([csv_safe(row[c]) for c in COLUMNS] for row in page)
        yield out.getvalue().encode("utf-8")


class _Workbook:
    """A write-only workbook filled a page at a time (openpyxl is CPU work: callers run it in a thread)."""

    def __init__(self) -> None:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font

        self._cell = WriteOnlyCell
        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet("Products")
        self.sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        header = []
        for name in COLUMNS:
            head = WriteOnlyCell(self.sheet, value=name)
            head.font = bold
            header.append(head)
        self.sheet.append(header)

    def value(self, value: Any) -> Any:
        if isinstance(value, Decimal):
            number = self._cell(self.sheet, value=value.quantize(_THOUSANDTHS))
            number.number_format = "0.000"
            return number
        if isinstance(value, str) and value.startswith("="):
            # Typed "s" by hand: openpyxl stores any text starting with "=" as a formula. Other
            # text is always a string cell, which no spreadsheet evaluates.
            text = self._cell(self.sheet, value=None)
            text._value = value
            text.data_type = "s"
            return text
        return value

    def append(self, page: list[dict[str, Any]]) -> None:
        for row in page:
            self.sheet.append([self.value(row[c]) for c in COLUMNS])

    def save(self) -> tempfile.SpooledTemporaryFile[bytes]:
        # Handed to the response, which reads it to the end; closed when garbage collected.
        out: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115
        self.book.save(out)
        out.seek(0)
        return out


async def xlsx_file(rows: AsyncIterator[list[dict[str, Any]]]) -> tempfile.SpooledTemporaryFile[bytes]:
    """The workbook in a spooled temporary file (memory for small catalogues, disk for large).

    Each page is written in a worker thread, so the server keeps answering tills meanwhile.
    """
    workbook = await asyncio.to_thread(_Workbook)
    async for page in rows:
        await asyncio.to_thread(workbook.append, page)
    return await asyncio.to_thread(workbook.save)
