"""Proof that every materialized level equals the sum of its movements, and the repair."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from makhzan.queries import Q


def find_drift(database_url: str, *, repair: bool = False) -> list[dict[str, Any]]:
    """Every level that differs from its ledger; with ``repair``, rebuild those levels.

    Runs as the connecting (owner) role across all tenants. One statement reads levels and
    movements from one snapshot, so sales committing meanwhile never show as drift. A repair
    blocks stock writes (not reads) for its short duration so that nothing moves under it.
    """
    with psycopg.connect(database_url, row_factory=dict_row) as conn, conn.transaction():
        if repair:
            conn.execute("LOCK TABLE stock_levels IN EXCLUSIVE MODE")
        drift = list(conn.execute(Q.level_drift).fetchall())
        if repair:
            for row in drift:
                conn.execute(Q.repair_level, row)
    return drift
