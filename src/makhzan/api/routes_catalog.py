"""Products and the till's scan."""

from __future__ import annotations

import re
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from makhzan import catalog, errors, tenancy
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


_SCAN_CODE = re.compile(r"[A-Za-z0-9._\- ]{1,64}")
_SCAN_PARAMETERS = [
    {"name": "barcode", "in": "path", "required": True,
     "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z0-9._\- ]+$"}},
    {"name": "location_id", "in": "query", "required": False,
     "description": "Defaults to the key's own location.", "schema": {"type": "string", "format": "uuid"}},
]


# The till's hot path: parameters are read by hand rather than through FastAPI's dependency
# injection, which costs more CPU than the database lookup itself (see bench/README.md).
@router.get("/scan/{barcode}", openapi_extra={"parameters": _SCAN_PARAMETERS})
async def scan(request: Request) -> JSONResponse:
    """What a scanned code is: product, unit, the quantity one scan stands for, live stock."""
    who = await authenticated(request)
    barcode = request.path_params["barcode"]
    if not _SCAN_CODE.fullmatch(barcode):
        raise errors.InvalidBarcode("A barcode is 1 to 64 letters, digits, '.', '_' or '-'.", {"barcode": barcode[:64]})
    location = who.location(_optional_uuid(request.query_params.get("location_id"), "location_id"))
    return respond(await read(request, who, lambda conn: catalog.scan(conn, who.tenant_id, barcode, location)))


def _optional_uuid(value: str | None, field: str) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise errors.InvalidInput(f"{field} must be a UUID.", {"field": field}) from None
