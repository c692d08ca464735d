"""Back office: the low-stock report (live and the kept morning ones) and the conflicts to resolve."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from makhzan import conflicts, daily_report, errors, reports, tenancy
from makhzan.api.state import read, transact
from makhzan.db import Connection
from makhzan.models import ConflictResolveIn
from makhzan.queries import Q
from makhzan.report_files import LOW_STOCK_COLUMNS, WRITERS
from makhzan.web import auth
from makhzan.web.accounts import SessionUser
from makhzan.web.render import render

router = APIRouter(include_in_schema=False)
REPORT_ROWS = 1000
KEPT_REPORTS = 30
CONFLICTS_PAGE = 100


@router.get("/reports")
async def low_stock(request: Request, user: SessionUser = Depends(auth.backoffice),
                    location_id: UUID | None = Query(None)) -> Response:
    who = user.principal
    if who.location_id is not None:
        location_id = who.location(location_id)

    async def work(conn: Connection) -> dict[str, Any]:
        return {"rows": await reports.low_stock(conn, who.tenant_id, location_id, REPORT_ROWS),
                "kept": await daily_report.list_reports(conn, who.tenant_id, KEPT_REPORTS),
                "locations": await tenancy.list_locations(conn, who.tenant_id)}

    found = await read(request, who, work)
    return render(request, "reports/low_stock.html", {**found, "location_id": location_id, "report_date": None})


@router.get("/reports/low-stock.{file_format}")
async def low_stock_file(file_format: str, request: Request, user: SessionUser = Depends(auth.backoffice),
                         location_id: UUID | None = Query(None)) -> Response:
    """The low-stock report as the file a manager opens in Excel (CSV with a BOM, or XLSX)."""
    if file_format not in ("csv", "xlsx"):
        raise errors.NotFound("No such file.", {"format": file_format})
    who = user.principal
    if who.location_id is not None:
        location_id = who.location(location_id)
    rows = await read(request, who, lambda conn: reports.low_stock(conn, who.tenant_id, location_id, REPORT_ROWS))
    data = await asyncio.to_thread(_report_file, rows, file_format)
    media = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[file_format]
    name = f"low-stock-{datetime.now(UTC):%Y-%m-%d}.{file_format}"
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _report_file(rows: list[dict[str, Any]], file_format: str) -> bytes:
    # The CLI's writers, so the page's file and `makhzan report low-stock` are the same file.
    with tempfile.TemporaryDirectory(prefix="makhzan-report-") as folder:
        path = Path(folder) / f"report.{file_format}"
        WRITERS[file_format](path, rows, LOW_STOCK_COLUMNS, "Low stock")
        return path.read_bytes()


@router.get("/reports/daily/{report_date}")
async def kept_report(report_date: date, request: Request, user: SessionUser = Depends(auth.backoffice)) -> Response:
    who = user.principal

    async def work(conn: Connection) -> dict[str, Any]:
        return {"report": await daily_report.get_report(conn, who.tenant_id, report_date),
                "kept": await daily_report.list_reports(conn, who.tenant_id, KEPT_REPORTS),
                "locations": await tenancy.list_locations(conn, who.tenant_id)}

    found = await read(request, who, work)
    if found["report"] is None:
        raise errors.NotFound("No morning report for that day.", {"date": report_date.isoformat()})
    rows = found["report"]["rows"]
    if who.location_id is not None:
        rows = [row for row in rows if row.get("location_id") == str(who.location_id)]
    return render(request, "reports/low_stock.html", {"rows": rows, "kept": found["kept"],
                                                      "locations": found["locations"], "location_id": None,
                                                      "report_date": report_date})


REASONS = ("correction", "waste", "damage", "theft", "expired", "other")


async def _conflicts_page(request: Request, who: tenancy.Principal, *, status: str, resolved: str | None = None,
                          problem: str | None = None, status_code: int = 200) -> Response:
    async def work(conn: Connection) -> dict[str, Any]:
        found = await conflicts.list_conflicts(conn, who.tenant_id, status=None if status == "all" else status,
                                               location_id=who.location_id, before=None, before_id=None,
                                               limit=CONFLICTS_PAGE)
        ids = list({c["product_id"] for c in found if c["product_id"] is not None})
        cur = await conn.execute(Q.products_by_ids, {"tenant_id": who.tenant_id, "product_ids": ids})
        products = {row["product_id"]: row for row in await cur.fetchall()}
        locations = {loc["id"]: loc["name"] for loc in await tenancy.list_locations(conn, who.tenant_id)}
        return {"conflicts": found, "products": products, "names": locations}

    found = await read(request, who, work)
    return render(request, "reports/conflicts.html", {**found, "status": status, "resolved": resolved,
                                                      "problem": problem, "reasons": REASONS},
                  status_code=status_code)


@router.get("/reports/conflicts")
async def conflict_list(request: Request, user: SessionUser = Depends(auth.backoffice),
                        status: str = Query("open", pattern="^(open|resolved|all)$"),
                        resolved: UUID | None = Query(None)) -> Response:
    return await _conflicts_page(request, user.principal, status=status,
                                 resolved=str(resolved) if resolved else None)


@router.post("/reports/conflicts/{conflict_id}/resolve")
async def resolve_conflict(conflict_id: UUID, request: Request,
                           user: SessionUser = Depends(auth.backoffice)) -> Response:
    who = user.principal
    form = await request.form()
    action = str(form.get("action", ""))
    body: dict[str, Any] = {"action": action, "note": str(form.get("note", "")).strip() or None}
    if action == "count":
        body["counted"] = str(form.get("quantity", "")).strip()
    elif action == "adjustment":
        body["delta"] = str(form.get("quantity", "")).strip()
        body["reason"] = str(form.get("reason", "correction"))
    try:
        resolution = ConflictResolveIn(**body)
        await transact(request, who, lambda conn: conflicts.resolve(
            conn, who.tenant_id, conflict_id, key_id=who.key_id, request=resolution, now=datetime.now(UTC)))
    except ValidationError as exc:
        return await _conflicts_page(request, who, status="open", problem=str(exc.errors()[0]["msg"]),
                                     status_code=422)
    except errors.MakhzanError as exc:
        if isinstance(exc, errors.NotFound):
            raise
        return await _conflicts_page(request, who, status="open", problem=exc.message, status_code=exc.status)
    # Post/redirect/get: a reload does not resolve twice.
    return RedirectResponse(f"/reports/conflicts?resolved={conflict_id}", status_code=303)
