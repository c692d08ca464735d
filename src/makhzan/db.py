"""The connection pool, tenant-scoped transactions, and the one place that turns driver
errors into domain errors.

Pooled connections run as the ``makhzan_app`` role, and every use of one first scopes it to
the caller's tenant (``makhzan.tenant_id``), so row-level security hides every other
tenant's rows even if a query forgets its ``tenant_id`` filter.
"""

from __future__ import annotations

import asyncio
import random
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TypeVar
from uuid import UUID

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from makhzan import errors
from makhzan.queries import Q

T = TypeVar("T")

Connection = psycopg.AsyncConnection[dict]  # type: ignore[type-arg]

# Deadlocks cannot happen between two baskets (lines are locked in a fixed order) but can
# between a basket and, say, a first-ever receipt inserting a level row; serialization
# failures can come from a replica or a stricter isolation level. Both are retried here,
# so a client never sees them.
MAX_ATTEMPTS = 10


async def _configure(conn: psycopg.AsyncConnection) -> None:  # type: ignore[type-arg]
    await conn.set_autocommit(True)
    await conn.execute("SET ROLE makhzan_app")
    # JIT compilation pays off for queries that run for seconds; ours run for milliseconds, and
    # it added ~70 ms to the low-stock report over a million levels (its whole plan compiled
    # each time).
    await conn.execute("SET jit = off")


def open_pool(database_url: str, min_size: int = 2, max_size: int = 16) -> AsyncConnectionPool:
    """A pool whose connections act as the RLS-bound application role. Open it with ``await pool.open()``."""
    return AsyncConnectionPool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"row_factory": dict_row},
        configure=_configure,
        open=False,
        name="makhzan",
    )


# The tenant each pooled connection is scoped to. The setting is session-wide and set outside
# any transaction (so no rollback undoes it); a connection is re-scoped whenever it serves
# another tenant. This saves the till's scan a round trip per request: a scan is one
# statement on a connection that usually already serves the shop.
_scoped_to: weakref.WeakKeyDictionary[psycopg.AsyncConnection, UUID] = weakref.WeakKeyDictionary()  # type: ignore[type-arg]


async def _scope(conn: Connection, tenant_id: UUID) -> None:
    if _scoped_to.get(conn) != tenant_id:
        await conn.execute(Q.set_tenant, (str(tenant_id),))
        _scoped_to[conn] = tenant_id


@asynccontextmanager
async def tenant_connection(pool: AsyncConnectionPool, tenant_id: UUID) -> AsyncIterator[Connection]:
    """A connection scoped to one tenant, outside a transaction: for single-statement reads."""
    async with pool.connection() as conn:
        await _scope(conn, tenant_id)
        yield conn


@asynccontextmanager
async def tenant_transaction(pool: AsyncConnectionPool, tenant_id: UUID) -> AsyncIterator[Connection]:
    """One transaction scoped to one tenant. The caller owns it; domain code never commits."""
    async with pool.connection() as conn:
        await _scope(conn, tenant_id)
        # Pipeline mode: statements whose results are not awaited yet travel together, so BEGIN
        # goes with the first statement and COMMIT with the last writes. A sale then costs three
        # round trips, and a hot product's row stays locked for one round trip, not four.
        async with conn.pipeline(), conn.transaction():
            yield conn


async def run_read(pool: AsyncConnectionPool, tenant_id: UUID, work: Callable[[Connection], Awaitable[T]]) -> T:
    """Run a read that needs no transaction (each statement sees committed data)."""
    with translate_errors():
        async with tenant_connection(pool, tenant_id) as conn:
            return await work(conn)


async def run_in_transaction(
    pool: AsyncConnectionPool, tenant_id: UUID, work: Callable[[Connection], Awaitable[T]]
) -> T:
    """Run ``work`` in one tenant transaction, retrying deadlocks and serialization failures."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with translate_errors():
                async with tenant_transaction(pool, tenant_id) as conn:
                    return await work(conn)
        except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure):
            if attempt == MAX_ATTEMPTS:
                raise errors.ServiceBusy("The database is busy; please retry.") from None
            # Jittered backoff so that the retried transactions do not collide again.
            await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
    raise AssertionError("unreachable")


# Constraint name -> the domain error a client should see. A violation not listed here is a
# bug in validation upstream, and is reported as such (500), never disguised as bad input.
_UNIQUE_VIOLATIONS: dict[str, Callable[[], errors.MakhzanError]] = {
    "product_barcodes_pkey": lambda: errors.BarcodeTaken("That barcode is already used by another product."),
    "products_tenant_id_sku_key": lambda: errors.SkuTaken("That SKU is already used by another product."),
    "products_pkey": lambda: errors.Conflict("A product with this id already exists."),
    "locations_pkey": lambda: errors.Conflict("A location with this id already exists."),
}


@contextmanager
def translate_errors() -> Iterator[None]:
    try:
        yield
    except pg_errors.UniqueViolation as exc:
        factory = _UNIQUE_VIOLATIONS.get(exc.diag.constraint_name or "")
        if factory is None:
            raise
        raise factory() from exc
    except pg_errors.ForeignKeyViolation as exc:
        name = exc.diag.constraint_name or ""
        if "location_id" in name:
            raise errors.NotFound("Location not found.") from exc
        if "product_id" in name:
            raise errors.NotFound("Product not found.") from exc
        raise
    except pg_errors.NumericValueOutOfRange as exc:
        # A level or total that would not fit NUMERIC(14,3): the input was absurd.
        raise errors.InvalidQuantity("A quantity or amount is out of range.") from exc
