"""Password users and browser sessions: plain functions taking a connection, like the rest of
the domain code (the caller owns the transaction).

A session cookie reads ``ms_<tenant id hex>_<secret>``, like an API key, so that resolving
it is one tenant-scoped lookup of the SHA-256 of the whole value; the secret is never stored.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from makhzan import errors, tenancy
from makhzan.db import Connection
from makhzan.queries import Q

SESSION_COOKIE = "makhzan_session"
SESSION_SECONDS = 16 * 3600  # a long shop day; a till signs in again each morning
MIN_PASSWORD_LENGTH = 8
# The scope of the one query made before the tenant is known (the shop code lookup, which
# runs as its SECURITY DEFINER function): no tenant, so row-level security hides every row.
NO_TENANT = UUID(int=0)
_LOGIN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
_SHOP_CODE = re.compile(r"^[0-9a-f]{12}$")

# argon2id with the library's defaults (RFC 9106 low-memory profile): ~50 ms per sign-in.
_hasher = PasswordHasher()


@dataclass(frozen=True)
class SessionUser:
    """Who a browser session belongs to: what pages and the API need to know."""

    principal: tenancy.Principal
    display_name: str
    user_id: UUID | None
    key_id: UUID | None


def shop_code(tenant_id: UUID) -> str:
    """The short code a person types to name their shop at sign-in."""
    return tenant_id.hex[:12]


def normalize_shop_code(text: str) -> str | None:
    code = re.sub(r"[\s-]", "", text).lower()
    return code if _SHOP_CODE.match(code) else None


def normalize_login(text: str) -> str:
    login = text.strip().lower()
    if not _LOGIN.match(login):
        raise errors.InvalidInput(
            "A user name is 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit.",
            {"field": "login"})
    return login


async def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise errors.InvalidInput(f"A password needs at least {MIN_PASSWORD_LENGTH} characters.",
                                  {"field": "password"})
    return await asyncio.to_thread(_hasher.hash, password)


async def tenant_for_shop_code(conn: Connection, code: str) -> UUID | None:
    cur = await conn.execute(Q.tenant_for_shop_code, {"code": code})
    row = await cur.fetchone()
    return row["tenant_id"] if row else None


async def create_user(conn: Connection, tenant_id: UUID, *, login: str, password: str, role: str,
                      display_name: str | None = None, location_id: UUID | None = None) -> dict[str, Any]:
    if role not in tenancy.ROLE_RANK:
        raise errors.InvalidInput("role must be admin, manager or cashier.", {"field": "role"})
    login = normalize_login(login)
    if location_id is not None:
        await tenancy.require_location(conn, tenant_id, location_id)
    cur = await conn.execute(Q.find_web_user_by_login, {"tenant_id": tenant_id, "login": login})
    if await cur.fetchone() is not None:
        raise errors.Conflict("That user name is taken.", {"field": "login"})
    cur = await conn.execute(Q.insert_web_user, {
        "tenant_id": tenant_id, "user_id": uuid4(), "login": login,
        "display_name": (display_name or "").strip() or login, "role": role, "location_id": location_id,
        "password_hash": await hash_password(password)})
    row = await cur.fetchone()
    assert row is not None
    return _user(row)


async def list_users(conn: Connection, tenant_id: UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(Q.list_web_users, {"tenant_id": tenant_id})
    return [_user(row) for row in await cur.fetchall()]


async def disable_user(conn: Connection, tenant_id: UUID, user_id: UUID) -> None:
    cur = await conn.execute(Q.disable_web_user, {"tenant_id": tenant_id, "user_id": user_id})
    if await cur.fetchone() is None:
        raise errors.NotFound("User not found.", {"user_id": str(user_id)})
    await conn.execute(Q.delete_user_sessions, {"tenant_id": tenant_id, "user_id": user_id})


def _user(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["user_id"], "login": row["login"], "display_name": row["display_name"], "role": row["role"],
            "location_id": row["location_id"], "created_at": row["created_at"], "disabled_at": row["disabled_at"]}


async def find_login(conn: Connection, tenant_id: UUID, login: str) -> dict[str, Any] | None:
    """The live user a sign-in names, with the hash to verify, or None."""
    cur = await conn.execute(Q.find_web_user_by_login, {"tenant_id": tenant_id, "login": login.strip().lower()})
    row = await cur.fetchone()
    return dict(row) if row else None


async def password_matches(user: dict[str, Any] | None, password: str) -> bool:
    """Whether the password is the user's. Argon2 takes a good fraction of a second of CPU, so it
    runs in a worker thread (the event loop keeps answering scans) and outside any transaction
    (no pooled connection waits on it). An unknown user costs the same time as a known one, so
    timing does not tell which logins exist."""
    stored = user["password_hash"] if user else _dummy_hash()
    try:
        await asyncio.to_thread(_hasher.verify, stored, password if user else password + "\x00")
    except (VerificationError, InvalidHashError):
        return False
    return user is not None


async def rehash_if_needed(conn: Connection, tenant_id: UUID, user: dict[str, Any], password: str) -> None:
    """Store a fresh hash when argon2's parameters were raised since this one was made."""
    if _hasher.check_needs_rehash(user["password_hash"]):
        await conn.execute(Q.set_web_user_password, {"tenant_id": tenant_id, "user_id": user["user_id"],
                                                     "password_hash": await asyncio.to_thread(_hasher.hash, password)})


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("makhzan-timing-equaliser")


async def key_for_sign_in(conn: Connection, tenant_id: UUID, key: str) -> dict[str, Any] | None:
    cur = await conn.execute(Q.find_key_for_sign_in, {"tenant_id": tenant_id, "key_hash": tenancy.hash_key(key)})
    row = await cur.fetchone()
    return dict(row) if row else None


def new_session_value(tenant_id: UUID) -> str:
    return f"ms_{tenant_id.hex}_{secrets.token_urlsafe(32)}"


def session_hash(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def tenant_of_session(value: str) -> UUID | None:
    parts = value.split("_", 2)
    if len(parts) != 3 or parts[0] != "ms" or len(parts[1]) != 32:
        return None
    try:
        return UUID(hex=parts[1])
    except ValueError:
        return None


async def start_session(conn: Connection, tenant_id: UUID, *, role: str, location_id: UUID | None,
                        display_name: str, user_id: UUID | None = None, key_id: UUID | None = None) -> str:
    """A new session; returns the cookie value (the only copy of the secret)."""
    value = new_session_value(tenant_id)
    await conn.execute(Q.delete_expired_web_sessions, {"tenant_id": tenant_id})
    await conn.execute(Q.insert_web_session, {
        "tenant_id": tenant_id, "session_hash": session_hash(value), "user_id": user_id, "key_id": key_id,
        "role": role, "location_id": location_id, "display_name": display_name,
        "lifetime_seconds": SESSION_SECONDS})
    return value


async def find_session(conn: Connection, tenant_id: UUID, value: str) -> SessionUser | None:
    cur = await conn.execute(Q.find_web_session, {"tenant_id": tenant_id, "session_hash": session_hash(value)})
    row = await cur.fetchone()
    if row is None:
        return None
    # Sales and documents record who made them: the key, or for a password user the user's id.
    actor = row["key_id"] or row["user_id"]
    principal = tenancy.Principal(tenant_id=tenant_id, key_id=actor, role=row["role"], location_id=row["location_id"])
    return SessionUser(principal=principal, display_name=row["display_name"], user_id=row["user_id"],
                       key_id=row["key_id"])


async def end_session(conn: Connection, tenant_id: UUID, value: str) -> None:
    await conn.execute(Q.delete_web_session, {"tenant_id": tenant_id, "session_hash": session_hash(value)})
