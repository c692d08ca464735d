"""E-mail settings of a business (admins): the SMTP server, the sender and who gets what."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import AfterValidator, Field

from makhzan import errors, mail, tenancy
from makhzan.api.json import DecimalRoute, JSONResponse, respond
from makhzan.api.state import app_state, authenticated, read, transact
from makhzan.models import Strict

router = APIRouter(route_class=DecimalRoute, tags=["settings"])
Who = tenancy.Principal

# A plain address (no display name): printable ASCII without spaces, brackets or quotes, one
# @, a domain of dot-separated labels. Checked strictly because it goes into SMTP commands
# and headers, where a line break or a bracket would let a value inject its own.
_ADDRESS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                      r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_HOST_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def _address(value: str) -> str:
    if len(value) > 254 or not _ADDRESS.match(value):
        raise ValueError("must be an e-mail address such as manager@example.com")
    return value


def _host(value: str) -> str:
    host = value.strip().lower()
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    if not host or len(host) > 253 or not all(_HOST_LABEL.match(label) for label in host.split(".")):
        raise ValueError("must be a host name or an IP address")
    return host


def _printable(value: str | None) -> str | None:
    if value is not None and not all(ch.isprintable() for ch in value):
        raise ValueError("must not contain control characters")
    return value


Address = Annotated[str, AfterValidator(_address)]


class EmailSettingsIn(Strict):
    smtp_host: Annotated[str, Field(min_length=1, max_length=253), AfterValidator(_host)]
    smtp_port: int = Field(ge=1, le=65535)
    security: Literal["none", "starttls", "tls"]
    username: Annotated[str | None, Field(min_length=1, max_length=200), AfterValidator(_printable)] = None
    # Write-only: left out, the stored password is kept; null removes it.
    password: Annotated[str | None, Field(min_length=1, max_length=200), AfterValidator(_printable)] = None
    from_address: Address
    alert_recipients: list[Address] = Field(default_factory=list, max_length=50)
    report_recipients: list[Address] = Field(default_factory=list, max_length=50)
    enabled: bool = True


@router.get("/settings/email")
async def get_email_settings(request: Request, who: Who = Depends(authenticated)) -> JSONResponse:
    """The SMTP set-up; the password is never sent back (``password_set`` says whether there is one)."""
    who.require("admin")
    return respond(await read(request, who, lambda conn: mail.get_settings(conn, who.tenant_id)))


@router.put("/settings/email")
async def put_email_settings(body: EmailSettingsIn, request: Request,
                             who: Who = Depends(authenticated)) -> JSONResponse:
    """Set the SMTP server, the sender, and who receives low-stock alerts and the morning report."""
    who.require("admin")
    allowed = app_state(request).settings.smtp_allowed_hosts
    if not mail.host_allowed(body.smtp_host, allowed):
        raise errors.InvalidInput("E-mail may only be sent through the allowed SMTP hosts.",
                                  {"field": "smtp_host", "allowed_hosts": list(allowed)})
    if body.password is not None and body.username is None:
        raise errors.InvalidInput("A password needs a username.", {"field": "username"})
    values: dict[str, Any] = body.model_dump()
    keep_password = "password" not in body.model_fields_set
    saved = await transact(request, who, lambda conn: mail.put_settings(conn, who.tenant_id, values,
                                                                        keep_password=keep_password))
    return respond(saved)
