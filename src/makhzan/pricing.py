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
