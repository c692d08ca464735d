from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from typing import Any

from stdnum import ean

from makhzan.demo_catalog import DEMO_LBP_RATE, DEMO_LOCATIONS, DEMO_PRODUCTS, DemoBarcode, DemoProduct

ARABIC_LETTER = re.compile(r"[\u0621-\u064A]")
SCALE_BASE = re.compile(r"^21\d{5}00000\d$")
BASE_UNITS = {"piece", "kg", "g", "l", "ml"}


def _barcodes() -> list[tuple[DemoProduct, DemoBarcode]]:
    return [(p, b) for p in DEMO_PRODUCTS for b in p.barcodes]


def _values(obj: Any) -> list[Any]:
    if dataclasses.is_dataclass(obj):
        return [v for f in dataclasses.fields(obj) for v in _values(getattr(obj, f.name))]
    if isinstance(obj, tuple):
        return [v for item in obj for v in _values(item)]
    return [obj]


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def test_locations_and_rate() -> None:
    assert DEMO_LOCATIONS == (("Hamra store", "store"), ("Back warehouse", "warehouse"))
    assert Decimal("89500") == DEMO_LBP_RATE
    assert isinstance(DEMO_LBP_RATE, Decimal)


def test_about_fifty_products_with_unique_skus() -> None:
    assert 45 <= len(DEMO_PRODUCTS) <= 60
    skus = [p.sku for p in DEMO_PRODUCTS]
    assert len(skus) == len(set(skus))


def test_barcodes_are_unique() -> None:
    codes = [b.barcode for _, b in _barcodes()]
    assert len(codes) == len(set(codes))


def test_every_product_has_a_barcode() -> None:
    assert all(p.barcodes for p in DEMO_PRODUCTS)


def test_gs1_barcodes_are_valid_ean13_or_gtin14() -> None:
    for product, b in _barcodes():
        assert b.kind in ("gs1", "internal"), product.sku
        if b.kind != "gs1":
            continue
        assert ean.is_valid(b.barcode), (product.sku, b.barcode)
        assert len(b.barcode) in (13, 14), (product.sku, b.barcode)
        if len(b.barcode) == 14:
            assert b.barcode[0] in "12345678", (product.sku, b.barcode)
            assert b.factor > 1, (product.sku, b.barcode)


def test_some_products_have_case_barcodes() -> None:
    with_case = [p for p in DEMO_PRODUCTS if any(len(b.barcode) == 14 for b in p.barcodes)]
    assert 12 <= len(with_case) <= 20


def test_internal_codes_are_not_numeric_gs1() -> None:
    internal = [b for _, b in _barcodes() if b.kind == "internal"]
    assert internal
    assert all(not b.barcode.isdigit() for b in internal)


def test_weighed_products_carry_one_scale_base_code() -> None:
    weighed = [p for p in DEMO_PRODUCTS if p.base_unit == "kg"]
    assert 6 <= len(weighed) <= 8
    product_codes = []
    for p in weighed:
        assert len(p.barcodes) == 1, p.sku
        (b,) = p.barcodes
        assert SCALE_BASE.match(b.barcode), (p.sku, b.barcode)
        assert ean.is_valid(b.barcode)
        assert (b.factor, b.unit, b.kind) == (Decimal(1), "kg", "gs1")
        product_codes.append(int(b.barcode[2:7]))
    assert sorted(product_codes) == list(range(1, len(weighed) + 1))


def test_only_weighed_products_use_scale_codes() -> None:
    for p, b in _barcodes():
        if b.barcode.startswith("2") and len(b.barcode) == 13:
            assert p.base_unit == "kg", p.sku


def test_arabic_names() -> None:
    for p in DEMO_PRODUCTS:
        assert ARABIC_LETTER.search(p.name_ar), p.sku
        assert p.name.strip() == p.name and p.name_ar.strip() == p.name_ar
    joined = "".join(p.name_ar for p in DEMO_PRODUCTS)
    for letter in "أإآة":  # exercised by search normalisation
        assert letter in joined, letter


def test_base_units() -> None:
    assert {p.base_unit for p in DEMO_PRODUCTS} <= BASE_UNITS


def test_no_floats_and_decimals_are_exact() -> None:
    for p in DEMO_PRODUCTS:
        assert not any(isinstance(v, float) for v in _values(p)), p.sku
        numbers = [p.price, p.low_stock_threshold, *p.opening_stock, *(b.factor for b in p.barcodes)]
        for value in numbers:
            assert isinstance(value, Decimal), p.sku
            assert value.is_finite() and value >= 0, p.sku
            assert _places(value) <= 3, (p.sku, value)
        assert p.price > 0, p.sku
        assert all(b.factor > 0 for b in p.barcodes), p.sku
        assert len(p.opening_stock) == 2


def test_low_stock_report_has_content() -> None:
    store = [p.opening_stock[0] for p in DEMO_PRODUCTS]
    assert any(q == 0 for q in store)
    low = [p for p in DEMO_PRODUCTS if p.opening_stock[0] <= p.low_stock_threshold]
    assert 3 <= len(low) < len(DEMO_PRODUCTS) // 2
