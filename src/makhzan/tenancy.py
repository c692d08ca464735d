"""Tenants, their locations and API keys, and turning a bearer key into a principal.

A key reads ``mk_<tenant id hex>_<secret>``: the tenant id in the clear lets the server
scope the key lookup to that tenant (every unique key starts with tenant_id), and only the
SHA-256 of the whole key is stored.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from makhzan import errors
from makhzan.barcodes import DEFAULT_RULES
from makhzan.db import Connection
from makhzan.queries import Q

ROLE_RANK = {"cashier": 1, "manager": 2, "admin": 3}


@dataclass(frozen=True)
class Principal:
    """Who is calling: a tenant, a role, and the location a terminal's key is bound to."""

    tenant_id: UUID
    key_id: UUID
    role: str
    location_id: UUID | None

    def require(self, role: str) -> None:
        if ROLE_RANK[self.role] < ROLE_RANK[role]:
            raise errors.Forbidden(f"This needs the {role} role.", {"role": self.role, "required": role})

    def location(self, requested: UUID | None) -> UUID:
        """The location an operation applies to: the key's own unless it is unbound."""
        if self.location_id is not None:
            if requested is not None and requested != self.location_id:
                raise errors.Forbidden(
                    "This key is bound to another location.", {"location_id": str(self.location_id)}
                )
            return self.location_id
        if requested is None:
            raise errors.InvalidInput("location_id is required.", {"field": "location_id"})
        return requested

    def check_location(self, location_id: UUID) -> None:
        """Refuse a location other than the one a bound key belongs to."""
        self.location(location_id)


def new_key(tenant_id: UUID) -> tuple[str, bytes]:
    key = f"mk_{tenant_id.hex}_{secrets.token_urlsafe(32)}"
    return key, hash_key(key)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def tenant_of_key(key: str) -> UUID | None:
    """The tenant a well-formed key claims; None for anything else."""
    parts = key.split("_", 2)  # the secret itself may contain "_"
    if len(parts) != 3 or parts[0] != "mk" or len(parts[1]) != 32:
        return None
    try:
        return UUID(hex=parts[1])
    except ValueError:
        return None


async def create_tenant(conn: Connection, tenant_id: UUID, name: str) -> dict[str, Any]:
    """A tenant with its first admin key and the default weighed-barcode rule.

    The caller scopes the transaction to the new ``tenant_id``: row-level security checks
    every insert against it.
    """
    await conn.execute(Q.insert_tenant, {"tenant_id": tenant_id, "name": name})
    for rule in DEFAULT_RULES:
        await conn.execute(
            Q.insert_barcode_rule, {"tenant_id": tenant_id, "prefix": rule.prefix, "pattern": rule.pattern}
        )
    key = await create_key(conn, tenant_id, name="admin", role="admin", location_id=None)
    return {"tenant_id": tenant_id, "admin_key": key["key"]}


async def create_key(
    conn: Connection, tenant_id: UUID, *, name: str, role: str, location_id: UUID | None
) -> dict[str, Any]:
    if location_id is not None:
        await require_location(conn, tenant_id, location_id)
    key, key_hash = new_key(tenant_id)
    cur = await conn.execute(
        Q.insert_api_key,
        {"tenant_id": tenant_id, "key_id": uuid4(), "name": name, "role": role,
         "location_id": location_id, "key_hash": key_hash},
    )
    row = await cur.fetchone()
    assert row is not None
    return {"id": row["key_id"], "name": row["name"], "role": row["role"],
            "location_id": row["location_id"], "key": key}


async def create_location(conn: Connection, tenant_id: UUID, *, name: str, kind: str,
                          location_id: UUID | None = None) -> dict[str, Any]:
    cur = await conn.execute(
        Q.insert_location,
        {"tenant_id": tenant_id, "location_id": location_id or uuid4(), "name": name, "kind": kind},
    )
    row = await cur.fetchone()
    assert row is not None
    return _location(row)


async def list_locations(conn: Connection, tenant_id: UUID) -> list[dict[str, Any]]:
    cur = await conn.execute(Q.list_locations, {"tenant_id": tenant_id})
    return [_location(row) for row in await cur.fetchall()]


def _location(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["location_id"], "name": row["name"], "kind": row["kind"], "created_at": row["created_at"]}


async def require_location(conn: Connection, tenant_id: UUID, location_id: UUID) -> None:
    cur = await conn.execute(Q.location_exists, {"tenant_id": tenant_id, "location_id": location_id})
    if await cur.fetchone() is None:
        raise errors.NotFound("Location not found.", {"location_id": str(location_id)})


async def get_tenant(conn: Connection, tenant_id: UUID) -> dict[str, Any]:
    cur = await conn.execute(Q.get_tenant, {"tenant_id": tenant_id})
    row = await cur.fetchone()
    if row is None:
        raise errors.NotFound("Tenant not found.")
    return dict(row)


async def find_key(conn: Connection, tenant_id: UUID, key_hash: bytes) -> Principal | None:
    cur = await conn.execute(Q.find_api_key, {"tenant_id": tenant_id, "key_hash": key_hash})
    row = await cur.fetchone()
    if row is None:
        return None
    return Principal(tenant_id=tenant_id, key_id=row["key_id"], role=row["role"], location_id=row["location_id"])


class KeyCache:
    """Recently seen keys, so the till's hot path does not look its key up on every scan.

    Entries live ``ttl`` seconds: a revoked key stops working within that time. Unknown keys
    are not cached, so a flood of bad keys cannot push good ones out.
    """

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[bytes, tuple[float, Principal]] = {}

    def get(self, key_hash: bytes) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        expires, principal = entry
        if expires < time.monotonic():
            del self._entries[key_hash]
            return None
        return principal

    def put(self, key_hash: bytes, principal: Principal) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key_hash] = (time.monotonic() + self.ttl, principal)
