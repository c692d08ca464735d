"""Settings (admins): locations, API keys, users, webhooks, e-mail, weighed-barcode rules and
the exchange rate. Each form runs its use case in one transaction through the same domain
functions and request models as the API, so a form refuses exactly what the API refuses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from makhzan import barcodes, errors, tenancy, webhooks
from makhzan.api.state import app_state, read, transact
from makhzan.db import Connection
from makhzan.models import BarcodeRuleIn, KeyIn, LocationIn, RateIn, WebhookIn
from makhzan.queries import Q
from makhzan.web import accounts, auth
from makhzan.web.accounts import SessionUser
from makhzan.web.render import render

router = APIRouter(include_in_schema=False)
T = TypeVar("T")
SECTIONS = ["locations", "keys", "users", "webhooks", "email", "barcode-rules", "exchange-rate"]
WEBHOOK_EVENTS = ["low_stock", "daily_report"]


def _problem(exc: ValidationError | errors.MakhzanError) -> str:
    """One sentence for the form from a model's or the domain's refusal."""
    if isinstance(exc, errors.MakhzanError):
        return exc.message
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors())


def _optional_uuid(text: str) -> UUID | None:
    text = text.strip()
    if not text:
        return None
    try:
        return UUID(text)
    except ValueError:
        raise errors.InvalidInput("Pick a location from the list.", {"field": "location_id"}) from None


async def _page(request: Request, user: SessionUser, section: str, *, status_code: int = 200,
                error: str | None = None, notice: str | None = None, **extra: Any) -> Response:
    who = user.principal

    async def work(conn: Connection) -> dict[str, Any]:
        data: dict[str, Any] = {"tenant": await tenancy.get_tenant(conn, who.tenant_id),
                                "locations": await tenancy.list_locations(conn, who.tenant_id)}
        if section == "keys":
            cur = await conn.execute(Q.list_api_keys, {"tenant_id": who.tenant_id})
            data["keys"] = list(await cur.fetchall())
        elif section == "users":
            data["users"] = await accounts.list_users(conn, who.tenant_id)
        elif section == "webhooks":
            data["webhooks"] = await webhooks.list_webhooks(conn, who.tenant_id)
        elif section == "barcode-rules":
            cur = await conn.execute(Q.list_barcode_rules, {"tenant_id": who.tenant_id})
            data["rules"] = list(await cur.fetchall())
        elif section == "email":
            data["email"] = await _email_settings(conn, who.tenant_id)
        return data

    data = await read(request, who, work)
    data["location_names"] = {loc["id"]: loc["name"] for loc in data["locations"]}
    return render(request, f"settings/{section.replace('-', '_')}.html",
                  {**data, **extra, "section": section, "sections": SECTIONS, "error": error, "notice": notice,
                   "shop_code": accounts.shop_code(who.tenant_id), "events": WEBHOOK_EVENTS},
                  status_code=status_code)


async def _attempt(request: Request, user: SessionUser, section: str,
                   work: Callable[[Connection], Awaitable[T]], form: dict[str, Any]) -> T | Response:
    """Run a form's use case in one transaction; on refusal, the page again with the reason (422)."""
    try:
        return await transact(request, user.principal, work)
    except errors.MakhzanError as exc:
        return await _page(request, user, section, status_code=exc.status if exc.status != 401 else 422,
                           error=_problem(exc), form=form)


def _saved(section: str) -> Response:
    # Post/redirect/get: a reload does not post the form again.
    return RedirectResponse(f"/settings/{section}?saved=1", status_code=303)


@router.get("/settings")
async def settings_home(user: SessionUser = Depends(auth.admin)) -> Response:
    return RedirectResponse("/settings/locations", status_code=303)


@router.get("/settings/{section}")
async def settings_section(request: Request, section: str, saved: int = 0,
                           user: SessionUser = Depends(auth.admin)) -> Response:
    if section not in SECTIONS:
        raise errors.NotFound("No such settings page.")
    return await _page(request, user, section, notice="settings.saved" if saved else None, form={})


@router.post("/settings/locations")
async def create_location(request: Request, name: str = Form(""), kind: str = Form("store"),
                          user: SessionUser = Depends(auth.admin)) -> Response:
    form = {"name": name, "kind": kind}
    try:
        body = LocationIn(name=name, kind=kind)  # type: ignore[arg-type]
    except ValidationError as exc:
        return await _page(request, user, "locations", status_code=422, error=_problem(exc), form=form)
    who = user.principal
    done = await _attempt(request, user, "locations", lambda conn: tenancy.create_location(
        conn, who.tenant_id, name=body.name, kind=body.kind), form)
    return done if isinstance(done, Response) else _saved("locations")


@router.post("/settings/keys")
async def create_key(request: Request, name: str = Form(""), role: str = Form("cashier"),
                     location_id: str = Form(""), user: SessionUser = Depends(auth.admin)) -> Response:
    form = {"name": name, "role": role, "location_id": location_id}
    try:
        body = KeyIn(name=name, role=role, location_id=_optional_uuid(location_id))  # type: ignore[arg-type]
    except (ValidationError, errors.MakhzanError) as exc:
        return await _page(request, user, "keys", status_code=422, error=_problem(exc), form=form)
    who = user.principal
    done = await _attempt(request, user, "keys", lambda conn: tenancy.create_key(
        conn, who.tenant_id, name=body.name, role=body.role, location_id=body.location_id), form)
    if isinstance(done, Response):
        return done
    # The key is shown this once: only its hash is stored.
    return await _page(request, user, "keys", status_code=201, new_key=done, form={})


@router.post("/settings/users")
async def create_user(request: Request, login: str = Form(""), display_name: str = Form(""),
                      role: str = Form("cashier"), location_id: str = Form(""), password: str = Form(""),
                      user: SessionUser = Depends(auth.admin)) -> Response:
    form = {"login": login, "display_name": display_name, "role": role, "location_id": location_id}
    who = user.principal

    async def work(conn: Connection) -> dict[str, Any]:
        return await accounts.create_user(conn, who.tenant_id, login=login, password=password, role=role,
                                          display_name=display_name, location_id=_optional_uuid(location_id))

    done = await _attempt(request, user, "users", work, form)
    return done if isinstance(done, Response) else _saved("users")


@router.post("/settings/users/{user_id}/disable")
async def disable_user(request: Request, user_id: UUID, user: SessionUser = Depends(auth.admin)) -> Response:
    who = user.principal
    done = await _attempt(request, user, "users", lambda conn: accounts.disable_user(conn, who.tenant_id, user_id),
                          {})
    if isinstance(done, Response):
        return done
    # Their sessions are gone from the database; this process forgets them at once too.
    auth.session_cache(request).clear()
    return _saved("users")


@router.post("/settings/webhooks")
async def create_webhook(request: Request, user: SessionUser = Depends(auth.admin)) -> Response:
    submitted = await request.form()
    url, secret = str(submitted.get("url", "")), str(submitted.get("secret", ""))
    events = [str(e) for e in submitted.getlist("events")]
    form = {"url": url, "events": events}
    try:
        body = WebhookIn(url=url, secret=secret, events=events)  # type: ignore[arg-type]
    except ValidationError as exc:
        return await _page(request, user, "webhooks", status_code=422, error=_problem(exc), form=form)
    allowed = app_state(request).settings.webhook_allowed_hosts
    if not webhooks.host_allowed(body.url, allowed):
        return await _page(request, user, "webhooks", status_code=422, form=form,
                           error="Webhooks may only be sent to the allowed hosts: " + ", ".join(allowed))
    who = user.principal
    done = await _attempt(request, user, "webhooks", lambda conn: webhooks.create_webhook(
        conn, who.tenant_id, url=body.url, secret=body.secret, events=list(body.events)), form)
    return done if isinstance(done, Response) else _saved("webhooks")


@router.post("/settings/barcode-rules")
async def put_barcode_rule(request: Request, pattern: str = Form(""),
                           user: SessionUser = Depends(auth.admin)) -> Response:
    form = {"pattern": pattern}
    try:
        rule = barcodes.WeighedRule(BarcodeRuleIn(pattern=pattern.strip()).pattern)
    except (ValidationError, ValueError) as exc:
        message = _problem(exc) if isinstance(exc, ValidationError) else str(exc)
        return await _page(request, user, "barcode-rules", status_code=422, error=message, form=form)
    who = user.principal

    async def work(conn: Connection) -> None:
        await conn.execute(Q.insert_barcode_rule,
                           {"tenant_id": who.tenant_id, "prefix": rule.prefix, "pattern": rule.pattern})

    done = await _attempt(request, user, "barcode-rules", work, form)
    return done if isinstance(done, Response) else _saved("barcode-rules")


@router.post("/settings/exchange-rate")
async def set_exchange_rate(request: Request, lbp_rate: str = Form(""),
                            user: SessionUser = Depends(auth.admin)) -> Response:
    form = {"lbp_rate": lbp_rate}
    try:
        body = RateIn(lbp_rate=lbp_rate.strip().replace(",", ""))  # type: ignore[arg-type]
        if body.lbp_rate <= 0:
            raise errors.InvalidInput("The rate must be positive.", {"field": "lbp_rate"})
    except (ValidationError, errors.MakhzanError) as exc:
        return await _page(request, user, "exchange-rate", status_code=422, error=_problem(exc), form=form)
    who = user.principal

    async def work(conn: Connection) -> None:
        # The tenants trigger notes the change, so terminal agents pick the new rate up.
        await conn.execute(Q.set_lbp_rate, {"tenant_id": who.tenant_id, "lbp_rate": body.lbp_rate})

    done = await _attempt(request, user, "exchange-rate", work, form)
    return done if isinstance(done, Response) else _saved("exchange-rate")


# --- e-mail: the same model and functions as GET/PUT /api/v1/settings/email ---------------------

def _email_parts() -> tuple[Any, Any] | None:
    """(makhzan.mail, EmailSettingsIn), or None on a build without e-mail."""
    try:
        from makhzan import mail
        from makhzan.api.routes_email import EmailSettingsIn
    except ImportError:
        return None
    return mail, EmailSettingsIn


async def _email_settings(conn: Connection, tenant_id: UUID) -> dict[str, Any] | None:
    parts = _email_parts()
    if parts is None:
        return None
    try:
        settings: dict[str, Any] = await parts[0].get_settings(conn, tenant_id)
    except errors.NotFound:
        return {}
    return settings


def _addresses(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").replace("\n", ",").split(",") if part.strip()]


@router.post("/settings/email")
async def put_email(request: Request, user: SessionUser = Depends(auth.admin)) -> Response:
    parts = _email_parts()
    if parts is None:
        raise errors.NotFound("E-mail is not part of this build.")
    mail, model = parts
    submitted = await request.form()
    form = {k: str(v) for k, v in submitted.items() if k != "password"}
    password = str(submitted.get("password", ""))
    username = str(submitted.get("username", "")).strip()
    try:
        body = model(smtp_host=form.get("smtp_host", ""), smtp_port=form.get("smtp_port", "") or 0,
                     security=form.get("security", "starttls"), username=username or None,
                     password=password or None, from_address=form.get("from_address", "").strip(),
                     alert_recipients=_addresses(form.get("alert_recipients", "")),
                     report_recipients=_addresses(form.get("report_recipients", "")),
                     enabled="enabled" in submitted)
        allowed = app_state(request).settings.smtp_allowed_hosts
        if not mail.host_allowed(body.smtp_host, allowed):
            raise errors.InvalidInput("E-mail may only be sent through the allowed SMTP hosts: " + ", ".join(allowed))
        if body.password is not None and body.username is None:
            raise errors.InvalidInput("A password needs a username.", {"field": "username"})
    except (ValidationError, errors.MakhzanError) as exc:
        return await _page(request, user, "email", status_code=422, error=_problem(exc), form=form)
    values: dict[str, Any] = body.model_dump()
    who = user.principal
    # An empty password field keeps the stored one (it is never shown, so it cannot be re-sent).
    done = await _attempt(request, user, "email", lambda conn: mail.put_settings(
        conn, who.tenant_id, values, keep_password=not password), form)
    return done if isinstance(done, Response) else _saved("email")
