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
    # Webhook delivery: how often the worker looks for due deliveries, the first retry's delay
    # (doubled on each failure, capped at an hour), and how long a receiver may take to answer.
    webhook_poll_seconds: float = 0.2
    webhook_backoff_seconds: float = 2.0
    webhook_timeout_seconds: float = 5.0
    # Hosts webhooks may be sent to; empty means any. Keeps receivers inside a known network
    # (and the test suite on loopback).
    webhook_allowed_hosts: tuple[str, ...] = ()
    # How often each server process looks for due morning reports (they are made once a day at
    # each tenant's local hour; a minute's delay is invisible).
    daily_report_poll_seconds: float = 60.0
    # E-mail delivery (SMTP): hosts a tenant's SMTP server may be (empty means any; the test
    # suite allows loopback only), how long a server may take, the first retry's delay (doubled
    # on each failure, capped at an hour), and how often the worker looks for due e-mail.
    smtp_allowed_hosts: tuple[str, ...] = ()
    smtp_timeout_seconds: float = 30.0
    smtp_backoff_seconds: float = 30.0
    smtp_poll_seconds: float = 1.0

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
            webhook_poll_seconds=float(env.get("MAKHZAN_WEBHOOK_POLL_SECONDS", "0.2")),
            webhook_backoff_seconds=float(env.get("MAKHZAN_WEBHOOK_BACKOFF_SECONDS", "2")),
            webhook_timeout_seconds=float(env.get("MAKHZAN_WEBHOOK_TIMEOUT_SECONDS", "5")),
            webhook_allowed_hosts=tuple(
                h.strip().lower() for h in env.get("MAKHZAN_WEBHOOK_ALLOWED_HOSTS", "").split(",") if h.strip()
            ),
            daily_report_poll_seconds=float(env.get("MAKHZAN_DAILY_REPORT_POLL_SECONDS", "60")),
            smtp_allowed_hosts=tuple(
                h.strip().lower() for h in env.get("MAKHZAN_SMTP_ALLOWED_HOSTS", "").split(",") if h.strip()
            ),
            smtp_timeout_seconds=float(env.get("MAKHZAN_SMTP_TIMEOUT_SECONDS", "30")),
            smtp_backoff_seconds=float(env.get("MAKHZAN_SMTP_BACKOFF_SECONDS", "30")),
            smtp_poll_seconds=float(env.get("MAKHZAN_SMTP_POLL_SECONDS", "1")),
        )
