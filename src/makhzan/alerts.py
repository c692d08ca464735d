"""Low-stock alerts: listing and acknowledging the rows that sales and stock documents raise.

The alerts themselves are written by ``inventory.apply_moves`` in the transaction that crossed
the threshold, together with their webhook outbox rows (delivered by ``makhzan.webhooks``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from makhzan import errors
from makhzan.db import Connection
from makhzan.queries import Q

# "Since the beginning": earlier than any alert.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def list_alerts(conn: Connection, tenant_id: UUID, *, since: datetime, location_id: UUID | None,
                      limit: int) -> list[dict[str, Any]]:
    """Alerts raised after ``since``, oldest first."""
    cur = await conn.execute(
        Q.list_alerts, {"tenant_id": tenant_id, "since": since, "location_id": location_id, "limit": limit}
    )
    return list(await cur.fetchall())


async def acknowledge(conn: Connection, tenant_id: UUID, alert_id: UUID, *, key_id: UUID,
                      location_id: UUID | None) -> dict[str, Any]:
    """Mark an alert seen by this key; a second acknowledgement changes nothing."""
    cur = await conn.execute(
        Q.acknowledge_alert,
        {"tenant_id": tenant_id, "alert_id": alert_id, "key_id": key_id, "location_id": location_id},
    )
    row = await cur.fetchone()
    if row is None:
        raise errors.NotFound("Alert not found.", {"id": str(alert_id)})
    return dict(row)
