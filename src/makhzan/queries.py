"""Named SQL queries, loaded once from ``sql/queries/*.sql``.

Each query sits under a ``-- name: query_name`` header followed by a one-line comment,
so that a DBA can read and EXPLAIN them without reading Python.
"""

from __future__ import annotations

import re
from importlib import resources

_HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def _load() -> dict[str, str]:
    queries: dict[str, str] = {}
    folder = resources.files("makhzan") / "sql" / "queries"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        text = entry.read_text(encoding="utf-8")
        parts = _HEADER.split(text)
        # parts = [preamble, name1, body1, name2, body2, ...]
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            if name in queries:
                raise RuntimeError(f"query {name!r} is defined twice")
            queries[name] = body.strip().rstrip(";")
    return queries


class _Queries:
    def __init__(self) -> None:
        self._queries = _load()

    def __getattr__(self, name: str) -> str:
        try:
            return self._queries[name]
        except KeyError:
            raise AttributeError(f"no SQL query named {name!r}") from None


Q = _Queries()
