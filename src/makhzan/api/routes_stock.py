"""Sales and stock documents (receipts, transfers, adjustments, counts), levels and ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from makhzan import inventory, tenancy
from makhzan.api.json import DecimalRoute, JSONResponse, respond
from makhzan.api.state import authenticated, transact
from makhzan.models import AdjustmentIn, CountIn, ReceiptIn, SaleIn, TransferIn

router = APIRouter(route_class=DecimalRoute, tags=["stock"])
Who = tenancy.Principal


def _created(result: tuple[dict[str, object], bool]) -> JSONResponse:
    """201 for a new record, 200 for a replay of one already recorded."""
    document, created = result
    return respond(document, 201 if created else 200)


@router.post("/sales", status_code=201)
async def create_sale(body: SaleIn, request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    location = who.location(body.location_id)
    now = datetime.now(UTC)
    return _created(await transact(request, who, lambda conn: inventory.sell(
        conn, who.tenant_id, key_id=who.key_id, location_id=location, sale=body, now=now)))


@router.get("/sales/{sale_id}")
async def get_sale(sale_id: UUID, request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    sale = await transact(request, who, lambda conn: inventory.get_sale(conn, who.tenant_id, sale_id))
    who.check_location(sale["location_id"])
    return respond(sale)


@router.post("/receipts", status_code=201)
async def create_receipt(body: ReceiptIn, request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    who.require("manager")
    location = who.location(body.location_id)
    now = datetime.now(UTC)
    return _created(await transact(request, who, lambda conn: inventory.receive(
        conn, who.tenant_id, key_id=who.key_id, location_id=location, receipt=body, now=now)))


@router.post("/transfers", status_code=201)
async def create_transfer(body: TransferIn, request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    who.require("manager")
    who.check_location(body.from_location_id)
    now = datetime.now(UTC)
    return _created(await transact(request, who, lambda conn: inventory.transfer(
        conn, who.tenant_id, key_id=who.key_id, request=body, now=now)))


@router.post("/adjustments", status_code=201)
async def create_adjustment(body: AdjustmentIn, request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    who.require("manager")
    location = who.location(body.location_id)
    now = datetime.now(UTC)
    return _created(await transact(request, who, lambda conn: inventory.adjust(
        conn, who.tenant_id, key_id=who.key_id, location_id=location, request=body, now=now)))


@router.post("/counts", status_code=201)
async def create_count(body: CountIn, request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    who.require("manager")
    location = who.location(body.location_id)
    now = datetime.now(UTC)
    return _created(await transact(request, who, lambda conn: inventory.count(
        conn, who.tenant_id, key_id=who.key_id, location_id=location, request=body, now=now)))


@router.get("/stock")
async def list_stock(
    request: Request,
    who: Who = Depends(authenticated),
    location_id: UUID | None = Query(None),
    product_id: UUID | None = Query(None),
    limit: int = Query(200, ge=1, le=1000),
    after_sku: str = Query("", max_length=64, pattern=r"^[^\x00]*$"),  # PostgreSQL text cannot hold NUL
    after_location_id: UUID | None = Query(None),
) -> JSONResponse:
    if who.location_id is not None:
        location_id = who.location(location_id)
    levels = await transact(request, who, lambda conn: inventory.list_stock(
        conn, who.tenant_id, location_id=location_id, product_id=product_id, limit=limit,
        after_sku=after_sku, after_location=after_location_id))
    return respond({"levels": levels})


@router.get("/products/{product_id}/movements")
async def list_movements(
    product_id: UUID,
    request: Request,
    who: Who = Depends(authenticated),
    location_id: UUID | None = Query(None),
    before: int = Query(2**62, ge=1, description="Page: movements with an id below this"),
    limit: int = Query(100, ge=1, le=1000),
) -> JSONResponse:
    """The ledger, newest first; pass ``next_before`` back as ``before`` for the next page."""
    who.require("manager")
    movements = await transact(request, who, lambda conn: inventory.list_movements(
        conn, who.tenant_id, product_id, location_id=location_id, before=before, limit=limit))
    next_before = movements[-1]["movement_id"] if len(movements) == limit else None
    return respond({"movements": movements, "next_before": next_before})
