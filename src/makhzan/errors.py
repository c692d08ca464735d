"""Domain exceptions and the one table that maps them to HTTP responses.

Every exception carries what the client needs to act on it (``details``); the API turns
it into ``{"error": {"code", "message", "details"}}`` in one place (``api/errors.py``).
"""

from __future__ import annotations

from typing import Any


class MakhzanError(Exception):
    """Base of every error a client may see. ``status`` is the HTTP status."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class Unauthorized(MakhzanError):
    status, code = 401, "unauthorized"


class Forbidden(MakhzanError):
    status, code = 403, "forbidden"


class NotFound(MakhzanError):
    status, code = 404, "not_found"


class UnknownBarcode(MakhzanError):
    status, code = 404, "unknown_barcode"


class Conflict(MakhzanError):
    status, code = 409, "conflict"


class BarcodeTaken(MakhzanError):
    status, code = 409, "barcode_taken"


class SkuTaken(MakhzanError):
    status, code = 409, "sku_taken"


class IdempotencyConflict(MakhzanError):
    """The same client id was used before for a different request."""

    status, code = 409, "idempotency_conflict"


class ConflictResolved(MakhzanError):
    """A sync conflict that a manager (or a count) has already settled."""

    status, code = 409, "conflict_resolved"


class InsufficientStock(MakhzanError):
    """Raised when a conditional deduction finds less stock than requested.

    ``lines`` is ``[{"product_id", "location_id", "requested", "available"}]`` so the till
    can say "only 3 left".
    """

    status, code = 409, "insufficient_stock"

    def __init__(self, lines: list[dict[str, Any]]) -> None:
        super().__init__("Not enough stock for one or more lines; nothing was sold.", {"lines": lines})
        self.lines = lines


class InvalidInput(MakhzanError):
    status, code = 422, "invalid_request"


class InvalidBarcode(MakhzanError):
    status, code = 422, "invalid_barcode"


class InvalidQuantity(MakhzanError):
    status, code = 422, "invalid_quantity"


class ProductInactive(MakhzanError):
    status, code = 422, "product_inactive"


class ServiceBusy(MakhzanError):
    """Contention did not clear after the server's own retries; the client may retry later."""

    status, code = 503, "busy"
