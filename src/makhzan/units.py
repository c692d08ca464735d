"""Units, quantities and money: Decimal only, parsed exactly, never through float.

Quantities are stored as NUMERIC(14,3): at most three decimals (a gram of a kilogram, a
millilitre of a litre) and below a billion.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Context, Decimal, DecimalException

from makhzan.errors import InvalidInput, InvalidQuantity

BASE_UNITS = ("piece", "kg", "g", "l", "ml")
QUANTUM = Decimal("0.001")
# Exclusive. The largest NUMERIC(14,3) is 99,999,999,999.999; a hundredfold margin lets stock
# levels and document totals add up many lines without overflowing a column.
MAX_QUANTITY = Decimal("1000000000")
_MAX_TEXT = 40
# Plain decimal notation in ASCII digits. An exponent is allowed because str() of a Decimal
# parsed from JSON such as 1e3 gives "1E+3"; underscores and Unicode digits, which Decimal()
# would also take, are refused so that what the client sees is what was stored.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Our own context, so a caller that lowered the thread's precision cannot make us round silently;
# 50 digits holds any value below MAX_QUANTITY with its decimals many times over.
_CONTEXT = Context(prec=50, rounding=ROUND_HALF_EVEN)
# Conversions that are exact decimal shifts: the power of ten that takes the first unit to the second.
_SHIFTS = {("kg", "g"): 3, ("g", "kg"): -3, ("l", "ml"): 3, ("ml", "l"): -3}


def _shown(value: object) -> str:
    # The value echoed back to the client, bounded; str() of a huge int raises in Python 3.11+.
    try:
        return str(value)[:_MAX_TEXT]
    except ValueError:
        return "<too long>"


def _to_decimal(value: object, field: str) -> Decimal:
    def refuse(message: str) -> InvalidQuantity:
        return InvalidQuantity(message, {"field": field, "value": _shown(value)})

    # bool is an int subclass: True must not become a quantity of 1.
    if isinstance(value, bool) or value is None:
        raise refuse(f"{field} must be a number.")
    if isinstance(value, float):
        # A float has already lost the exact value (0.1 is not 1/10); callers parse JSON with
        # parse_float=Decimal, so a float here is a bug to surface, not a value to round.
        raise refuse(f"{field} must be given as a decimal string or an integer, not a float.")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        if len(value) > _MAX_TEXT:
            raise refuse(f"{field} is too long to be a quantity.")
        text = value.strip()
        if not _NUMBER.fullmatch(text):
            raise refuse(f"{field} must be a number such as 2 or 0.375.")
        number = Decimal(text)
    else:
        raise refuse(f"{field} must be a number.")
    if not number.is_finite():
        raise refuse(f"{field} must be a finite number.")
    return number


def parse_quantity(
    value: object, *, field: str = "quantity", allow_zero: bool = False, allow_negative: bool = False
) -> Decimal:
    """A quantity from a request, exactly, with three decimals; ``InvalidQuantity`` otherwise."""
    number = _to_decimal(value, field)

    def refuse(message: str) -> InvalidQuantity:
        return InvalidQuantity(message, {"field": field, "value": _shown(value)})

    # Checked before quantize, which a huge exponent would make fail; copy_abs, unlike abs(),
    # ignores the context, so 1e999999999 is refused here instead of overflowing.
    if number.copy_abs() >= MAX_QUANTITY:
        raise refuse(f"{field} is too large; the limit is {MAX_QUANTITY:,}.")
    quantized = number.quantize(QUANTUM, context=_CONTEXT)
    # Compared exactly: 2.5000 is 2.500 and fine, 2.5001 would be silently rounded, so refused.
    if quantized != number:
        raise refuse(f"{field} has more than 3 decimals.")
    if number == 0:
        if not allow_zero:
            raise refuse(f"{field} must not be zero.")
        # -0 would be stored and printed as "-0.000".
        return Decimal("0.000")
    if number < 0 and not allow_negative:
        raise refuse(f"{field} must not be negative.")
    return quantized


def parse_money(value: object, *, field: str = "price") -> Decimal:
    """A price or amount: the rules of a quantity, zero allowed (free items), never negative."""
    return parse_quantity(value, field=field, allow_zero=True, allow_negative=False)


def convert(quantity: Decimal, from_unit: str, to_unit: str) -> Decimal:
    """``quantity`` of ``from_unit`` expressed in ``to_unit``, exactly, with three decimals.

    Only conversions that are fixed by the units themselves; case-to-piece factors belong to
    the product's barcodes, not here.
    """
    for unit in (from_unit, to_unit):
        if unit not in BASE_UNITS:
            raise InvalidInput(f"Unknown unit {unit!r}.", {"unit": unit, "units": list(BASE_UNITS)})
    # A float would already be inexact; refuse it rather than convert an approximation.
    if not isinstance(quantity, Decimal) or not quantity.is_finite():
        raise InvalidQuantity("A quantity to convert must be a finite Decimal.", {"value": _shown(quantity)})
    if from_unit == to_unit:
        shift = 0
    elif (from_unit, to_unit) in _SHIFTS:
        shift = _SHIFTS[from_unit, to_unit]
    else:
        raise InvalidInput(
            f"Cannot convert {from_unit} to {to_unit}.", {"from_unit": from_unit, "to_unit": to_unit}
        )
    # scaleb moves the decimal point without rounding; only g->kg of a value with more than
    # 3 decimals (0.5 g) needs rounding, and then half-even so that errors do not drift one way.
    try:
        result = quantity.scaleb(shift, context=_CONTEXT).quantize(QUANTUM, context=_CONTEXT)
    except DecimalException:  # Overflow or InvalidOperation, both about size
        raise InvalidQuantity("The quantity is too large to convert.", {"value": _shown(quantity)}) from None
    # -0.4 g is -0.000 kg after rounding; a negative zero must not reach the ledger.
    return Decimal("0.000") if result == 0 else result


def format_decimal(d: Decimal) -> str:
    """Three decimals, no exponent: what receipts, CSV exports and the API print."""
    if not d.is_finite():
        raise ValueError(f"Cannot format {d!r}.")
    rounded = d.quantize(QUANTUM, context=_CONTEXT)
    if rounded == 0:
        # Never "-0.000" on a receipt, also not for -0.0001 rounded away.
        return "0.000"
    return f"{rounded:f}"
