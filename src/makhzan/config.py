"""Settings from the environment, read once into one frozen dataclass."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs


@dataclass(frozen=True)
class Settings:
    # None means "run the embedded PostgreSQL under data_dir".
    database_url: str | None
    data_dir: Path
    host: str
    port: int
    pool_min_size: int
    pool_max_size: int
    # How long an API key stays cached in a server process; revocation takes at most this long.
    key_cache_seconds: float

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            database_url=env.get("MAKHZAN_DATABASE_URL") or None,
            data_dir=Path(env.get("MAKHZAN_DATA_DIR") or platformdirs.user_data_dir("makhzan")),
            host=env.get("MAKHZAN_HOST", "127.0.0.1"),
            port=int(env.get("MAKHZAN_PORT", "8600")),
            pool_min_size=int(env.get("MAKHZAN_POOL_MIN", "2")),
            pool_max_size=int(env.get("MAKHZAN_POOL_MAX", "16")),
            key_cache_seconds=float(env.get("MAKHZAN_KEY_CACHE_SECONDS", "30")),
        )
