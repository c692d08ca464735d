"""Low-stock alerts: listing and acknowledging the rows that sales and stock documents raise.

The alerts themselves are written by ``inventory.apply_moves`` in the transaction that crossed
the threshold, together with their webhook and e-mail outbox rows (delivered by
``makhzan.webhooks`` and ``makhzan.mail``).

Paging (``GET /alerts`` and the live stream) goes by the raising transaction's id and the
alert's id, and only below the database's horizon (the oldest transaction still running): an
alert stamped earlier but committed later than one a client has seen is never skipped, which a
cursor on ``created_at`` could not promise. The price is that an alert shows up once every
transaction older than its own has ended, usually within milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from makhzan import errors
from makhzan.db import Connection
from makhzan.queries import Q

# The live stream (GET /alerts/stream) polls the table this often; an alert reaches a
# subscriber within about this long of its commit.
STREAM_POLL_SECONDS = 0.5
# A comment line this often keeps proxies and load balancers from closing an idle stream.
STREAM_KEEPALIVE_SECONDS = 15.0
STREAM_BATCH = 500
# The first alert id of a transaction, to place a cursor before every alert of it.
_FIRST_ID = UUID(int=0)


@dataclass(frozen=True, order=True)
class Cursor:
    """A position in a tenant's alerts: after every alert of transactions below ``xid``, and
    after ``alert_id`` among the alerts of transaction ``xid``.

    Its text form ``<xid>:<alert id>`` is opaque to clients: ``next_cursor`` of
    ``GET /alerts`` and the ``id`` of each stream event (for ``Last-Event-ID``).
    """

    xid: int = 0
    alert_id: UUID = _FIRST_ID

    @classmethod
    def parse(cls, text: str, field: str) -> Cursor:
        """A cursor from its text form; ``errors.InvalidInput`` naming ``field`` if it is not one."""
        xid, sep, alert_id = text.strip().partition(":")
        try:
            if not sep or not xid.isdigit() or len(xid) > 20:
                raise ValueError(text)
            cursor = cls(int(xid), UUID(alert_id))
        except ValueError:
            raise errors.InvalidInput(f"{field} is not a cursor this server gave out.", {"field": field}) from None
        if cursor.xid >= 2**64:
            raise errors.InvalidInput(f"{field} is not a cursor this server gave out.", {"field": field})
        return cursor

    def __str__(self) -> str:
        return f"{self.xid}:{self.alert_id}"


@dataclass(frozen=True)
class Page:
    alerts: list[dict[str, Any]]
    # The cursor just after each alert (a stream event's id), in step with ``alerts``.
    cursors: list[Cursor]
    # Where the next page starts: after the last alert listed or, when the page was not full,
    # at the horizon (nothing below it is left to list). None for a full page listed by time.
    next_cursor: Cursor | None


def _page_rows(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Cursor], Cursor]:
    """(alerts, the cursor after each, the horizon) from the rows of a listing query."""
    horizon = Cursor(int(rows[0]["horizon"]))
    listed: list[dict[str, Any]] = []
    cursors: list[Cursor] = []
    for row in rows:
        if row["id"] is None:
            continue  # the horizon's row of an empty page
        alert = dict(row)
        del alert["horizon"]
        cursors.append(Cursor(int(alert.pop("xid")), alert["id"]))
        listed.append(alert)
    return listed, cursors, horizon


async def list_alerts(conn: Connection, tenant_id: UUID, *, after: Cursor, since: datetime | None = None,
                      location_id: UUID | None = None, limit: int = 100, not_in: str | None = None) -> Page:
    """The alerts after ``after`` (and raised after ``since``), in cursor order.

    ``not_in`` is a snapshot (text form) whose visible alerts are left out.
    """
    cur = await conn.execute(
        Q.list_alerts,
        {"tenant_id": tenant_id, "after_xid": str(after.xid), "after_id": after.alert_id, "since": since,
         "location_id": location_id, "limit": limit, "not_in": not_in},
    )
    listed, cursors, horizon = _page_rows(await cur.fetchall())
    # A short page: everything below the horizon has been listed. A client may hand in a
    # cursor past the horizon (made up: the horizon only moves forward); it is kept, never moved back.
    next_cursor = cursors[-1] if len(listed) == limit else max(after, horizon)
    return Page(listed, cursors, next_cursor)


async def list_alerts_by_time(conn: Connection, tenant_id: UUID, *, since: datetime,
                              location_id: UUID | None = None, limit: int = 100) -> Page:
    """The alerts raised after ``since``, by time: ``GET /alerts?since=`` as older clients page it
    (passing the last alert's ``created_at`` back). A short page's ``next_cursor`` is the horizon,
    from where a client can go on with cursors; a full page's is None (go on by time)."""
    cur = await conn.execute(Q.list_alerts_by_time, {"tenant_id": tenant_id, "since": since,
                                                     "location_id": location_id, "limit": limit})
    listed, cursors, horizon = _page_rows(await cur.fetchall())
    return Page(listed, cursors, None if len(listed) == limit else horizon)


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


async def current_snapshot(conn: Connection) -> str:
    """The database's snapshot now, in text form: what a stream started now leaves out."""
    cur = await conn.execute(Q.current_snapshot)
    row = await cur.fetchone()
    assert row is not None
    snapshot: str = row["snapshot"]
    return snapshot
