"""Reports: plain reads over the stock levels, one query each."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from makhzan.db import Connection
from makhzan.queries import Q


async def low_stock(conn: Connection, tenant_id: UUID, location_id: UUID | None, limit: int) -> list[dict[str, Any]]:
    """Levels at or below their threshold, most depleted first (see ``low_stock_report``)."""
    cur = await conn.execute(Q.low_stock_report, {"tenant_id": tenant_id, "location_id": location_id, "limit": limit})
    return list(await cur.fetchall())
