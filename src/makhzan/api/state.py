"""What every request needs: the pool, the key cache, and who is calling."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from fastapi import Request
from psycopg_pool import AsyncConnectionPool

from makhzan import errors, tenancy
from makhzan.config import Settings
from makhzan.db import Connection, run_in_transaction, run_read
from makhzan.web.accounts import SESSION_COOKIE
from makhzan.web.auth import session_principal

T = TypeVar("T")


@dataclass
class AppState:
    pool: AsyncConnectionPool
    keys: tenancy.KeyCache
    settings: Settings


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.makhzan
    return state


async def authenticated(request: Request) -> tenancy.Principal:
    """The caller behind ``Authorization: Bearer <key>``, or 401.

    Without an Authorization header, the screens' session cookie is accepted instead (the
    till's and the dashboard's JavaScript call the API as the signed-in person).
    """
    header = request.headers.get("authorization", "")
    if not header and SESSION_COOKIE in request.cookies:
        return await session_principal(request)
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise errors.Unauthorized("Send your API key as 'Authorization: Bearer <key>'.")
    key = key.strip()
    tenant_id = tenancy.tenant_of_key(key)
    if tenant_id is None:
        raise errors.Unauthorized("This API key is not valid.")
    state = app_state(request)
    key_hash = tenancy.hash_key(key)
    principal = state.keys.get(key_hash)
    if principal is None:
        principal = await run_read(state.pool, tenant_id, lambda conn: tenancy.find_key(conn, tenant_id, key_hash))
        if principal is None:
            raise errors.Unauthorized("This API key is not valid.")
        state.keys.put(key_hash, principal)
    return principal


async def transact(request: Request, who: tenancy.Principal, work: Callable[[Connection], Awaitable[T]]) -> T:
    """Run one use case in one transaction of the caller's tenant."""
    return await run_in_transaction(app_state(request).pool, who.tenant_id, work)


async def read(request: Request, who: tenancy.Principal, work: Callable[[Connection], Awaitable[T]]) -> T:
    """Run a read of the caller's tenant without a transaction (the till's scan)."""
    return await run_read(app_state(request).pool, who.tenant_id, work)
