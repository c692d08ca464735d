"""Who is behind a browser: the session cookie, for pages and for the API.

``session_principal`` is the API's fallback when a request has no Authorization header
(the till's and the dashboard's JavaScript call /api/v1 with the cookie). Pages depend on
``signed_in``, ``backoffice`` (manager or admin) or ``admin``; without a session they send
the browser to /signin. The cookie is HttpOnly and SameSite=Strict, so another site can
neither read it nor make the browser send it; form posts also check Origin when present.
"""

from __future__ import annotations

import time
from urllib.parse import quote, urlsplit
from uuid import UUID

from fastapi import FastAPI, Request

from makhzan import errors, tenancy
from makhzan.db import run_read
from makhzan.web import accounts, language
from makhzan.web.accounts import SESSION_COOKIE, SessionUser


class SignInRequired(Exception):
    """A page needs a signed-in person; the handler redirects to /signin?next=..."""


class PageForbidden(Exception):
    """Signed in, but the role does not open this page."""

    def __init__(self, required: str) -> None:
        super().__init__(required)
        self.required = required


class SessionCache:
    """Recently resolved sessions, so a scan from the till costs no session lookup.

    Same trade-off as the key cache: a sign-out on another server process, a disabled user
    or a revoked key takes effect there within ``ttl`` seconds (at once on this process).
    """

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[bytes, tuple[float, SessionUser]] = {}

    def get(self, key: bytes) -> SessionUser | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: bytes, user: SessionUser) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl, user)

    def forget(self, key: bytes) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget every session (a user was disabled: which cookies were theirs is not known here)."""
        self._entries.clear()


def install_session_cache(app: FastAPI, ttl: float) -> None:
    app.state.makhzan_sessions = SessionCache(ttl)


def session_cache(request: Request) -> SessionCache:
    cache: SessionCache = request.app.state.makhzan_sessions
    return cache


async def current_session(request: Request) -> SessionUser | None:
    """The session behind the cookie, or None (no cookie, malformed, expired, revoked)."""
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        return None
    tenant_id = accounts.tenant_of_session(value)
    if tenant_id is None:
        return None
    cache = session_cache(request)
    digest = accounts.session_hash(value)
    user = cache.get(digest)
    if user is None:
        pool = request.app.state.makhzan.pool
        user = await run_read(pool, tenant_id, lambda conn: accounts.find_session(conn, tenant_id, value))
        if user is None:
            return None
        cache.put(digest, user)
    request.state.web_user = user
    return user


async def session_principal(request: Request) -> tenancy.Principal:
    """The API caller behind the session cookie, or 401 like a missing key."""
    user = await current_session(request)
    if user is None:
        raise errors.Unauthorized("Send your API key as 'Authorization: Bearer <key>', or sign in.")
    return user.principal


def check_origin(request: Request) -> None:
    """Refuse a form post from another origin (SameSite=Strict already stops the cookie; belt and braces)."""
    if request.method in ("GET", "HEAD"):
        return
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise PageForbidden("same-origin")


async def signed_in(request: Request) -> SessionUser:
    """Page dependency: any signed-in person."""
    user = await current_session(request)
    if user is None:
        raise SignInRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    check_origin(request)
    return user


async def backoffice(request: Request) -> SessionUser:
    """Page dependency: a manager or an admin."""
    return _with_role(await signed_in(request), "manager")


async def admin(request: Request) -> SessionUser:
    """Page dependency: an admin."""
    return _with_role(await signed_in(request), "admin")


def _with_role(user: SessionUser, role: str) -> SessionUser:
    if tenancy.ROLE_RANK[user.principal.role] < tenancy.ROLE_RANK[role]:
        raise PageForbidden(role)
    return user


def sign_in_url(next_path: str) -> str:
    return "/signin?next=" + quote(next_path, safe="/")


def safe_next(next_path: str | None, default: str) -> str:
    """Only a local path may follow sign-in (never another site)."""
    return language._safe_next(next_path, default)


def tenant_id_of(user: SessionUser) -> UUID:
    return user.principal.tenant_id
