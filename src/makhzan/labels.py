"""Shelf labels: name in English and Arabic, price in USD and LBP, and a barcode a till can scan.

Made for goods without a manufacturer's code (bulk spices, bakery, repacked items) as well as
for shelf edges. The barcode is the product's own unit code: EAN-13 or EAN-8 when it is one,
Code 128 for an internal code (and for a 14-digit GTIN, which EAN cannot draw). The bars come
from python-barcode's encoder and are drawn here as rectangles, so the SVG and the PDF carry
exactly the same pattern.

The PDF is a sheet of 21 labels per A4 page (63.5 × 38.1 mm, the layout of Avery L7160 and the
sheets sold under its number) drawn with fpdf2, whose HarfBuzz text shaping joins Arabic letters
and lays them right to left. It needs a TrueType font with Arabic letters: ``MAKHZAN_LABEL_FONT``,
else DejaVu Sans or Noto from the system (Debian: fonts-dejavu-core).
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from uuid import UUID
from xml.sax.saxutils import escape, quoteattr

import barcode as barcode_lib
from stdnum import ean

from makhzan import catalog, errors, tenancy
from makhzan.db import Connection
from makhzan.models import BarcodeIn, ProductPatch
from makhzan.queries import Q

WIDTH_MM = Decimal("63.5")
HEIGHT_MM = Decimal("38.1")
MAX_LABELS = 1000
# Avery L7160: 3 × 7 labels, 7.25 mm from the left, 15.15 mm from the top, 2.54 mm between columns.
_COLUMNS, _ROWS = 3, 7
_LEFT, _TOP, _PITCH_X, _PITCH_Y = 7.25, 15.15, 66.04, 38.1
_MODULE_MM = 0.33  # EAN's nominal X-dimension; narrower only when a long Code 128 would not fit
_BARS_MAX_MM = 57.0
_BARS_TOP, _BARS_HEIGHT = 19.0, 11.0
_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
)
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class NoBarcode(errors.MakhzanError):
    status, code = 422, "no_barcode"


class LabelFontMissing(errors.MakhzanError):
    status, code = 503, "label_font_missing"


@dataclass(frozen=True)
class Label:
    product_id: UUID
    sku: str
    name: str
    name_ar: str | None
    usd: Decimal
    lbp: Decimal
    code: str  # the code drawn, as a scanner reads it
    symbology: str  # ean13 | ean8 | code128
    modules: str  # "1" bar, "0" space, one character per module

    @property
    def usd_text(self) -> str:
        return f"${self.usd:,.2f}"

    @property
    def lbp_text(self) -> str:
        return f"{self.lbp:,.0f} LBP"


def encode(code: str) -> tuple[str, str, str]:
    """(symbology, the code as printed, modules) for a product's stored barcode."""
    if code.isascii() and code.isdigit() and len(code) in (8, 13):
        symbology = "ean13" if len(code) == 13 else "ean8"
        # python-barcode takes the code without its check digit and computes it again.
        drawn = barcode_lib.get(symbology, code[:-1])
        if drawn.get_fullcode() != code:
            raise NoBarcode("The product's barcode has a wrong check digit.", {"barcode": code})
        return symbology, code, drawn.build()[0]
    drawn = barcode_lib.get("code128", code)
    return "code128", code, drawn.build()[0]


def _choose_code(barcodes: list[dict[str, Any]]) -> str:
    # A shelf label is for one piece: the unit code, never a case's; a GS1 code before an internal one.
    units = [b for b in barcodes if b["factor"] == 1]
    units.sort(key=lambda b: (b["kind"] != "gs1", b["barcode"]))
    if not units:
        raise NoBarcode("This product has no unit barcode to print; give it one (an internal code will do).")
    return str(units[0]["barcode"])


def _prices(price: Decimal, currency: str, rate: Decimal) -> tuple[Decimal, Decimal]:
    # Rounded as the till rounds a line: cents in USD, whole pounds in LBP.
    if currency == "USD":
        usd, lbp = price, price * rate
    else:
        usd, lbp = price / rate, price
    return (usd.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
            lbp.quantize(Decimal("1"), rounding=ROUND_HALF_UP))


async def labels_for(conn: Connection, tenant_id: UUID, product_ids: list[UUID]) -> list[Label]:
    """One label per id, in the order given (an id given twice prints twice)."""
    tenant = await tenancy.get_tenant(conn, tenant_id)
    products: dict[UUID, Label] = {}
    result = []
    for product_id in product_ids:
        if product_id not in products:
            product = await catalog.get_product(conn, tenant_id, product_id)
            symbology, code, modules = encode(_choose_code(product["barcodes"]))
            usd, lbp = _prices(product["price"], product["currency"], tenant["lbp_rate"])
            products[product_id] = Label(product_id, product["sku"], product["name"], product["name_ar"], usd, lbp,
                                         code, symbology, modules)
        result.append(products[product_id])
    return result


# In-store EAN-13 codes: GS1 keeps prefixes 20-29 for use inside one company. A code must not
# fall under one of the tenant's scale-label rules (21... by default), which the till would
# read as a weight; 20 is tried first, then the other prefixes no rule claims.
_STORE_PREFIXES = ("20", "22", "23", "24", "25", "26", "27", "28", "29")
_STORE_CODE_TRIES = 20


async def assign_store_code(conn: Connection, tenant_id: UUID, product_id: UUID) -> str:
    """Give a product without a unit barcode an in-store EAN-13, kept with its other codes.

    A product that already has a unit barcode keeps it and gets none (so a retried request
    never adds a second code); that barcode is returned.
    """
    product = await catalog.get_product(conn, tenant_id, product_id)
    units = [b["barcode"] for b in product["barcodes"] if b["factor"] == 1]
    if units:
        return _choose_code(product["barcodes"])
    cur = await conn.execute(Q.list_barcode_rules, {"tenant_id": tenant_id})
    rule_prefixes = [row["prefix"] for row in await cur.fetchall()]
    free = [p for p in _STORE_PREFIXES if not any(p.startswith(r) or r.startswith(p) for r in rule_prefixes)]
    if not free:
        raise errors.Conflict("Every in-store prefix (20-29) is taken by a scale-label rule; type an internal code.")
    for _ in range(_STORE_CODE_TRIES):
        body = free[0] + f"{secrets.randbelow(10**10):010d}"
        code = body + ean.calc_check_digit(body)
        cur = await conn.execute(Q.barcode_owners, {"tenant_id": tenant_id, "barcodes": [code]})
        if await cur.fetchone() is None:
            break
    else:
        raise errors.ServiceBusy("Could not find a free in-store code; try again.")
    codes = [BarcodeIn(**b) for b in product["barcodes"]] + [BarcodeIn(barcode=code, unit="piece", kind="gs1")]
    await catalog.update_product(conn, tenant_id, product_id, ProductPatch(barcodes=codes))
    return code


def bars(modules: str) -> list[tuple[int, int]]:
    """(first module, width in modules) of each bar."""
    return [(m.start(), m.end() - m.start()) for m in re.finditer("1+", modules)]


def _module_mm(modules: str) -> float:
    return min(_MODULE_MM, _BARS_MAX_MM / len(modules))


def _clean(text: str | None) -> str:
    return _NOT_XML.sub("", text or "")


# --- SVG --------------------------------------------------------------------------------------


def _attribute(name: str) -> str:
    # Python keywords and dashes: class_ is class, xml_lang is xml:lang, text_anchor is text-anchor.
    return name.rstrip("_").replace("xml_", "xml:").replace("_", "-")


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def svg(label: Label) -> str:
    """One label as a standalone SVG in millimetres; the browser shapes the Arabic."""
    width, height = float(WIDTH_MM), float(HEIGHT_MM)
    module = _module_mm(label.modules)
    left = (width - module * len(label.modules)) / 2
    rects = "".join(
        f'<rect x="{left + start * module:.3f}" y="{_BARS_TOP}" width="{count * module:.3f}" height="{_BARS_HEIGHT}"/>'
        for start, count in bars(label.modules)
    )

    def text(x: float, y: float, size: float, content: str, **attrs: str) -> str:
        extra = "".join(f" {_attribute(k)}={quoteattr(v)}" for k, v in attrs.items())
        return f'<text x="{x}" y="{y}" font-size="{size}"{extra}>{escape(_clean(content))}</text>'

    # Up to 30 characters fit at this size; up to 45 are squeezed in; past that the end goes.
    fit = {"textLength": str(width - 6), "lengthAdjust": "spacingAndGlyphs"}
    name, name_ar = (_shortened(n, 45) for n in (label.name, label.name_ar or ""))
    parts = [
        text(3, 6.5, 4, name, **(fit if len(name) > 30 else {})),
        text(width - 3, 11.5, 4, name_ar, direction="rtl", text_anchor="start", xml_lang="ar",
             class_="name-ar", **(fit if len(name_ar) > 30 else {})),
        text(3, 17.5, 6, label.usd_text, font_weight="bold", class_="usd"),
        text(width - 3, 17.5, 3.6, label.lbp_text, text_anchor="end", class_="lbp"),
        f'<g class="bars" data-symbology="{label.symbology}" data-module-mm="{module:.4f}" '
        f'data-left-mm="{left:.4f}">{rects}</g>',
        text(width / 2, 34, 3.2, label.code, text_anchor="middle", class_="code", font_family="monospace"),
        text(3, 37, 2.4, label.sku, class_="sku"),
    ]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}mm" height="{height}mm" '
        f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans, Noto Sans Arabic, Arial, sans-serif">'
        f'<rect width="{width}" height="{height}" fill="#fff"/>' + "".join(parts) + "</svg>"
    )


# --- PDF --------------------------------------------------------------------------------------


def find_font() -> Path:
    configured = os.environ.get("MAKHZAN_LABEL_FONT")
    for candidate in ([configured] if configured else []) + list(_FONT_CANDIDATES):
        if Path(candidate).is_file():
            return Path(candidate)
    raise LabelFontMissing(
        "No font with Arabic letters was found for PDF labels; install fonts-dejavu-core or set MAKHZAN_LABEL_FONT.",
    )


def pdf(labels: list[Label]) -> bytes:
    """A sheet of labels, 21 to an A4 page."""
    from fpdf import FPDF

    if not labels:
        raise errors.InvalidInput("Name at least one product to print.", {"field": "product_id"})
    if len(labels) > MAX_LABELS:
        raise errors.InvalidInput(f"At most {MAX_LABELS} labels at once.", {"limit": MAX_LABELS})
    document = FPDF(orientation="P", unit="mm", format="A4")
    document.set_auto_page_break(False)
    document.set_margins(0, 0, 0)
    document.set_creator("Makhzan")
    document.add_font("label", fname=str(find_font()))
    document.set_text_shaping(True)
    per_page = _COLUMNS * _ROWS
    for n, label in enumerate(labels):
        if n % per_page == 0:
            document.add_page()
        column, row = n % _COLUMNS, (n % per_page) // _COLUMNS
        _draw(document, label, _LEFT + column * _PITCH_X, _TOP + row * _PITCH_Y)
    return bytes(document.output())


def _fitted(document: Any, text: str, size: float, width: float) -> str:
    """The text as it fits the label: a long name shrinks down to 6 pt, then loses its end to "…"
    rather than run into the next label on the sheet."""
    while size > 6 and document.get_string_width(text) > width:
        size -= 0.5
        document.set_font_size(size)
    if document.get_string_width(text) <= width:
        return text
    while len(text) > 1 and document.get_string_width(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _draw(document: Any, label: Label, x: float, y: float) -> None:
    width = float(WIDTH_MM)
    inner = width - 6
    document.set_font("label", size=10)
    name = _fitted(document, _clean(label.name), 10, inner)
    document.set_xy(x + 3, y + 2.5)
    document.cell(inner, 5, name)
    if label.name_ar:
        document.set_font("label", size=10)
        name_ar = _fitted(document, _clean(label.name_ar), 10, inner)
        document.set_xy(x + 3, y + 7.5)
        document.cell(inner, 5, name_ar, align="R")
    document.set_font("label", size=16)
    document.set_xy(x + 3, y + 12.5)
    document.cell(inner / 2, 6, label.usd_text)
    document.set_font("label", size=9)
    document.set_xy(x + 3 + inner / 2, y + 13)
    document.cell(inner / 2, 5, label.lbp_text, align="R")
    module = _module_mm(label.modules)
    left = x + (width - module * len(label.modules)) / 2
    for start, count in bars(label.modules):
        document.rect(left + start * module, y + _BARS_TOP, count * module, _BARS_HEIGHT, style="F")
    document.set_font("label", size=8)
    document.set_xy(x + 3, y + 30.5)
    document.cell(inner, 4, label.code, align="C")
    document.set_font("label", size=6)
    document.set_xy(x + 3, y + 34)
    document.cell(inner, 3, label.sku)
