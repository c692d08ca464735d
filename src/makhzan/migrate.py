"""Schema migrations: ``sql/migrations/NNNN_name.sql`` applied in order, each once.

A session-level advisory lock serialises concurrent starts (two servers booting at once
both call this); unlike a lock row in a table, it is released by PostgreSQL when a killed
process's connection drops, so a crash mid-migration never blocks the next start.
"""

from __future__ import annotations

from importlib import resources

import psycopg

# Any constant will do, as long as every Makhzan process uses the same one.
_MIGRATION_LOCK_KEY = 0x4D414B48  # "MAKH"


def _migration_files() -> list[tuple[str, str]]:
    folder = resources.files("makhzan") / "sql" / "migrations"
    files = sorted(e for e in folder.iterdir() if e.name.endswith(".sql"))
    return [(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


def migrate(database_url: str) -> list[str]:
    """Apply pending migrations; return the versions applied by this call."""
    applied_now: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, sql in _migration_files():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql)  # several statements are allowed when no parameters are passed
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied_now.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK_KEY,))
    return applied_now
