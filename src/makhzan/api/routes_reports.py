"""Reports for managers: JSON by default, CSV when the client prefers it (a spreadsheet)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from makhzan import reports, tenancy
from makhzan.api.json import DecimalRoute, respond
from makhzan.api.state import authenticated, read
from makhzan.report_files import LOW_STOCK_COLUMNS, to_csv

router = APIRouter(route_class=DecimalRoute, tags=["reports"])
Who = tenancy.Principal

_CSV = "text/csv"


def prefers_csv(accept: str) -> bool:
    """Whether an Accept header ranks text/csv above JSON (a tie goes to whichever is named first)."""
    best: dict[str, tuple[float, int, int]] = {}  # media type -> (q, specificity, position)
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        media = media.lower()
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        for wanted in (_CSV, "application/json"):
            kind = wanted.split("/")[0]
            specificity = {wanted: 2, f"{kind}/*": 1, "*/*": 0}.get(media)
            # The most specific range that matches a type decides its q (RFC 9110, 12.5.1).
            if specificity is not None and (wanted not in best or specificity > best[wanted][1]):
                best[wanted] = (q, specificity, position)
    csv_q, _, csv_at = best.get(_CSV, (0.0, 0, 0))
    json_q, _, json_at = best.get("application/json", (0.0, 0, 0))
    if csv_q <= 0:
        return False
    return csv_q > json_q or (csv_q == json_q and csv_at < json_at)


@router.get("/reports/low-stock", responses={200: {"content": {_CSV: {"schema": {"type": "string"}}}}})
async def low_stock_report(
    request: Request,
    who: Who = Depends(authenticated),
    location_id: UUID | None = Query(None),
    limit: int = Query(1000, ge=1, le=10000),
) -> Response:
    """Levels at or below their product's threshold, most depleted first; ``Accept: text/csv`` for CSV."""
    who.require("manager")
    if who.location_id is not None:
        location_id = who.location(location_id)
    rows = await read(request, who, lambda conn: reports.low_stock(conn, who.tenant_id, location_id, limit))
    if prefers_csv(request.headers.get("accept", "")):
        return Response(to_csv(rows, LOW_STOCK_COLUMNS), media_type="text/csv; charset=utf-8")
    return respond({"rows": rows})
