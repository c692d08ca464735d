"""Shelf labels over real HTTP: the SVG's bars decode back to the product's code, the PDF has its pages."""

from __future__ import annotations

import io
import math
import uuid
import xml.etree.ElementTree as ET
from decimal import ROUND_HALF_UP, Decimal

from barcode.charsets import code128
from pypdf import PdfReader
from tests.support import Shop, ean13

SVG = "{http://www.w3.org/2000/svg}"

# EAN-13 digit patterns (GS1 General Specifications, 5.2.1.2): L and G on the left half, R on the right.
_L = ["0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011", "0110111", "0001011"]
_G = ["".join("1" if b == "0" else "0" for b in r)[::-1] for r in _L]
_R = ["".join("1" if b == "0" else "0" for b in p) for p in _L]
_PARITY = ["LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL"]


def modules_of(svg: str) -> tuple[str, str]:
    """(symbology, the module string) read back from the rectangles of the label's bars."""
    root = ET.fromstring(svg)
    group = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "bars")
    module, left = float(group.get("data-module-mm")), float(group.get("data-left-mm"))
    cells: list[str] = []
    for rect in group.iter(f"{SVG}rect"):
        start = round((float(rect.get("x")) - left) / module)
        width = round(float(rect.get("width")) / module)
        cells.extend("0" * (start - len(cells)))
        cells.extend("1" * width)
    return group.get("data-symbology"), "".join(cells)


def decode_ean13(modules: str) -> str:
    assert modules.startswith("101") and modules[45:50] == "01010" and modules.endswith("101"), modules
    left = [modules[3 + 7 * i:10 + 7 * i] for i in range(6)]
    right = [modules[50 + 7 * i:57 + 7 * i] for i in range(6)]
    digits, parity = [], ""
    for pattern in left:
        if pattern in _L:
            digits.append(_L.index(pattern))
            parity += "L"
        else:
            digits.append(_G.index(pattern))
            parity += "G"
    digits += [_R.index(p) for p in right]
    return str(_PARITY.index(parity)) + "".join(map(str, digits))


def decode_code128(modules: str) -> str:
    """Code 128 back to text: 11-module symbols, the check symbol verified, sets B and C."""
    by_pattern = {pattern: value for value, pattern in enumerate(code128.CODES)}
    values = [by_pattern[modules[i:i + 11]] for i in range(0, len(modules) - 13, 11)]
    assert modules[-13:] == "1100011101011"  # stop
    start, *data, check = values
    assert check == (start + sum(i * v for i, v in enumerate(data, start=1))) % 103
    set_b = {v: k for k, v in code128.B.items() if len(k) == 1}
    text, current = "", {103: "A", 104: "B", 105: "C"}[start]
    for value in data:
        if value == 99:
            current = "C"
        elif value == 100:
            current = "B"
        elif current == "C":
            text += f"{value:02d}"
        else:
            text += set_b[value]
    return text


def text_of(svg: str, css_class: str) -> str:
    root = ET.fromstring(svg)
    return next(t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == css_class)


def lbp_rate(shop: Shop) -> Decimal:
    settings = shop.admin.get("/settings")
    return Decimal(settings.json()["lbp_rate"]) if settings.status_code == 200 else Decimal("89500")


def test_svg_label_draws_the_ean13_and_both_prices(shop: Shop) -> None:
    code = ean13()
    product = shop.product(name="Milk 1L", name_ar="حليب ١ لتر", price="1.250", barcodes=[{"barcode": code}])
    response = shop.key("manager").get(f"/products/{product['id']}/label.svg")
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    symbology, modules = modules_of(response.text)
    assert symbology == "ean13" and len(modules) == 95
    assert decode_ean13(modules) == code
    assert text_of(response.text, "name-ar") == "حليب ١ لتر"
    assert text_of(response.text, "usd") == "$1.25"
    lbp = (Decimal("1.250") * lbp_rate(shop)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert text_of(response.text, "lbp") == f"{lbp:,} LBP"
    assert text_of(response.text, "code") == code


def test_internal_code_is_drawn_as_code128_and_names_are_escaped(shop: Shop) -> None:
    code = f"ZA-{uuid.uuid4().hex[:6].upper()}-500"
    product = shop.product(name="<Zaatar & oil>", name_ar="زعتر", price="3",
                           barcodes=[{"barcode": code, "kind": "internal"}])
    svg = shop.admin.get(f"/products/{product['id']}/label.svg").text
    symbology, modules = modules_of(svg)
    assert symbology == "code128"
    assert decode_code128(modules) == code
    assert "<Zaatar & oil>" in ET.fromstring(svg).itertext()


def test_pdf_sheet_pages_and_text(shop: Shop) -> None:
    a = shop.product(name="Labneh", name_ar="لبنة", price="4.5")
    b = shop.product(name="Bread", name_ar="خبز", price="1")
    response = shop.admin.get("/labels.pdf", params=[("product_id", a["id"]), ("product_id", b["id"]),
                                                     ("copies", "11")])
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) == math.ceil(22 / 21) == 2
    first = reader.pages[0].extract_text()
    assert first.count("Labneh") == 11 and "$4.50" in first and "لبنة" in first
    assert reader.pages[1].extract_text().count("Bread") == 1


def test_labels_refuse_what_they_cannot_print(shop: Shop) -> None:
    bare = shop.product(barcodes=[])
    response = shop.admin.get(f"/products/{bare['id']}/label.svg")
    assert response.status_code == 422 and response.json()["error"]["code"] == "no_barcode"
    assert shop.admin.get(f"/products/{uuid.uuid4()}/label.svg").status_code == 404
    assert shop.admin.get("/labels.pdf").status_code == 422
    assert shop.admin.get("/labels.pdf", params={"product_id": bare["id"], "copies": "1000"}).status_code == 422
    cashier = shop.key("cashier", shop.store)
    assert cashier.get(f"/products/{bare['id']}/label.svg").status_code == 403


def test_a_long_name_is_shortened_on_the_pdf_label_not_spilled_onto_the_next(shop: Shop) -> None:
    long_name = "Extra virgin olive oil from the Koura hills, first cold press, glass bottle " * 2
    product = shop.product(name=long_name.strip()[:200], name_ar="زيت زيتون بكر ممتاز من الكورة " * 4, price="12")
    response = shop.admin.get("/labels.pdf", params={"product_id": product["id"]})
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    first_line = text.splitlines()[0]
    assert first_line.startswith("Extra virgin olive oil") and first_line.endswith("…")
    assert len(first_line) < 60


def test_store_code_through_the_api_avoids_the_scale_rules(shop: Shop) -> None:
    bulk = shop.product(name="Lentils (loose)", unit="kg", price="2", barcodes=[])
    response = shop.admin.post(f"/products/{bulk['id']}/store-code")
    assert response.status_code == 200, response.text
    (code,) = [b["barcode"] for b in response.json()["barcodes"]]
    # 21... is the default scale rule's prefix; 20 is free.
    assert code.startswith("20") and len(code) == 13
    # Asked again (a retry), the product keeps its one code.
    again = shop.admin.post(f"/products/{bulk['id']}/store-code").json()
    assert [b["barcode"] for b in again["barcodes"]] == [code]
    assert shop.key("manager").post(f"/products/{bulk['id']}/store-code").status_code == 403
    assert shop.admin.post(f"/products/{uuid.uuid4()}/store-code").status_code == 404
