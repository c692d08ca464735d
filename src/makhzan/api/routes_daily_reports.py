"""The kept morning reports (managers)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query, Request

from makhzan import daily_report, errors, tenancy
from makhzan.api.json import DecimalRoute, JSONResponse, respond
from makhzan.api.state import authenticated, read

router = APIRouter(route_class=DecimalRoute, tags=["reports"])
Who = tenancy.Principal


@router.get("/reports/daily")
async def daily_reports(
    request: Request,
    who: Who = Depends(authenticated),
    report_date: date | None = Query(None, alias="date", description="A local date (YYYY-MM-DD): that day's report"),
    limit: int = Query(100, ge=1, le=1000),
) -> JSONResponse:
    """The dates of the kept morning reports, newest first; with ``date``, that day's report."""
    who.require("manager")
    if report_date is None:
        listed = await read(request, who, lambda conn: daily_report.list_reports(conn, who.tenant_id, limit))
        return respond({"reports": listed})
    report = await read(request, who, lambda conn: daily_report.get_report(conn, who.tenant_id, report_date))
    if report is None:
        raise errors.NotFound("No morning report was kept for that date.")
    if who.location_id is not None:
        # A key bound to one location sees that location's rows only.
        report["rows"] = [r for r in report["rows"] if r["location_id"] == str(who.location_id)]
    return respond(report)
