"""``makhzan``: serve, migrate, tenants, demo data, reconcile, reports."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import click
from psycopg_pool import AsyncConnectionPool

from makhzan.api.json import dumps
from makhzan.config import Settings
from makhzan.migrate import migrate

T = TypeVar("T")


def database_url(settings: Settings) -> str:
    """MAKHZAN_DATABASE_URL, else the embedded server under the data directory."""
    if settings.database_url:
        return settings.database_url
    from makhzan.embedded import embedded_database_url

    return embedded_database_url(settings.data_dir)


def with_pool(url: str, work: Callable[[AsyncConnectionPool], Awaitable[T]]) -> T:
    from makhzan.db import open_pool

    async def run() -> T:
        pool = open_pool(url, 1, 2)
        await pool.open(wait=True)
        try:
            return await work(pool)
        finally:
            await pool.close()

    return asyncio.run(run())


def _print_json(value: Any) -> None:
    click.echo(dumps(value).decode())


@click.group()
@click.version_option(package_name="makhzan")
def main() -> None:
    """Makhzan: live inventory wired into the point of sale."""


@main.command("migrate")
def migrate_command() -> None:
    """Apply pending schema migrations."""
    applied = migrate(database_url(Settings.from_env()))
    click.echo(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8600).")
@click.option("--workers", type=int, default=1, show_default=True, help="Server processes.")
@click.option("--demo", is_flag=True, help="Seed the demo shop on first start and print its keys.")
def serve(host: str | None, port: int | None, workers: int, demo: bool) -> None:
    """Run the API server (and the embedded PostgreSQL unless MAKHZAN_DATABASE_URL is set)."""
    import uvicorn

    settings = Settings.from_env()
    url = database_url(settings)
    # Workers are separate processes: they find the database through the environment.
    os.environ["MAKHZAN_DATABASE_URL"] = url
    migrate(url)
    if demo:
        shop = _demo_once(url, settings.data_dir)
        _print_json(shop)
        if "sign_in" in shop:  # demo data saved by an older version has no users
            sign_in = shop["sign_in"]
            click.echo(f"Back office: http://{host or settings.host}:{port or settings.port}/signin  shop code "
                       f"{sign_in['shop_code']}, user owner (or cashier for the till), password {sign_in['password']}",
                       err=True)
    uvicorn.run(
        "makhzan.api.server:app_from_env",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level="info",
    )


def _demo_once(url: str, data_dir: Path) -> dict[str, Any]:
    """The demo shop's keys: seeded on the first start, read back afterwards."""
    from makhzan.demo import seed_demo

    # One file per database, so pointing the server at another database seeds that one too.
    saved = data_dir / f"demo-{hashlib.sha256(url.encode()).hexdigest()[:12]}.json"
    if saved.exists():
        result: dict[str, Any] = json.loads(saved.read_text())
        return result
    demo = json.loads(dumps(with_pool(url, seed_demo)))
    data_dir.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(demo, indent=2))
    return demo


@main.group()
def tenant() -> None:
    """Businesses using this server."""


@tenant.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def tenant_create(name: str, as_json: bool) -> None:
    """Create a tenant and print its first admin key (shown once)."""
    from makhzan.demo import create_tenant

    url = database_url(Settings.from_env())
    migrate(url)
    result = with_pool(url, lambda pool: create_tenant(pool, name))
    if as_json:
        _print_json(result)
    else:
        click.echo(f"tenant {result['tenant_id']}\nadmin key (shown once): {result['admin_key']}")


@main.group()
def user() -> None:
    """People who sign in to the screens with a password."""


@user.command("create")
@click.option("--tenant", "tenant_id", type=click.UUID, required=True, help="The tenant's id.")
@click.option("--login", required=True, help="The user name typed at sign-in.")
@click.option("--role", type=click.Choice(["admin", "manager", "cashier"]), default="manager", show_default=True)
@click.option("--name", "display_name", default=None, help="The name shown on the screens (default: the login).")
@click.option("--location", "location_id", type=click.UUID, default=None, help="Bind a cashier to one store.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Prompted for when not given (MAKHZAN_USER_PASSWORD also works).", envvar="MAKHZAN_USER_PASSWORD")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def user_create(tenant_id: UUID, login: str, role: str, display_name: str | None, location_id: UUID | None,
                password: str, as_json: bool) -> None:
    """Create a user; prints the shop code to sign in with."""
    from makhzan import errors
    from makhzan.db import run_in_transaction
    from makhzan.web import accounts

    url = database_url(Settings.from_env())
    migrate(url)
    try:
        created = with_pool(url, lambda pool: run_in_transaction(pool, tenant_id, lambda conn: accounts.create_user(
            conn, tenant_id, login=login, password=password, role=role, display_name=display_name,
            location_id=location_id)))
    except errors.MakhzanError as exc:
        raise click.ClickException(exc.message) from None
    result = {**created, "shop_code": accounts.shop_code(tenant_id)}
    if as_json:
        _print_json(result)
    else:
        click.echo(f"user {result['login']} ({role}) created; sign in with shop code {result['shop_code']}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def demo(as_json: bool) -> None:
    """Seed a new demo shop (a Lebanese minimarket) and print its ids and keys."""
    from makhzan.demo import seed_demo

    url = database_url(Settings.from_env())
    migrate(url)
    result = with_pool(url, seed_demo)
    if as_json:
        _print_json(result)
    else:
        for key, value in json.loads(dumps(result)).items():
            click.echo(f"{key}: {value}")


@main.command()
@click.option("--repair", is_flag=True, help="Rebuild drifted levels from the ledger.")
def reconcile(repair: bool) -> None:
    """Compare every stock level with the sum of its movements; exit 1 on any drift."""
    from makhzan.reconcile import find_drift

    drift = find_drift(database_url(Settings.from_env()), repair=repair)
    for row in drift:
        click.echo(
            f"drift tenant={row['tenant_id']} product={row['product_id']} location={row['location_id']} "
            f"level={row['level']} ledger={row['ledger']} difference={row['level'] - row['ledger']}"
        )
    if not drift:
        click.echo("ok: every level equals the sum of its movements")
        return
    if repair:
        click.echo(f"repaired {len(drift)} level(s) from the ledger")
        return
    click.echo(f"{len(drift)} level(s) drift from the ledger; run with --repair to rebuild them", err=True)
    sys.exit(1)


# Below this many rows a report is written before a bar would have drawn.
PROGRESS_ABOVE = 1000


@main.group()
def report() -> None:
    """Reports written to a file (CSV, XLSX or HTML)."""


@report.command("low-stock")
@click.option("--tenant", "tenant_id", type=click.UUID, required=True, help="The tenant's id.")
@click.option("--location", "location_id", type=click.UUID, default=None, help="Only this location.")
@click.option("--format", "file_format", type=click.Choice(["csv", "xlsx", "html"], case_sensitive=False),
              default=None, help="File format (default: from the output file's extension).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True,
              help="File to write.")
def report_low_stock(tenant_id: UUID, location_id: UUID | None, file_format: str | None, output: Path) -> None:
    """Levels at or below their threshold, most depleted first, with what to reorder."""
    from makhzan import errors
    from makhzan.report_files import LOW_STOCK_COLUMNS, WRITERS, format_for

    chosen = file_format.lower() if file_format else format_for(output)
    if chosen is None:
        raise click.UsageError(f"cannot tell the format from {output.name!r}; pass --format csv, xlsx or html")
    try:
        rows = with_pool(database_url(Settings.from_env()),
                         lambda pool: _low_stock_rows(pool, tenant_id, location_id))
    except errors.MakhzanError as exc:
        which = f"location {location_id}" if "location_id" in exc.details else f"tenant {tenant_id}"
        raise click.ClickException(f"{exc.message} ({which})") from exc
    title = "Low stock"
    write = WRITERS[chosen]
    # Written beside the target and renamed over it, so a failed run never leaves half a file.
    partial = output.with_name(f".{output.name}.partial")
    try:
        if len(rows) > PROGRESS_ABOVE and sys.stdout.isatty():
            with click.progressbar(rows, label=f"writing {output.name}") as bar:
                write(partial, bar, LOW_STOCK_COLUMNS, title)
        else:
            write(partial, rows, LOW_STOCK_COLUMNS, title)
        partial.replace(output)
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    click.echo(f"wrote {len(rows)} row(s) to {output}")


async def _low_stock_rows(pool: AsyncConnectionPool, tenant_id: UUID, location_id: UUID | None) -> list[dict[str, Any]]:
    from makhzan import reports, tenancy
    from makhzan.db import Connection, run_read

    async def work(conn: Connection) -> list[dict[str, Any]]:
        # An unknown tenant or location is an error, not an empty report that looks like good news.
        await tenancy.get_tenant(conn, tenant_id)
        if location_id is not None:
            await tenancy.require_location(conn, tenant_id, location_id)
        # The whole tenant: the API pages at 10,000 rows, a file has no such need.
        return await reports.low_stock(conn, tenant_id, location_id, 2**63 - 1)

    # The same tenant-scoped read the API's report runs.
    return await run_read(pool, tenant_id, work)


@main.command()
@click.option("--central", "central_url", required=True, help="The central server's URL, e.g. https://makhzan.example.")
@click.option("--key", required=True, envvar="MAKHZAN_AGENT_KEY",
              help="The terminal's cashier key (bound to its location).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (keep it loopback).")
@click.option("--port", type=int, default=8700, show_default=True, help="Port of the local API.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of the agent's SQLite store (default: the per-user data folder).")
def agent(central_url: str, key: str, host: str, port: int, data_dir: Path | None) -> None:
    """Run the terminal agent: local catalog, offline sales and sync with the central server."""
    import uvicorn

    from makhzan.agent.app import create_agent_app
    from makhzan.agent.config import AgentConfig, default_data_dir

    loopback = host in ("127.0.0.1", "::1", "localhost")
    config = AgentConfig.from_env(central_url, key, data_dir or default_data_dir(), require_key=not loopback)
    uvicorn.run(create_agent_app(config), host=host, port=port, log_level="warning", access_log=False)


@main.group()
def products() -> None:
    """Products in and out as spreadsheets (the columns the back office's import reads)."""


@products.command("import")
@click.option("--tenant", "tenant_id", type=click.UUID, required=True, help="The tenant's id.")
@click.option("--dry-run", is_flag=True, help="Check every row against the catalogue, change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def products_import(tenant_id: UUID, dry_run: bool, as_json: bool, path: Path) -> None:
    """Create or update products from a CSV or XLSX file; good rows apply, bad rows are listed
    (and the exit status is 1)."""
    from makhzan import errors, product_import, tenancy
    from makhzan.db import run_in_transaction, run_read

    async def work(pool: AsyncConnectionPool) -> product_import.Report:
        await run_read(pool, tenant_id, lambda conn: tenancy.get_tenant(conn, tenant_id))
        return await product_import.import_products(
            lambda unit: run_in_transaction(pool, tenant_id, unit), tenant_id, path.read_bytes(),
            filename=path.name, dry_run=dry_run)

    try:
        report = with_pool(database_url(Settings.from_env()), work).as_dict()
    except errors.MakhzanError as exc:
        raise click.ClickException(exc.message) from exc
    if as_json:
        _print_json(report)
    else:
        click.echo(f"{report['rows']} row(s): {report['created']} created, {report['updated']} updated, "
                   f"{report['unchanged']} unchanged, {report['failed']} with problems"
                   + (" (dry run: nothing changed)" if dry_run else ""))
        for problem in report["errors"]:
            click.echo(f"row {problem['row']}, {problem['column']}: {problem['message']}")
    if report["failed"]:
        sys.exit(1)


@products.command("export")
@click.option("--tenant", "tenant_id", type=click.UUID, required=True, help="The tenant's id.")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def products_export(tenant_id: UUID, path: Path) -> None:
    """Write every product to PATH (.csv or .xlsx), in the columns the import reads."""
    import shutil

    from makhzan import product_export
    from makhzan.db import run_read

    file_format = path.suffix.lower().lstrip(".")
    if file_format not in ("csv", "xlsx"):
        raise click.UsageError("name a .csv or .xlsx file")

    # Written beside the target and renamed over it, so a failed run never leaves half a file.
    partial = path.with_name(f".{path.name}.partial")

    async def work(pool: AsyncConnectionPool) -> None:
        pages = product_export.pages(lambda unit: run_read(pool, tenant_id, unit), tenant_id)
        with partial.open("wb") as out:
            if file_format == "xlsx":
                shutil.copyfileobj(await product_export.xlsx_file(pages), out)
            else:
                async for chunk in product_export.csv_chunks(pages):
                    out.write(chunk)

    try:
        with_pool(database_url(Settings.from_env()), work)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    click.echo(f"wrote {path}")
