"""GS1 barcode validation and normalisation, and weighed/priced scale labels.

A product's barcodes are stored in one canonical form so that the same trade item scanned as
UPC-A, EAN-13 or GTIN-14 finds the same row: UPC-A and GTIN-14 with indicator digit 0 are
stored as their 13-digit EAN-13. The check digit is always computed by ``stdnum.ean``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from stdnum import ean

from makhzan.errors import InvalidBarcode

_GS1_LENGTHS = (8, 12, 13, 14)
# Internal codes end up in URLs, CSV exports and label printers; this alphabet survives all three.
_INTERNAL = re.compile(r"[A-Za-z0-9._-]{1,32}")
# A pattern is: prefix digits (first digit 2, GS1's range for in-store codes), then the product
# code and the value in either order, then the check digit. Nothing else may appear.
_PATTERN = re.compile(r"(2[0-9]*)(?:P+(?:W+|\$+)|(?:W+|\$+)P+)C")


def _is_ascii_digits(code: str) -> bool:
    # str.isdigit() alone accepts Arabic-Indic and other Unicode digits, which stdnum and the
    # database would treat as different codes from what the scanner sends.
    return code.isascii() and code.isdigit()


def _invalid(raw: str, reason: str, message: str) -> InvalidBarcode:
    return InvalidBarcode(message, {"barcode": raw, "reason": reason})


def _canonical_gs1(code: str) -> str:
    """The stored form of a digits-only GS1 code of a valid length; check digit not looked at."""
    if len(code) == 12:
        # A UPC-A is the EAN-13 with a leading zero; storing that keeps one row per item.
        return "0" + code
    if len(code) == 14 and code.startswith("0"):
        # Indicator digit 0 means the same trade item as the EAN-13 inside, not a case.
        return code[1:]
    return code


def normalize_barcode(raw: str, kind: str = "gs1") -> str:
    """The canonical stored form of a barcode, or ``InvalidBarcode`` saying why it is refused."""
    if not isinstance(raw, str):
        raise InvalidBarcode("A barcode must be text.", {"barcode": str(raw), "reason": "not_text"})
    code = raw.strip()
    if kind == "internal":
        if not _INTERNAL.fullmatch(code):
            raise _invalid(
                raw,
                "bad_internal_code",
                "An internal barcode has 1 to 32 characters among letters, digits, '.', '_' and '-'.",
            )
        return code
    if kind != "gs1":
        raise _invalid(raw, "unknown_kind", f"Unknown barcode kind {kind!r}; use 'gs1' or 'internal'.")
    if not code:
        raise _invalid(raw, "empty", "The barcode is empty.")
    if not _is_ascii_digits(code):
        raise _invalid(raw, "not_digits", "A GS1 barcode has digits only.")
    if len(code) not in _GS1_LENGTHS:
        raise _invalid(raw, "bad_length", "A GS1 barcode has 8, 12, 13 or 14 digits.")
    if not ean.is_valid(code):
        raise _invalid(raw, "bad_check_digit", "The barcode's check digit is wrong.")
    return _canonical_gs1(code)


def lookup_form(raw: str) -> str:
    """What a till scan is looked up as.

    Never raises: a mistyped check digit must still reach the lookup so that the scan path can
    tell "wrong check digit, scan again" from "unknown product".
    """
    code = raw.strip()
    if _is_ascii_digits(code) and (len(code) == 12 or (len(code) == 14 and code.startswith("0"))):
        return _canonical_gs1(code)
    return code


def is_gs1_valid(code: str) -> bool:
    """Whether ``code`` is, as given, a GS1 code of a known length with a correct check digit."""
    # The explicit checks first: stdnum's compact() would quietly accept spaces and dashes.
    return _is_ascii_digits(code) and len(code) in _GS1_LENGTHS and ean.is_valid(code)


# --- weighed and priced labels ----------------------------------------------------------------


@dataclass(frozen=True)
class WeighedRule:
    """How a scale label is laid out, e.g. ``21PPPPPWWWWWC``.

    Leading digits are the prefix, ``P`` the product code, ``W`` the weight in grams, ``$`` the
    price in hundredths, ``C`` the EAN-13 check digit.
    """

    pattern: str

    def __post_init__(self) -> None:
        # Rules are typed in by shop admins; refuse a bad one when saved, not at the till.
        if not isinstance(self.pattern, str) or len(self.pattern) != 13:
            raise ValueError("A barcode rule pattern has exactly 13 characters, e.g. 21PPPPPWWWWWC.")
        if not _PATTERN.fullmatch(self.pattern):
            raise ValueError(
                "A barcode rule pattern is prefix digits starting with 2, one run of P, one run of W "
                "(weight) or $ (price), and a final C, e.g. 21PPPPPWWWWWC."
            )

    @property
    def prefix(self) -> str:
        match = _PATTERN.fullmatch(self.pattern)
        assert match is not None  # checked in __post_init__
        return match.group(1)

    @property
    def value_kind(self) -> str:
        return "weight" if "W" in self.pattern else "price"


def _value_span(rule: WeighedRule) -> tuple[int, int]:
    """Where the weight or price digits sit in a label of this rule (one contiguous run)."""
    symbol = "W" if rule.value_kind == "weight" else "$"
    return rule.pattern.index(symbol), rule.pattern.rindex(symbol) + 1


DEFAULT_RULES = (WeighedRule("21PPPPPWWWWWC"),)


@dataclass(frozen=True)
class WeighedScan:
    """A decoded scale label: the product's base barcode and the weight (kg) or price it carries."""

    base_barcode: str
    value_kind: str
    value: Decimal


def decode_weighed(code: str, rules: Iterable[WeighedRule]) -> WeighedScan | None:
    """The product and value a scale label stands for, or None when no rule applies.

    A zero value is returned as is; refusing it is the caller's business, with its own message.
    """
    if not (_is_ascii_digits(code) and len(code) == 13 and ean.is_valid(code)):
        return None
    matching = [rule for rule in rules if code.startswith(rule.prefix)]
    if not matching:
        return None
    # Longest prefix wins so that a shop can have "2" for everything and "21" for one scale.
    # On equal prefixes max() keeps the first, i.e. the caller's order decides.
    rule = max(matching, key=lambda r: len(r.prefix))
    start, end = _value_span(rule)
    digits = code[start:end]
    # The base barcode is what the product was registered under: the label with a zero value.
    body = code[:start] + "0" * (end - start) + code[end:12]
    base = body + ean.calc_check_digit(body)
    places = 3 if rule.value_kind == "weight" else 2
    # scaleb only moves the exponent, so 02750 becomes exactly 2.750, never through float.
    value = Decimal(digits).scaleb(-places)
    return WeighedScan(base, rule.value_kind, value)
