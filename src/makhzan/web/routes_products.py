"""Back office: the product list and search, create and edit with barcodes, import, export, labels."""

from __future__ import annotations

from itertools import zip_longest
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from makhzan import catalog, errors, labels, product_import, units
from makhzan.api.routes_products_io import read_upload, transactor
from makhzan.api.state import read, transact
from makhzan.models import ProductIn, ProductPatch
from makhzan.web import auth
from makhzan.web.accounts import SessionUser
from makhzan.web.render import render

router = APIRouter(include_in_schema=False)
PAGE = 50
# Blank barcode rows under a product's own, so a code (or a case's) can be added without JavaScript.
_BLANK_BARCODES = 2


@router.get("/products")
async def product_list(
    request: Request,
    user: SessionUser = Depends(auth.backoffice),
    q: str = Query("", max_length=100, pattern=r"^[^\x00]*$"),
    after: str = Query("", max_length=64, pattern=r"^[^\x00]*$"),
) -> Response:
    who = user.principal
    if q.strip():
        products = await read(request, who, lambda conn: catalog.search_products(conn, who.tenant_id, q, PAGE))
        next_after = None
    else:
        products = await read(request, who, lambda conn: catalog.list_products(conn, who.tenant_id, after, PAGE))
        next_after = products[-1]["sku"] if len(products) == PAGE else None
    return render(request, "products/list.html", {"products": products, "q": q, "next_after": next_after,
                                                  "is_admin": who.role == "admin"})


def _form_product(form: Any) -> dict[str, Any]:
    """The product form's fields as the API takes them; barcode rows with an empty code are skipped."""
    body: dict[str, Any] = {name: form.get(name, "").strip() for name in
                            ("sku", "name", "name_ar", "base_unit", "price", "currency", "low_stock_threshold")}
    body["name_ar"] = body["name_ar"] or None
    body["active"] = form.get("active") == "on"
    # Padded, not cut short: a form missing a column must not drop the codes listed in the others.
    rows = zip_longest(form.getlist("barcode"), form.getlist("unit"), form.getlist("factor"), form.getlist("kind"),
                       fillvalue="")
    body["barcodes"] = [{"barcode": code.strip(), "unit": unit.strip() or "piece", "factor": factor.strip() or "1",
                         "kind": kind or "gs1"} for code, unit, factor, kind in rows if code.strip()]
    return body


def _problems(exc: Exception) -> list[str]:
    if isinstance(exc, ValidationError):
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    assert isinstance(exc, errors.MakhzanError)
    detail = exc.details.get("barcode")
    return [f"{exc.message} ({detail})" if detail else exc.message]


def _edit_page(request: Request, product: dict[str, Any], *, new: bool, problems: list[str] | None = None,
               saved: bool = False, status_code: int = 200) -> Response:
    barcodes = list(product.get("barcodes") or [])
    barcodes += [{"barcode": "", "unit": "piece", "factor": "1", "kind": "gs1"}] * _BLANK_BARCODES
    return render(request, "products/edit.html", {"product": product, "barcodes": barcodes, "new": new,
                                                  "problems": problems or [], "saved": saved,
                                                  "units": units.BASE_UNITS}, status_code=status_code)


@router.get("/products/new")
async def new_product(request: Request, user: SessionUser = Depends(auth.admin)) -> Response:
    blank = {"sku": "", "name": "", "name_ar": "", "base_unit": "piece", "price": "", "currency": "USD",
             "low_stock_threshold": "0", "active": True, "barcodes": []}
    return _edit_page(request, blank, new=True)


@router.post("/products/new")
async def create_product(request: Request, user: SessionUser = Depends(auth.admin)) -> Response:
    who = user.principal
    body = _form_product(await request.form())
    try:
        data = ProductIn(**body)
        product = await transact(request, who, lambda conn: catalog.create_product(conn, who.tenant_id, data))
    except (ValidationError, errors.MakhzanError) as exc:
        return _edit_page(request, body, new=True, problems=_problems(exc), status_code=422)
    return RedirectResponse(f"/products/{product['id']}?saved=1", status_code=303)


# Import and export come before /products/{product_id}: their paths are not product ids.
@router.get("/products/import")
async def import_page(request: Request, user: SessionUser = Depends(auth.admin)) -> Response:
    return render(request, "products/import.html", {"report": None, "problem": None})


@router.post("/products/import")
async def import_file(request: Request, user: SessionUser = Depends(auth.admin)) -> Response:
    who = user.principal
    try:
        upload = await read_upload(request)
        report = await product_import.import_products(
            transactor(request, who), who.tenant_id, upload.data, content_type=upload.content_type,
            filename=upload.filename, dry_run=upload.fields.get("dry_run") == "on")
    except errors.MakhzanError as exc:
        return render(request, "products/import.html", {"report": None, "problem": exc.message},
                      status_code=exc.status)
    return render(request, "products/import.html", {"report": report.as_dict(), "problem": None,
                                                    "filename": upload.filename})


@router.get("/products/{product_id}")
async def edit_product(product_id: UUID, request: Request, user: SessionUser = Depends(auth.backoffice),
                       saved: bool = False) -> Response:
    who = user.principal
    product = await read(request, who, lambda conn: catalog.get_product(conn, who.tenant_id, product_id))
    return _edit_page(request, product, new=False, saved=saved)


@router.post("/products/{product_id}")
async def update_product(product_id: UUID, request: Request, user: SessionUser = Depends(auth.admin)) -> Response:
    who = user.principal
    body = _form_product(await request.form())
    try:
        patch = ProductPatch(**body)
        await transact(request, who, lambda conn: catalog.update_product(conn, who.tenant_id, product_id, patch))
    except (ValidationError, errors.MakhzanError) as exc:
        if isinstance(exc, errors.NotFound):
            raise
        return _edit_page(request, {**body, "id": product_id}, new=False, problems=_problems(exc), status_code=422)
    return RedirectResponse(f"/products/{product_id}?saved=1", status_code=303)


@router.post("/products/{product_id}/store-code")
async def give_store_code(product_id: UUID, request: Request, user: SessionUser = Depends(auth.admin)) -> Response:
    """An in-store EAN-13 for goods without a manufacturer's code, so that a label can be printed."""
    who = user.principal
    await transact(request, who, lambda conn: labels.assign_store_code(conn, who.tenant_id, product_id))
    return RedirectResponse(f"/products/{product_id}?saved=1", status_code=303)
