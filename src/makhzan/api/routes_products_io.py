"""Products in and out as spreadsheets, and their shelf labels (SVG, PDF sheets)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from makhzan import catalog, errors, labels, product_export, product_import, tenancy
from makhzan.api.json import DecimalRoute, JSONResponse, respond
from makhzan.api.state import authenticated, read, transact
from makhzan.db import Connection

router = APIRouter(route_class=DecimalRoute, tags=["products: import, export, labels"])
Who = tenancy.Principal

# Room for the multipart envelope around a file of the maximum size.
_MULTIPART_SLACK = 64 * 1024
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _too_large() -> product_import.FileTooLarge:
    return product_import.FileTooLarge(
        f"The file is larger than {product_import.MAX_IMPORT_BYTES // (1024 * 1024)} MB; split it.",
        {"limit_bytes": product_import.MAX_IMPORT_BYTES},
    )


@dataclass
class Upload:
    data: bytes
    content_type: str | None
    filename: str | None
    fields: dict[str, str]  # the other fields of a form (the back office's "check only" box)


async def read_upload(request: Request) -> Upload:
    """The file of a multipart upload (field ``file``) or of a raw body.

    The body is read with a running limit: a huge upload is refused with 413 once it passes the
    limit, never held in memory whole.
    """
    limit = product_import.MAX_IMPORT_BYTES + _MULTIPART_SLACK
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise _too_large()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large()
        chunks.append(chunk)
    body = b"".join(chunks)
    content_type = request.headers.get("content-type")
    if not (content_type or "").lower().startswith("multipart/form-data"):
        return Upload(body, content_type, None, {})

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    form = await Request(request.scope, replay).form(max_files=1, max_fields=10)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise errors.InvalidInput("Send the spreadsheet in a form field named 'file'.", {"field": "file"})
    fields = {name: value for name, value in form.multi_items() if isinstance(value, str)}
    return Upload(await upload.read(), upload.content_type, upload.filename, fields)


def transactor(request: Request, who: Who) -> Callable[[Callable[[Connection], Awaitable[Any]]], Awaitable[Any]]:
    return lambda work: transact(request, who, work)


@router.post(
    "/products/import",
    openapi_extra={"requestBody": {"content": {
        "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string",
                                                                                     "format": "binary"}}}},
        "text/csv": {"schema": {"type": "string"}},
        _XLSX: {"schema": {"type": "string", "format": "binary"}},
    }}},
)
async def import_products(
    request: Request,
    who: Who = Depends(authenticated),
    dry_run: bool = Query(False, description="Check every row against the catalogue, change nothing"),
) -> JSONResponse:
    """Create or update products from a CSV or XLSX sheet; good rows apply, bad rows are reported."""
    who.require("admin")
    upload = await read_upload(request)
    report = await product_import.import_products(transactor(request, who), who.tenant_id, upload.data,
                                                  content_type=upload.content_type, filename=upload.filename,
                                                  dry_run=dry_run)
    return respond(report.as_dict())


@router.get("/products/export", responses={200: {"content": {"text/csv": {}, _XLSX: {}}}})
async def export_products(
    request: Request,
    who: Who = Depends(authenticated),
    format: Literal["csv", "xlsx"] = Query("csv"),
) -> Response:
    """Every product in the columns the import reads, as CSV (UTF-8 with BOM) or XLSX."""
    who.require("manager")
    return await export_file(lambda work: read(request, who, work), who.tenant_id, format)


async def export_file(reader: product_export.Read, tenant_id: UUID, file_format: str) -> Response:
    """The export download, shared with the back office's Export button."""
    name = f"products-{datetime.now(UTC):%Y-%m-%d}.{file_format}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    rows = product_export.pages(reader, tenant_id)
    if file_format == "xlsx":
        workbook = await product_export.xlsx_file(rows)
        return StreamingResponse(iter(lambda: workbook.read(64 * 1024), b""), media_type=_XLSX, headers=disposition)
    return StreamingResponse(product_export.csv_chunks(rows), media_type="text/csv; charset=utf-8",
                             headers=disposition)


@router.get("/products/{product_id}/label.svg", responses={200: {"content": {"image/svg+xml": {}}}})
async def product_label(product_id: UUID, request: Request, who: Who = Depends(authenticated)) -> Response:
    """A shelf label: names in English and Arabic, USD and LBP prices, the unit barcode."""
    who.require("manager")
    (label,) = await read(request, who, lambda conn: labels.labels_for(conn, who.tenant_id, [product_id]))
    return Response(labels.svg(label), media_type="image/svg+xml")


@router.post("/products/{product_id}/store-code")
async def store_code(product_id: UUID, request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    """Give goods without a manufacturer's code an in-store EAN-13 (GS1 prefix 20-29, clear of the
    shop's scale-label rules), added to the product's barcodes; answers the product."""
    who.require("admin")

    async def work(conn: Connection) -> dict[str, Any]:
        await labels.assign_store_code(conn, who.tenant_id, product_id)
        return await catalog.get_product(conn, who.tenant_id, product_id)

    return respond(await transact(request, who, work))


@router.get("/labels.pdf", responses={200: {"content": {"application/pdf": {}}}})
async def label_sheet(
    request: Request,
    who: Who = Depends(authenticated),
    product_id: list[UUID] = Query(..., description="One label per id given; repeat an id for more"),
    copies: int = Query(1, ge=1, le=100, description="Labels of each product"),
) -> Response:
    """A printable A4 sheet of shelf labels (21 per page, Avery L7160 layout)."""
    who.require("manager")
    ids = [pid for pid in product_id for _ in range(copies)]
    if len(ids) > labels.MAX_LABELS:
        raise errors.InvalidInput(f"At most {labels.MAX_LABELS} labels at once.", {"limit": labels.MAX_LABELS})
    found = await read(request, who, lambda conn: labels.labels_for(conn, who.tenant_id, ids))
    return Response(await run_in_threadpool(labels.pdf, found), media_type="application/pdf",
                    headers={"Content-Disposition": 'inline; filename="labels.pdf"'})
