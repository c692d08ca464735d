"""The shapes of API requests, validated before any transaction starts.

Quantities and money arrive as JSON strings or numbers; the API parses JSON numbers into
``Decimal`` from their text (never through float) and these types check them exactly.
Unknown fields are refused, so a typo in a field name never silently does nothing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from makhzan import errors, units


def _quantity(value: Any) -> Decimal:
    return _checked(units.parse_quantity, value)


def _count(value: Any) -> Decimal:
    return _checked(lambda v: units.parse_quantity(v, allow_zero=True), value)


def _delta(value: Any) -> Decimal:
    return _checked(lambda v: units.parse_quantity(v, allow_negative=True), value)


def _money(value: Any) -> Decimal:
    return _checked(units.parse_money, value)


def _checked(parse: Any, value: Any) -> Decimal:
    try:
        result: Decimal = parse(value)
    except errors.MakhzanError as exc:
        # Raised as ValueError so pydantic reports it with the field's location.
        raise ValueError(exc.message) from None
    return result


def _storable(value: Any) -> Any:
    # PostgreSQL text cannot hold NUL, and lone surrogates cannot be encoded: refuse both here
    # rather than fail inside the database.
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode") from None
    return value


def _text(value: Any) -> Any:
    value = _storable(value)
    return value.strip() if isinstance(value, str) else value


_QUANTITY_SCHEMA = {"anyOf": [{"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}, {"type": "number"}]}
Quantity = Annotated[Decimal, BeforeValidator(_quantity), Field(json_schema_extra=_QUANTITY_SCHEMA)]
Count = Annotated[Decimal, BeforeValidator(_count), Field(json_schema_extra=_QUANTITY_SCHEMA)]
Delta = Annotated[Decimal, BeforeValidator(_delta), Field(json_schema_extra=_QUANTITY_SCHEMA)]
Money = Annotated[Decimal, BeforeValidator(_money), Field(json_schema_extra=_QUANTITY_SCHEMA)]
Name = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=200)]
ShortText = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=64)]
Currency = Literal["USD", "LBP"]
BaseUnit = Literal["piece", "kg", "g", "l", "ml"]
Role = Literal["admin", "manager", "cashier"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocationIn(Strict):
    id: UUID | None = None
    name: Name
    kind: Literal["store", "warehouse", "kitchen"] = "store"


class KeyIn(Strict):
    name: Name
    role: Role
    location_id: UUID | None = None


class BarcodeIn(Strict):
    barcode: ShortText
    factor: Quantity = Decimal(1)
    unit: Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=32)] = "piece"
    kind: Literal["gs1", "internal"] = "gs1"


class ProductIn(Strict):
    id: UUID | None = None
    sku: ShortText
    name: Name
    name_ar: Name | None = None
    base_unit: BaseUnit = "piece"
    price: Money
    currency: Currency = "USD"
    low_stock_threshold: Money = Decimal(0)
    active: bool = True
    barcodes: list[BarcodeIn] = Field(default_factory=list, max_length=50)


class ProductPatch(Strict):
    sku: ShortText | None = None
    name: Name | None = None
    name_ar: Name | None = None
    base_unit: BaseUnit | None = None
    price: Money | None = None
    currency: Currency | None = None
    low_stock_threshold: Money | None = None
    active: bool | None = None
    # When given, replaces the product's whole set of barcodes.
    barcodes: list[BarcodeIn] | None = Field(default=None, max_length=50)


class ItemRef(Strict):
    """A line names its product by id, or by a barcode whose factor (or weight) applies."""

    barcode: ShortText | None = None
    product_id: UUID | None = None

    @model_validator(mode="after")
    def _one_reference(self) -> ItemRef:
        if (self.barcode is None) == (self.product_id is None):
            raise ValueError("give exactly one of barcode or product_id")
        return self


class SaleLineIn(ItemRef):
    # With a barcode: how many scans (default 1). With a product_id: base units, required.
    quantity: Quantity | None = None

    @model_validator(mode="after")
    def _quantity_for_product(self) -> SaleLineIn:
        if self.product_id is not None and self.quantity is None:
            raise ValueError("a line given by product_id needs a quantity in base units")
        return self


class SaleIn(Strict):
    id: UUID
    location_id: UUID | None = None
    occurred_at: AwareDatetime | None = None
    currency: Currency = "USD"
    lines: list[SaleLineIn] = Field(min_length=1, max_length=500)


class OfflineSaleLineIn(SaleLineIn):
    # The unit price the till charged, per base unit, in the sale's currency. Omitted for a
    # priced scale label (the label carries the amount).
    price: Money | None = None


class OfflineSaleIn(Strict):
    """A sale an offline till already made: it happened, so it is applied whatever the ledger says."""

    id: UUID
    location_id: UUID | None = None
    occurred_at: AwareDatetime
    currency: Currency = "USD"
    # LBP per USD the till used; the tenant's current rate when omitted.
    exchange_rate: Money | None = None
    offline: Literal[True] = True
    # What the till charged in all; the sum of its line totals when omitted.
    total: Money | None = None
    lines: list[OfflineSaleLineIn] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _positive_rate(self) -> OfflineSaleIn:
        if self.exchange_rate is not None and self.exchange_rate <= 0:
            raise ValueError("exchange_rate must be positive")
        return self


class SyncBatchIn(Strict):
    # Each sale is validated on its own (one malformed sale is rejected, the others apply), so
    # the envelope only checks that there is a list.
    sales: list[Any] = Field(min_length=1, max_length=500)


class ConflictResolveIn(Strict):
    """How a manager settles a conflict: a count of the shelf, an adjustment, or accepting it as is."""

    action: Literal["count", "adjustment", "accept"]
    counted: Count | None = None
    delta: Delta | None = None
    reason: Literal["waste", "damage", "theft", "expired", "correction", "other"] = "correction"
    note: Name | None = None

    @model_validator(mode="after")
    def _what_the_action_needs(self) -> ConflictResolveIn:
        if self.action == "count" and self.counted is None:
            raise ValueError("a count needs 'counted'")
        if self.action == "adjustment" and (self.delta is None or self.delta == 0):
            raise ValueError("an adjustment needs a non-zero 'delta'")
        if self.action != "count" and self.counted is not None:
            raise ValueError("'counted' belongs to a count")
        if self.action != "adjustment" and self.delta is not None:
            raise ValueError("'delta' belongs to an adjustment")
        return self


class QuantityLineIn(ItemRef):
    quantity: Quantity


class ReceiptIn(Strict):
    id: UUID
    location_id: UUID | None = None
    supplier: Name | None = None
    occurred_at: AwareDatetime | None = None
    lines: list[QuantityLineIn] = Field(min_length=1, max_length=1000)


class TransferIn(Strict):
    id: UUID
    from_location_id: UUID
    to_location_id: UUID
    occurred_at: AwareDatetime | None = None
    lines: list[QuantityLineIn] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _two_places(self) -> TransferIn:
        if self.from_location_id == self.to_location_id:
            raise ValueError("from_location_id and to_location_id must differ")
        return self


class AdjustmentLineIn(ItemRef):
    delta: Delta


class AdjustmentIn(Strict):
    id: UUID
    location_id: UUID | None = None
    reason: Literal["waste", "damage", "theft", "expired", "correction", "other"]
    note: Name | None = None
    occurred_at: AwareDatetime | None = None
    lines: list[AdjustmentLineIn] = Field(min_length=1, max_length=1000)


class CountLineIn(ItemRef):
    counted: Count


class CountIn(Strict):
    id: UUID
    location_id: UUID | None = None
    occurred_at: AwareDatetime | None = None
    lines: list[CountLineIn] = Field(min_length=1, max_length=1000)


class RateIn(Strict):
    lbp_rate: Money


class BarcodeRuleIn(Strict):
    # The prefix is 2 and one to five digits, as the barcode_rules table requires.
    pattern: Annotated[str, Field(pattern=r"^2[0-9]{1,5}P+(W+|\$+)C$", min_length=13, max_length=13)]


def occurred(at: datetime | None, now: datetime) -> datetime:
    """When it happened: as the client says, else when the server got it."""
    return at if at is not None else now


def _webhook_url(value: Any) -> Any:
    # An absolute http(s) URL in printable ASCII (percent-encode anything else), with a host.
    if not isinstance(value, str):
        return value
    if len(value) > 2000 or not all(33 <= ord(ch) < 127 for ch in value):
        raise ValueError("must be an http or https URL of printable ASCII, at most 2000 characters")
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 -- raises on a malformed port
    except ValueError:
        raise ValueError("has an invalid port") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http or https URL")
    return parts.scheme.lower() + value[len(parts.scheme):]


WebhookEvent = Literal["low_stock", "daily_report"]


class WebhookIn(Strict):
    url: Annotated[str, BeforeValidator(_webhook_url), Field(max_length=2000, pattern=r"^[hH][tT][tT][pP][sS]?://")]
    # The HMAC key of every delivery's X-Makhzan-Signature; never sent back.
    secret: Annotated[str, BeforeValidator(_storable), Field(min_length=16, max_length=200)]
    events: list[WebhookEvent] = Field(min_length=1, max_length=10)

    @model_validator(mode="after")
    def _distinct_events(self) -> WebhookIn:
        self.events = list(dict.fromkeys(self.events))
        return self
