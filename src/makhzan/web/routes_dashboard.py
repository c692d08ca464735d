"""The back office's first page: what needs attention today."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from makhzan import alerts, reports, tenancy
from makhzan.api.state import read
from makhzan.db import Connection
from makhzan.queries import Q
from makhzan.web import auth
from makhzan.web.accounts import SessionUser
from makhzan.web.render import render

router = APIRouter(include_in_schema=False)
LOW_STOCK_ROWS = 15
RECENT_ALERT_HOURS = 24
RECENT_ALERTS = 20


async def _summary(conn: Connection, tenant_id: UUID) -> dict[str, Any]:
    """Today's sales and the open conflicts: the cards the page refreshes on its own."""
    cur = await conn.execute(Q.todays_sales, {"tenant_id": tenant_id})
    sales = list(await cur.fetchall())
    cur = await conn.execute(Q.open_conflicts_count, {"tenant_id": tenant_id})
    conflicts = await cur.fetchone()
    return {"tenant": await tenancy.get_tenant(conn, tenant_id), "sales_today": sales,
            "sales_count": sum(row["sales"] for row in sales),
            "open_conflicts": conflicts["open"] if conflicts else 0}


@router.get("/")
async def dashboard(request: Request, user: SessionUser = Depends(auth.backoffice)) -> Response:
    who = user.principal

    async def work(conn: Connection) -> dict[str, Any]:
        locations = {loc["id"]: loc["name"] for loc in await tenancy.list_locations(conn, who.tenant_id)}
        low = await reports.low_stock(conn, who.tenant_id, who.location_id, LOW_STOCK_ROWS + 1)
        since = datetime.now(UTC) - timedelta(hours=RECENT_ALERT_HOURS)
        page = await alerts.list_alerts(conn, who.tenant_id, after=alerts.Cursor(), since=since,
                                        location_id=who.location_id, limit=alerts.STREAM_BATCH)
        recent = list(reversed(page.alerts))[:RECENT_ALERTS]
        cur = await conn.execute(Q.arabic_names, {"tenant_id": who.tenant_id,
                                                  "product_ids": [a["product_id"] for a in recent]})
        names_ar = {row["product_id"]: row["name_ar"] for row in await cur.fetchall()}
        return {**await _summary(conn, who.tenant_id), "locations": locations, "names_ar": names_ar,
                "location_names": {str(location_id): name for location_id, name in locations.items()},
                "low_stock": low[:LOW_STOCK_ROWS], "more_low_stock": len(low) > LOW_STOCK_ROWS,
                "alerts": recent,
                # The live stream resumes where this page's list ended: nothing missed between them.
                "alerts_cursor": str(page.next_cursor)}

    return render(request, "dashboard.html", await read(request, who, work))


@router.get("/dashboard/summary")
async def dashboard_summary(request: Request, user: SessionUser = Depends(auth.backoffice)) -> Response:
    """The summary cards alone, for htmx to swap in every half minute."""
    who = user.principal
    return render(request, "dashboard_summary.html",
                  await read(request, who, lambda conn: _summary(conn, who.tenant_id)))
