from __future__ import annotations

import decimal
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from makhzan.errors import InvalidInput, InvalidQuantity
from makhzan.units import (
    BASE_UNITS,
    MAX_QUANTITY,
    QUANTUM,
    convert,
    format_decimal,
    parse_money,
    parse_quantity,
)


def test_constants() -> None:
    assert BASE_UNITS == ("piece", "kg", "g", "l", "ml")
    assert Decimal("0.001") == QUANTUM
    assert Decimal("1000000000") == MAX_QUANTITY


# --- parse_quantity -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2", "2.000"),
        ("0.375", "0.375"),
        ("2.5000", "2.500"),  # trailing zeros are not extra decimals
        (" 1.5 ", "1.500"),
        ("+3", "3.000"),
        (".5", "0.500"),
        ("5.", "5.000"),
        ("1E+3", "1000.000"),  # str() of a Decimal parsed from JSON 1e3
        ("2.5e-1", "0.250"),
        (7, "7.000"),
        (Decimal("2.5"), "2.500"),
        (Decimal("0.001"), "0.001"),
        (Decimal("1E+2"), "100.000"),
        (Decimal("999999999.999"), "999999999.999"),
        ("999999999.999", "999999999.999"),
    ],
)
def test_parse_quantity_accepts(value: object, expected: str) -> None:
    result = parse_quantity(value)
    assert isinstance(result, Decimal)
    assert str(result) == expected


@pytest.mark.parametrize(
    "value",
    [
        2.5,  # float, even an exact one
        1.0,
        float("nan"),
        True,
        False,
        None,
        "",
        " ",
        "abc",
        "1,5",
        "1_000",  # Decimal() would take it
        "٢",  # Arabic-Indic digit, Decimal() would take it
        "0x10",
        "NaN",
        "sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        "2.5001",
        Decimal("2.5001"),
        "0.0001",
        "1.0000000000000000000000000000001",  # more digits than the default context keeps
        "1e-999999",
        "0",
        "0.000",
        Decimal("0"),
        0,
        "-0",
        "-1",
        -1,
        Decimal("-0.5"),
        "1000000000",
        Decimal("1000000000.000"),
        MAX_QUANTITY,
        10**9,
        pytest.param(10**5000, id="int-too-long-for-str"),  # str() of it raises; still a clean refusal
        "1e999999999",
        "1" * 41,
        "0" * 39 + "01",
        [1],
        {"q": 1},
        b"1",
    ],
)
def test_parse_quantity_refuses(value: object) -> None:
    with pytest.raises(InvalidQuantity) as info:
        parse_quantity(value, field="qty")
    assert info.value.details["field"] == "qty"
    shown = info.value.details["value"]
    assert isinstance(shown, str) and len(shown) <= 40
    assert info.value.status == 422


def test_refusal_details_echo_the_value() -> None:
    with pytest.raises(InvalidQuantity) as info:
        parse_quantity("2.5001")
    assert info.value.details == {"field": "quantity", "value": "2.5001"}


def test_float_refused_whatever_the_flags() -> None:
    for allow_zero in (False, True):
        for allow_negative in (False, True):
            with pytest.raises(InvalidQuantity):
                parse_quantity(0.5, allow_zero=allow_zero, allow_negative=allow_negative)
    with pytest.raises(InvalidQuantity):
        parse_money(0.5)


def test_zero_and_negative_flags() -> None:
    assert str(parse_quantity("0", allow_zero=True)) == "0.000"
    assert str(parse_quantity("-0", allow_zero=True)) == "0.000"  # never a negative zero
    assert str(parse_quantity(Decimal("-0.000"), allow_zero=True)) == "0.000"
    assert str(parse_quantity("-1.5", allow_negative=True)) == "-1.500"
    assert str(parse_quantity(-2, allow_negative=True)) == "-2.000"
    with pytest.raises(InvalidQuantity):
        parse_quantity("0", allow_negative=True)
    with pytest.raises(InvalidQuantity):
        parse_quantity("-1", allow_zero=True)
    with pytest.raises(InvalidQuantity):
        parse_quantity("-1000000000", allow_negative=True)
    assert str(parse_quantity("-999999999.999", allow_negative=True)) == "-999999999.999"


def test_json_parsed_with_decimal() -> None:
    body = json.loads('{"q": 0.375, "n": 3, "big": 1e3}', parse_float=Decimal)
    assert parse_quantity(body["q"]) == Decimal("0.375")
    assert parse_quantity(body["n"]) == Decimal("3")
    assert parse_quantity(body["big"]) == Decimal("1000")


def test_own_context_ignores_a_lowered_thread_precision() -> None:
    with decimal.localcontext() as ctx:
        ctx.prec = 3
        assert str(parse_quantity("123456.789")) == "123456.789"
        assert str(convert(Decimal("123456.789"), "kg", "g")) == "123456789.000"


quantities = st.decimals(min_value=Decimal("-999999999.999"), max_value=Decimal("999999999.999"), places=3)
any_decimals = st.decimals(allow_nan=True, allow_infinity=True)


@given(quantities)
def test_parse_quantity_keeps_three_decimal_values(value: Decimal) -> None:
    if value == 0:
        return
    result = parse_quantity(str(value), allow_negative=True)
    assert result == value
    assert result.as_tuple().exponent == -3


@given(st.one_of(any_decimals, any_decimals.map(str), st.integers(), st.text(max_size=45)))
def test_parse_quantity_never_returns_more_than_three_decimals(value: object) -> None:
    try:
        result = parse_quantity(value, allow_zero=True, allow_negative=True)
    except InvalidQuantity:
        return
    assert result.is_finite()
    assert result.as_tuple().exponent == -3
    assert abs(result) < MAX_QUANTITY
    # Never rounded: what came in is exactly what comes out.
    assert result == Decimal(str(value).strip())


@given(st.floats())
def test_parse_quantity_never_accepts_float(value: float) -> None:
    with pytest.raises(InvalidQuantity):
        parse_quantity(value, allow_zero=True, allow_negative=True)


# --- parse_money --------------------------------------------------------------------------------


def test_parse_money() -> None:
    assert str(parse_money("0")) == "0.000"
    assert str(parse_money("12.5")) == "12.500"
    assert str(parse_money(Decimal("89500"))) == "89500.000"  # an LBP price
    for bad in ("-0.01", 1.5, "12.3456", "NaN", True, None, "1000000000"):
        with pytest.raises(InvalidQuantity) as info:
            parse_money(bad)
        assert info.value.details["field"] == "price"
    with pytest.raises(InvalidQuantity) as info:
        parse_money("-1", field="amount")
    assert info.value.details["field"] == "amount"


# --- convert ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "from_unit", "to_unit", "expected"),
    [
        ("2.750", "kg", "g", "2750.000"),
        ("2750", "g", "kg", "2.750"),
        ("1", "g", "kg", "0.001"),
        ("0.375", "l", "ml", "375.000"),
        ("1500", "ml", "l", "1.500"),
        ("3", "piece", "piece", "3.000"),
        ("2.5", "kg", "kg", "2.500"),
        ("0.5", "g", "kg", "0.000"),  # half-even: 0.0005 -> 0.000
        ("1.5", "g", "kg", "0.002"),  # half-even: 0.0015 -> 0.002
        ("2.5", "g", "kg", "0.002"),  # half-even: 0.0025 -> 0.002
        ("-250", "g", "kg", "-0.250"),
        ("-0.4", "g", "kg", "0.000"),  # no negative zero
    ],
)
def test_convert(quantity: str, from_unit: str, to_unit: str, expected: str) -> None:
    assert str(convert(Decimal(quantity), from_unit, to_unit)) == expected


@pytest.mark.parametrize(
    ("from_unit", "to_unit"),
    [
        ("kg", "l"), ("g", "ml"), ("piece", "kg"), ("kg", "piece"), ("l", "g"),
        ("box", "box"), ("kg", "lb"), ("", ""), ("KG", "g"),
    ],
)
def test_convert_refuses_other_pairs(from_unit: str, to_unit: str) -> None:
    with pytest.raises(InvalidInput):
        convert(Decimal("1"), from_unit, to_unit)


@pytest.mark.parametrize(
    "quantity", [1.5, Decimal("NaN"), Decimal("Infinity"), Decimal("sNaN"), "1", 1, Decimal("1E+999999999")]
)
def test_convert_refuses_non_decimal(quantity: object) -> None:
    with pytest.raises(InvalidQuantity):
        convert(quantity, "kg", "g")  # type: ignore[arg-type]


@given(quantities, st.sampled_from([("kg", "g"), ("l", "ml")]))
def test_convert_round_trips(value: Decimal, units: tuple[str, str]) -> None:
    big, small = units
    there = convert(value, big, small)
    assert there == value * 1000
    assert convert(there, small, big) == value


# --- format_decimal -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("2.75"), "2.750"),
        (Decimal("0"), "0.000"),
        (Decimal("-0"), "0.000"),
        (Decimal("-0.0001"), "0.000"),
        (Decimal("-1.5"), "-1.500"),
        (Decimal("1E+3"), "1000.000"),
        (Decimal("1E-3"), "0.001"),
        (Decimal("2.0005"), "2.000"),
        (Decimal("999999999.999"), "999999999.999"),
    ],
)
def test_format_decimal(value: Decimal, expected: str) -> None:
    assert format_decimal(value) == expected


@given(quantities)
def test_format_decimal_parses_back(value: Decimal) -> None:
    text = format_decimal(value)
    assert "E" not in text and "e" not in text
    assert len(text.split(".")[1]) == 3
    assert Decimal(text) == value
