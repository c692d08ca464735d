from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import ean

from makhzan.barcodes import (
    DEFAULT_RULES,
    WeighedRule,
    WeighedScan,
    decode_weighed,
    is_gs1_valid,
    lookup_form,
    normalize_barcode,
)
from makhzan.errors import InvalidBarcode


def with_check(body: str) -> str:
    return body + ean.calc_check_digit(body)


def wrong_check(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


def reason_of(raw: str, kind: str = "gs1") -> str:
    with pytest.raises(InvalidBarcode) as info:
        normalize_barcode(raw, kind)
    assert info.value.details["barcode"] == raw
    return str(info.value.details["reason"])


# --- normalize_barcode --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("5449000000996", "5449000000996"),  # EAN-13
        ("96385074", "96385074"),  # EAN-8
        ("036000291452", "0036000291452"),  # UPC-A becomes its EAN-13
        ("15449000000993", "15449000000993"),  # GTIN-14 of a case stays 14
        ("05449000000996", "5449000000996"),  # GTIN-14 with indicator 0 is the EAN-13 item
        ("00036000291452", "0036000291452"),  # the UPC-A as GTIN-14
        ("  5449000000996\n", "5449000000996"),
        ("\t036000291452 ", "0036000291452"),
    ],
)
def test_normalize_gs1_valid(raw: str, expected: str) -> None:
    assert normalize_barcode(raw) == expected
    assert normalize_barcode(raw, "gs1") == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("5449000000997", "bad_check_digit"),
        ("96385075", "bad_check_digit"),
        ("036000291453", "bad_check_digit"),
        ("15449000000994", "bad_check_digit"),
        ("05449000000997", "bad_check_digit"),
        ("", "empty"),
        ("   ", "empty"),
        ("544900000099", "bad_check_digit"),  # 12 digits, so judged as UPC-A
        ("1234567", "bad_length"),
        ("123456789", "bad_length"),
        ("12345678901", "bad_length"),
        ("123456789012345", "bad_length"),
        ("5449-000000996", "not_digits"),  # stdnum would strip the dash; we must not
        ("5449 000000996", "not_digits"),
        ("544900000099X", "not_digits"),
        ("٥٤٤٩٠٠٠٠٠٠٩٩٦", "not_digits"),  # Arabic-Indic digits are not what scanners send
        ("-5449000000996", "not_digits"),
    ],
)
def test_normalize_gs1_refused(raw: str, reason: str) -> None:
    assert reason_of(raw) == reason


def test_error_is_invalid_barcode_with_status() -> None:
    with pytest.raises(InvalidBarcode) as info:
        normalize_barcode("5449000000997")
    assert info.value.status == 422
    assert info.value.code == "invalid_barcode"
    assert info.value.message


@pytest.mark.parametrize("raw", ["A", "SKU-1", "abc.DEF_12-3", "x" * 32, "0123", "5449000000997"])
def test_normalize_internal_unchanged(raw: str) -> None:
    assert normalize_barcode(raw, "internal") == raw


def test_normalize_internal_strips_whitespace() -> None:
    assert normalize_barcode("  SKU-1 ", "internal") == "SKU-1"


@pytest.mark.parametrize("raw", ["", "  ", "x" * 33, "a b", "a/b", "ñ", "a+b", "١٢٣", "a\nb"])
def test_normalize_internal_refused(raw: str) -> None:
    assert reason_of(raw, "internal") == "bad_internal_code"


@pytest.mark.parametrize("kind", ["", "GS1", "ean", "weighed"])
def test_unknown_kind(kind: str) -> None:
    assert reason_of("5449000000996", kind) == "unknown_kind"


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_any_upc_body_validates_and_normalises_idempotently(body: str) -> None:
    code = with_check(body)
    assert is_gs1_valid(code)
    normal = normalize_barcode(code)
    assert normal == "0" + code
    assert is_gs1_valid(normal)
    assert normalize_barcode(normal) == normal
    assert lookup_form(code) == normal


@given(st.sampled_from([7, 12, 13]).flatmap(lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)))
def test_normalisation_is_idempotent_for_all_lengths(body: str) -> None:
    code = with_check(body)
    normal = normalize_barcode(code)
    assert normalize_barcode(normal) == normal
    assert lookup_form(normal) == normal
    assert len(normal) in (8, 13, 14)


@given(st.text(alphabet="0123456789", min_size=12, max_size=12), st.integers(1, 9))
def test_any_wrong_check_digit_is_refused(body: str, delta: int) -> None:
    code = body + str((int(ean.calc_check_digit(body)) + delta) % 10)
    assert not is_gs1_valid(code)
    assert reason_of(code) == "bad_check_digit"


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_gtin14_with_indicator_zero_is_the_ean13(body: str) -> None:
    ean13 = with_check(body)
    assert normalize_barcode("0" + ean13) == ean13


# --- lookup_form and is_gs1_valid ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("036000291452", "0036000291452"),
        ("036000291453", "0036000291453"),  # bad check digit: still normalised, not raised
        ("05449000000996", "5449000000996"),
        ("05449000000997", "5449000000997"),
        ("15449000000993", "15449000000993"),
        ("5449000000996", "5449000000996"),
        ("  5449000000997 ", "5449000000997"),
        (" SKU-1 ", "SKU-1"),
        ("96385074", "96385074"),
        ("٠٣٦٠٠٠٢٩١٤٥٢", "٠٣٦٠٠٠٢٩١٤٥٢"),
        ("", ""),
    ],
)
def test_lookup_form(raw: str, expected: str) -> None:
    assert lookup_form(raw) == expected


@pytest.mark.parametrize(
    "code", ["5449000000996", "96385074", "036000291452", "15449000000993", "0036000291452"]
)
def test_is_gs1_valid_true(code: str) -> None:
    assert is_gs1_valid(code)


@pytest.mark.parametrize(
    "code",
    ["5449000000997", "96385075", "", "1234567", "123456789", "5449-000000996", " 5449000000996", "SKU-1",
     "٥٤٤٩٠٠٠٠٠٠٩٩٦", "123456789012345"],
)
def test_is_gs1_valid_false(code: str) -> None:
    assert not is_gs1_valid(code)


# --- weighed rules ------------------------------------------------------------------------------


def test_default_rule() -> None:
    (rule,) = DEFAULT_RULES
    assert rule.pattern == "21PPPPPWWWWWC"
    assert rule.prefix == "21"
    assert rule.value_kind == "weight"


@pytest.mark.parametrize(
    ("pattern", "prefix", "kind"),
    [
        ("21PPPPPWWWWWC", "21", "weight"),
        ("2PPPPPP$$$$$C", "2", "price"),
        ("28PPPP$$$$$$C", "28", "price"),
        ("290PPPPWWWWWC", "290", "weight"),
        ("22WWWWWPPPPPC", "22", "weight"),
    ],
)
def test_rule_properties(pattern: str, prefix: str, kind: str) -> None:
    rule = WeighedRule(pattern)
    assert rule.prefix == prefix
    assert rule.value_kind == kind


@pytest.mark.parametrize(
    "pattern",
    [
        "",
        "21PPPPPWWWWW",  # 12 characters
        "21PPPPPWWWWWCC",  # 14
        "31PPPPPWWWWWC",  # not the in-store range
        "PPPPPPPWWWWWC",  # no prefix
        "21PPPPPWWWWW0",  # no check digit
        "21PPWWWPPWWWC",  # two runs
        "21PPPPP$$WWWC",  # both weight and price
        "21PPPPPPPPPPC",  # no value
        "21WWWWWWWWWWC",  # no product code
        "21PP1PPWWWWWC",  # digit after the prefix
        "21pppppwwwwwC",  # lower case
        "21PPPPPXWWWWC",  # unknown symbol
        "21PPPPPWWWWCW",  # C not last
        "٢١PPPPPWWWWWC",  # Arabic-Indic digits
    ],
)
def test_rule_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        WeighedRule(pattern)


def test_rule_is_frozen() -> None:
    rule = WeighedRule("21PPPPPWWWWWC")
    with pytest.raises(AttributeError):
        rule.pattern = "22PPPPPWWWWWC"  # type: ignore[misc]


# --- decode_weighed -----------------------------------------------------------------------------


EXAMPLE = WeighedScan("2100001000004", "weight", Decimal("2.750"))


def test_decode_documented_example() -> None:
    assert decode_weighed("2100001027506", DEFAULT_RULES) == EXAMPLE


def test_decode_value_has_three_decimals() -> None:
    scan = decode_weighed("2100001027506", DEFAULT_RULES)
    assert scan is not None
    assert str(scan.value) == "2.750"
    assert isinstance(scan.value, Decimal)


def test_decode_price() -> None:
    rules = [WeighedRule("22PPPPP$$$$$C")]
    code = with_check("220000701234")
    scan = decode_weighed(code, rules)
    assert scan == WeighedScan(with_check("220000700000"), "price", Decimal("12.34"))
    assert scan is not None and str(scan.value) == "12.34"


def test_decode_value_before_product_code() -> None:
    rules = [WeighedRule("22WWWWWPPPPPC")]
    scan = decode_weighed(with_check("220150012345"), rules)
    assert scan == WeighedScan(with_check("220000012345"), "weight", Decimal("1.500"))


def test_decode_zero_value_is_returned_for_the_caller_to_refuse() -> None:
    scan = decode_weighed(with_check("210000100000"), DEFAULT_RULES)
    assert scan is not None
    assert scan.value == 0
    assert scan.base_barcode == with_check("210000100000")


def test_longest_prefix_wins_whatever_the_order() -> None:
    broad = WeighedRule("2PPPPPP$$$$$C")
    narrow = WeighedRule("21PPPPPWWWWWC")
    for rules in ([broad, narrow], [narrow, broad]):
        assert decode_weighed("2100001027506", rules) == EXAMPLE
    # A code outside the narrow prefix falls back to the broad rule.
    code = with_check("230000101999")
    expected = WeighedScan(with_check("230000100000"), "price", Decimal("19.99"))
    assert decode_weighed(code, [narrow, broad]) == expected


@pytest.mark.parametrize(
    "code",
    [
        "2100001027507",  # bad check digit
        "2200001027503",  # no rule for prefix 22
        "5449000000996",  # an ordinary EAN-13
        "210000102750",  # 12 digits
        "96385074",
        "SKU-1",
        "",
        " 2100001027506",
    ],
)
def test_decode_none(code: str) -> None:
    assert decode_weighed(code, DEFAULT_RULES) is None


def test_decode_no_rules() -> None:
    assert decode_weighed("2100001027506", []) is None


def test_decode_accepts_any_iterable() -> None:
    assert decode_weighed("2100001027506", iter(DEFAULT_RULES)) is not None


@given(st.integers(0, 99999), st.integers(0, 99999))
def test_decode_round_trips_weights(product: int, grams: int) -> None:
    code = with_check(f"21{product:05d}{grams:05d}")
    scan = decode_weighed(code, DEFAULT_RULES)
    assert scan is not None
    assert scan.value_kind == "weight"
    assert scan.value == Decimal(grams) / 1000
    assert scan.value.as_tuple().exponent == -3
    assert scan.base_barcode == with_check(f"21{product:05d}00000")
    assert is_gs1_valid(scan.base_barcode)
    # Every label of the same product decodes to the same base barcode.
    base = decode_weighed(scan.base_barcode, DEFAULT_RULES)
    assert base == WeighedScan(scan.base_barcode, "weight", Decimal("0.000"))


@given(st.integers(1, 99999))
def test_decode_round_trips_weights_of_product_one(grams: int) -> None:
    code = with_check(f"2100001{grams:05d}")
    expected = WeighedScan("2100001000004", "weight", Decimal(grams).scaleb(-3))
    assert decode_weighed(code, DEFAULT_RULES) == expected


@given(st.integers(0, 9999), st.integers(0, 999999))
def test_decode_round_trips_prices(product: int, hundredths: int) -> None:
    rules = [WeighedRule("28PPPP$$$$$$C")]
    scan = decode_weighed(with_check(f"28{product:04d}{hundredths:06d}"), rules)
    assert scan is not None
    assert scan.value_kind == "price"
    assert scan.value == Decimal(hundredths) / 100
    assert scan.value.as_tuple().exponent == -2
    assert scan.base_barcode == with_check(f"28{product:04d}000000")
