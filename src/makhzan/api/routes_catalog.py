"""Products and the till's scan."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request

from makhzan import catalog, tenancy
from makhzan.api.json import DecimalRoute, JSONResponse, respond
from makhzan.api.state import authenticated, read, transact
from makhzan.models import ProductIn, ProductPatch

router = APIRouter(route_class=DecimalRoute, tags=["catalog"])
Who = tenancy.Principal


@router.post("/products", status_code=201)
async def create_product(body: ProductIn, request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    who.require("admin")
    product = await transact(request, who, lambda conn: catalog.create_product(conn, who.tenant_id, body))
    return respond(product, 201)


@router.get("/products")
async def list_products(
    request: Request,
    who: Who = Depends(authenticated),
    # PostgreSQL text cannot hold NUL: refused here as bad input rather than failing in the query.
    q: str | None = Query(None, max_length=100, pattern=r"^[^\x00]*$",
                          description="Search sku, names (Arabic-aware) and barcodes"),
    after_sku: str = Query("", max_length=64, pattern=r"^[^\x00]*$",
                           description="Page after this SKU (when not searching)"),
    limit: int = Query(50, ge=1, le=500),
) -> JSONResponse:
    if q is not None and q.strip():
        products = await transact(request, who, lambda conn: catalog.search_products(conn, who.tenant_id, q, limit))
        return respond({"products": products})
    products = await transact(request, who, lambda conn: catalog.list_products(conn, who.tenant_id, after_sku, limit))
    next_after = products[-1]["sku"] if len(products) == limit else None
    return respond({"products": products, "next_after_sku": next_after})


@router.get("/products/{product_id}")
async def get_product(product_id: UUID, request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    return respond(await transact(request, who, lambda conn: catalog.get_product(conn, who.tenant_id, product_id)))


@router.patch("/products/{product_id}")
async def patch_product(
    product_id: UUID, body: ProductPatch, request: Request, who: Who = Depends(authenticated)
) -> JSONResponse:
    who.require("admin")
    product = await transact(request, who, lambda conn: catalog.update_product(conn, who.tenant_id, product_id, body))
    return respond(product)


@router.get("/scan/{barcode}")
async def scan(
    request: Request,
    barcode: str = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._\- ]+$"),
    location_id: UUID | None = Query(None),
    who: Who = Depends(authenticated),
) -> JSONResponse:
    """What a scanned code is: product, unit, the quantity one scan stands for, live stock."""
    location = who.location(location_id)
    return respond(await read(request, who, lambda conn: catalog.scan(conn, who.tenant_id, barcode, location)))
