"""The agent's settings: the command line's central URL, key and data folder, and tuning knobs
from the environment (tests shorten the timers; a shop never needs to)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from makhzan.agent.loop import LoopSettings


@dataclass
class AgentConfig:
    central_url: str
    key: str
    data_dir: Path
    # How long a sale waits for central before it is taken offline.
    forward_timeout: float = 2.0
    # After a failure to reach central, sales go straight to the outbox for this long instead of
    # each waiting for a timeout; the loop's next successful round brings the agent back online.
    offline_grace: float = 5.0
    loop: LoopSettings = field(default_factory=LoopSettings)
    run_loop: bool = True
    # Off loopback, anyone on the shop's network could sell through the agent: then every caller
    # must send the terminal's key.
    require_key: bool = False

    @classmethod
    def from_env(cls, central_url: str, key: str, data_dir: Path, *, require_key: bool = False,
                 env: Mapping[str, str] | None = None) -> AgentConfig:
        env = os.environ if env is None else env

        def number(name: str, default: float) -> float:
            return float(env.get(f"MAKHZAN_AGENT_{name}", default))

        defaults = LoopSettings()
        return cls(
            central_url=central_url, key=key, data_dir=data_dir, require_key=require_key,
            forward_timeout=number("FORWARD_TIMEOUT", 2.0),
            offline_grace=number("OFFLINE_GRACE", 5.0),
            loop=LoopSettings(
                poll_seconds=number("POLL_SECONDS", defaults.poll_seconds),
                backoff_base=number("BACKOFF_BASE", defaults.backoff_base),
                backoff_max=number("BACKOFF_MAX", defaults.backoff_max),
                batch_size=int(number("BATCH_SIZE", defaults.batch_size)),
                catalog_page=int(number("CATALOG_PAGE", defaults.catalog_page)),
                stock_seconds=number("STOCK_SECONDS", defaults.stock_seconds),
            ),
        )


def default_data_dir() -> Path:
    """Per-user folder, like the server's own data directory."""
    return Path(platformdirs.user_data_dir("makhzan")) / "agent"
