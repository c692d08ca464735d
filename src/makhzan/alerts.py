"""Low-stock alerts: listing and acknowledging the rows that sales and stock documents raise.

The alerts themselves are written by ``inventory.apply_moves`` in the transaction that crossed
the threshold, together with their webhook outbox rows (delivered by ``makhzan.webhooks``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from makhzan import errors
from makhzan.db import Connection
from makhzan.queries import Q

# "Since the beginning": earlier than any alert.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# The live stream (GET /alerts/stream) polls the table this often; an alert reaches a
# subscriber within about this long of its commit.
STREAM_POLL_SECONDS = 0.5
# A comment line this often keeps proxies and load balancers from closing an idle stream.
STREAM_KEEPALIVE_SECONDS = 15.0
# An alert is stamped at its insert, a moment before its commit: a sale committing just after
# another may show up with the earlier stamp. Each poll reads back this far behind the newest
# alert sent, so such an alert is still sent (once: the ids already sent are left out).
STREAM_LOOKBACK = timedelta(seconds=5)
STREAM_BATCH = 500
# Bounds of the uuid order, to start a cursor before or after every alert of one moment.
_FIRST_ID = UUID(int=0)
_LAST_ID = UUID(int=2**128 - 1)


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


@dataclass
class StreamCursor:
    """Where one live stream stands: what it has sent, and where its client asked it to start.

    Its text form, ``<created_at>/<alert id>``, is each event's SSE ``id``, so a client that
    reconnects with ``Last-Event-ID`` resumes just after the last alert it received.
    """

    after: datetime
    after_id: UUID
    # Ids sent within the look-back window, with their stamps (older ones are forgotten).
    sent: dict[UUID, datetime] = field(default_factory=dict)
    newest: datetime | None = None

    @classmethod
    def after_moment(cls, moment: datetime) -> StreamCursor:
        """After every alert stamped at or before ``moment`` (``?since=`` semantics)."""
        return cls(moment, _LAST_ID)

    @classmethod
    def parse(cls, text: str) -> StreamCursor:
        """A cursor from an event id; ``errors.InvalidInput`` if it is not one."""
        moment, _, alert_id = text.strip().partition("/")
        try:
            after = datetime.fromisoformat(moment)
            after_id = UUID(alert_id) if alert_id else _LAST_ID
        except ValueError:
            raise errors.InvalidInput("Last-Event-ID is not an event id of this stream.",
                                      {"field": "Last-Event-ID"}) from None
        if after.tzinfo is None:
            raise errors.InvalidInput("Last-Event-ID needs a time zone offset.", {"field": "Last-Event-ID"})
        return cls(after, after_id)

    @staticmethod
    def event_id(alert: dict[str, Any]) -> str:
        return f"{alert['created_at'].isoformat()}/{alert['id']}"

    def window_start(self) -> datetime:
        if self.newest is None:
            return self.after
        return max(self.after, self.newest - STREAM_LOOKBACK)

    def record(self, alerts: list[dict[str, Any]]) -> None:
        for alert in alerts:
            self.sent[alert["id"]] = alert["created_at"]
            if self.newest is None or alert["created_at"] > self.newest:
                self.newest = alert["created_at"]
        start = self.window_start()
        self.sent = {alert_id: stamp for alert_id, stamp in self.sent.items() if stamp >= start}


async def database_clock(conn: Connection) -> datetime:
    cur = await conn.execute(Q.database_clock)
    row = await cur.fetchone()
    assert row is not None
    now: datetime = row["now"]
    return now


async def next_stream_alerts(conn: Connection, tenant_id: UUID, cursor: StreamCursor, *,
                             location_id: UUID | None) -> list[dict[str, Any]]:
    """The alerts a live stream has not sent yet, oldest first (at most ``STREAM_BATCH``)."""
    cur = await conn.execute(
        Q.stream_alerts,
        {"tenant_id": tenant_id, "window_start": cursor.window_start(), "after": cursor.after,
         "after_id": cursor.after_id, "sent": list(cursor.sent), "location_id": location_id,
         "limit": STREAM_BATCH},
    )
    return list(await cur.fetchall())
