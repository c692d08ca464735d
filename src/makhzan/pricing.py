"""What a scanned code stands for, and how a sale line of it is priced.

Pure arithmetic, shared by the central server (online and synced sales) and the terminal agent
(sales made offline), so that a till without its link charges to the coin what central would:
the unit price converted to the sale's currency at the LBP rate, the line total rounded to the
currency's smallest coin.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from makhzan import errors, units
from makhzan.barcodes import is_gs1_valid

# The smallest coin a line total is rounded to, per currency.
CURRENCY_QUANTUM = {"USD": Decimal("0.01"), "LBP": Decimal("1")}


@dataclass(frozen=True)
class ScannedItem:
    """What one scan of a code stands for."""

    barcode: str
    unit: str
    factor: Decimal
    # Base units of the product that one scan adds: the factor, or the weight on a scale label.
    quantity: Decimal
    product: dict[str, Any]
    # A priced scale label fixes the line's amount (in the product's currency).
    amount: Decimal | None = None


_GS1_LENGTHS = (8, 12, 13, 14)


def scanned(row: dict[str, Any], code: str, quantity: Decimal, amount: Decimal | None = None,
            *, include_inactive: bool = False) -> ScannedItem:
    """A code found on a product (a row with the product's fields and the code's unit and factor)."""
    if not row["active"] and not include_inactive:
        raise errors.ProductInactive(
            "This product is no longer sold.", {"barcode": code, "product_id": str(row["product_id"])}
        )
    return ScannedItem(barcode=code, unit=row["unit"], factor=row["factor"], quantity=quantity,
                       product=row, amount=amount)


def scanned_label(row: dict[str, Any], code: str, value_kind: str, value: Decimal, *,
                  include_inactive: bool = False) -> ScannedItem:
    """A scale label decoded to its product's base code (``row``) and a weight or a price."""
    if value <= 0:
        raise errors.InvalidBarcode("The scale label carries no weight or price.", {"barcode": code})
    if value_kind == "weight":
        if row["base_unit"] not in ("kg", "g"):
            raise errors.InvalidBarcode(
                "A weight label was scanned for a product not sold by weight.", {"barcode": code}
            )
        return scanned(row, code, units.convert(value, "kg", row["base_unit"]), include_inactive=include_inactive)
    # A priced label: the amount is fixed; the quantity is what that amount buys.
    if row["price"] <= 0:
        raise errors.InvalidBarcode("A priced label was scanned for a product without a price.", {"barcode": code})
    quantity = (value / row["price"]).quantize(units.QUANTUM)
    return scanned(row, code, max(quantity, units.QUANTUM), amount=value, include_inactive=include_inactive)


def unknown_code(code: str) -> errors.MakhzanError:
    """The error for a code no product has: a misread check digit, or simply unknown."""
    if code.isdigit() and len(code) in _GS1_LENGTHS and not is_gs1_valid(code):
        return errors.InvalidBarcode("The barcode's check digit is wrong; scan it again.", {"barcode": code})
    return errors.UnknownBarcode("No product has this barcode.", {"barcode": code})


def convert_money(amount: Decimal, from_currency: str, to_currency: str, lbp_rate: Decimal) -> Decimal:
    """USD <-> LBP at the tenant's rate (LBP per USD); exact Decimal arithmetic."""
    if from_currency == to_currency:
        return amount
    if from_currency == "USD" and to_currency == "LBP":
        return amount * lbp_rate
    if from_currency == "LBP" and to_currency == "USD":
        return amount / lbp_rate
    raise errors.InvalidInput("Unsupported currency.", {"currency": to_currency})


def price_line(
    requested: Decimal | None, item: ScannedItem, currency: str, rate: Decimal, *, by_barcode: bool
) -> tuple[Decimal, Decimal, Decimal]:
    """(quantity in base units, unit price, line total) in the sale's currency."""
    if by_barcode:
        scans = requested if requested is not None else Decimal(1)
        quantity = item.quantity * scans
    else:
        assert requested is not None
        scans, quantity = Decimal(1), requested
    if quantity != quantity.quantize(units.QUANTUM) or quantity >= units.MAX_QUANTITY:
        raise errors.InvalidQuantity(
            "The line's quantity in base units must have at most 3 decimals and be in range.",
            {"barcode": item.barcode, "quantity": format(quantity, "f")},
        )
    product = item.product
    unit_price = convert_money(product["price"], product["currency"], currency, rate).quantize(units.QUANTUM)
    if item.amount is not None:
        raw_total = convert_money(item.amount * scans, product["currency"], currency, rate)
    else:
        raw_total = quantity * unit_price
    return quantity.quantize(units.QUANTUM), unit_price, round_line_total(raw_total, currency)


def round_line_total(amount: Decimal, currency: str) -> Decimal:
    """Rounded to the currency's smallest coin, written with three decimals like every amount."""
    return amount.quantize(CURRENCY_QUANTUM[currency], rounding=ROUND_HALF_UP).quantize(units.QUANTUM)
