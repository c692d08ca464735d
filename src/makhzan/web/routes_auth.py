"""Sign-in (a password or an API key), sign-out, and the language switch."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from makhzan import tenancy
from makhzan.db import Connection, run_in_transaction, run_read
from makhzan.web import accounts, auth, i18n
from makhzan.web.accounts import SESSION_COOKIE
from makhzan.web.render import language, render

router = APIRouter(include_in_schema=False)
SHOP_COOKIE = "makhzan_shop"  # remembered so staff type their shop code once per browser


class SignInThrottle:
    """Failed password sign-ins per shop and user name: past ``limit`` within ``window`` seconds,
    that login is refused until the window passes, so a password cannot be guessed at speed.
    Kept per server process (each process of a multi-worker server counts on its own)."""

    def __init__(self, limit: int = 5, window: float = 300.0) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[tuple[str, str], list[float]] = {}

    def _recent(self, key: tuple[str, str]) -> list[float]:
        now = time.monotonic()
        recent = [at for at in self._failures.get(key, []) if now - at < self.window]
        if recent:
            self._failures[key] = recent
        else:
            self._failures.pop(key, None)
        return recent

    def blocked(self, key: tuple[str, str]) -> bool:
        return len(self._recent(key)) >= self.limit

    def failed(self, key: tuple[str, str]) -> None:
        if len(self._failures) > 100_000:  # a flood of made-up logins must not grow this forever
            self._failures.clear()
        self._failures.setdefault(key, []).append(time.monotonic())

    def succeeded(self, key: tuple[str, str]) -> None:
        self._failures.pop(key, None)


throttle = SignInThrottle()


def _home(role: str) -> str:
    return "/till" if role == "cashier" else "/"


@router.get("/signin")
async def sign_in_page(request: Request, next: str | None = None) -> Response:  # noqa: A002
    return render(request, "signin.html", {"next": next or "", "shop": request.cookies.get(SHOP_COOKIE, ""),
                                           "login": "", "error": None, "method": "password"})


@router.post("/signin")
async def sign_in(request: Request, method: str = Form("password"), shop: str = Form(""), login: str = Form(""),
                  password: str = Form(""), key: str = Form(""), next: str = Form("")) -> Response:  # noqa: A002
    # Another site must not sign this browser in (to an account of its choosing) or out.
    auth.check_origin(request)
    pool = request.app.state.makhzan.pool
    lang = language(request)
    failed: dict[str, Any] = {"next": next, "shop": shop, "login": login, "method": method}

    if method == "key":
        key = key.strip()
        tenant_id = tenancy.tenant_of_key(key)
        if tenant_id is None:
            return _refused(request, failed, "signin.bad_key")

        async def with_key(conn: Connection) -> tuple[str, str] | None:
            row = await accounts.key_for_sign_in(conn, tenant_id, key)
            if row is None:
                return None
            value = await accounts.start_session(conn, tenant_id, role=row["role"], location_id=row["location_id"],
                                                 display_name=row["name"], key_id=row["key_id"])
            return value, row["role"]

        started = await run_in_transaction(pool, tenant_id, with_key)
        if started is None:
            return _refused(request, failed, "signin.bad_key")
    else:
        code = accounts.normalize_shop_code(shop)
        tenant_id = None
        if code is not None:
            tenant_id = await run_read(pool, accounts.NO_TENANT, lambda conn: accounts.tenant_for_shop_code(conn, code))
        if tenant_id is None:
            return _refused(request, failed, "signin.bad_password")
        found_tenant = tenant_id
        attempt = (str(found_tenant), login.strip().lower())
        if throttle.blocked(attempt):
            return _refused(request, failed, "signin.too_many", status_code=429)
        user = await run_read(pool, found_tenant, lambda conn: accounts.find_login(conn, found_tenant, login))
        if not await accounts.password_matches(user, password):
            throttle.failed(attempt)
            return _refused(request, failed, "signin.bad_password")
        assert user is not None
        throttle.succeeded(attempt)

        async def with_password(conn: Connection) -> tuple[str, str]:
            await accounts.rehash_if_needed(conn, found_tenant, user, password)
            value = await accounts.start_session(conn, found_tenant, role=user["role"],
                                                 location_id=user["location_id"], display_name=user["display_name"],
                                                 user_id=user["user_id"])
            return value, user["role"]

        started = await run_in_transaction(pool, found_tenant, with_password)

    value, role = started
    response = RedirectResponse(auth.safe_next(next, _home(role)), status_code=303)
    response.set_cookie(SESSION_COOKIE, value, max_age=accounts.SESSION_SECONDS, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    response.set_cookie(SHOP_COOKIE, accounts.shop_code(tenant_id), max_age=400 * 86400, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    response.set_cookie(i18n.LANG_COOKIE, lang, max_age=400 * 86400, samesite="strict", path="/")
    return response


def _refused(request: Request, values: dict[str, Any], message_key: str, status_code: int = 401) -> Response:
    return render(request, "signin.html", {**values, "error": message_key}, status_code=status_code)


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    auth.check_origin(request)
    value = request.cookies.get(SESSION_COOKIE, "")
    tenant_id = accounts.tenant_of_session(value)
    if tenant_id is not None:
        auth.session_cache(request).forget(accounts.session_hash(value))
        await run_in_transaction(request.app.state.makhzan.pool, tenant_id,
                                 lambda conn: accounts.end_session(conn, tenant_id, value))
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
