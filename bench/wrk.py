"""HTTP load with wrk (a C load generator with keep-alive connections and a Lua hook).

On a 2-core machine shared by the server, PostgreSQL and the load generator, the generator
must cost as little CPU as possible: one wrk thread drives 32 connections at tens of
thousands of requests per second while a Python client would need a core of its own for a
few thousand. The CPU wrk used is measured and reported so that the claim can be checked.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from seed import Shop

SCRIPT = Path(__file__).resolve().parent / "scripts" / "till.lua"


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        sys.exit("wrk is needed for the HTTP load: install it with `apt-get install -y wrk` (Debian/Ubuntu).")
    return path


@dataclass(frozen=True)
class HttpResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    # Responses with status >= 400 (wrk's count; the API sends no 1xx/3xx) plus socket errors.
    errors: int
    # CPU seconds wrk used per wall second: how much of the 2 cores the generator took.
    generator_cpu: float


def run_wrk(wrk: str, server_url: str, shop: Shop, *, mode: str, connections: int, duration: float,
            hot: int = -1) -> HttpResult:
    """``mode`` is "scan" or "sale"; ``hot`` the index of a product every sale includes (-1: none)."""
    # The random part of the sale ids, fresh per call, so no run ever replays an earlier sale.
    id_prefix = str(uuid.uuid4())[:18]
    seed = uuid.uuid4().int % 1_000_000
    command = [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", str(SCRIPT),
               server_url, "--", mode, str(shop.products), shop.cashier_key, str(seed), id_prefix, str(hot)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    summary = json.loads(line.removeprefix("WRK_JSON "))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return HttpResult(
        requests_per_second=summary["requests"] / (summary["duration_us"] / 1e6),
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        errors=summary["non_2xx"] + summary["socket_errors"],
        generator_cpu=cpu / wall,
    )
