"""The agent's HTTP client for the central server (one key: the terminal's)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import orjson

from makhzan.api.json import dumps


class CentralUnavailable(Exception):
    """Central did not give an answer we can act on: no connection, a timeout, a 5xx, a 429."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        # Central sends decimals as strings; a JSON number would be parsed exactly, never as a float.
        return json.loads(self.body, parse_float=Decimal)

    def fast_json(self) -> Any:
        """orjson for the big catalog pages, whose decimals are all strings (the API's rule)."""
        return orjson.loads(self.body)


# Statuses that say "not now" rather than "no": the request may be sent again unchanged.
_RETRY_LATER = {408, 425, 429}


class Central:
    def __init__(self, url: str, key: str, *, timeout: float = 10.0, forward_timeout: float = 2.0) -> None:
        self.url = url.rstrip("/")
        self.forward_timeout = forward_timeout
        self.http = httpx.AsyncClient(
            base_url=f"{self.url}/api/v1", headers={"Authorization": f"Bearer {key}"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            # Hundreds of tills; each keeps one or two connections to central.
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=2),
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def _request(self, method: str, path: str, *, content: bytes | None = None,
                       params: dict[str, str] | None = None, timeout: float | None = None) -> Reply:
        headers = {"content-type": "application/json"} if content is not None else None
        try:
            response = await self.http.request(method, path, content=content, params=params, headers=headers,
                                               timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT)
        except httpx.HTTPError as exc:
            raise CentralUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code in _RETRY_LATER:
            raise CentralUnavailable(f"central answered {response.status_code}")
        return Reply(response.status_code, response.content)

    async def forward_sale(self, body: bytes) -> Reply:
        """A sale taken online, with the short timeout the till can afford to wait."""
        return await self._request("POST", "/sales", content=body, timeout=self.forward_timeout)

    async def get_sale(self, sale_id: str) -> Reply:
        return await self._request("GET", f"/sales/{sale_id}", timeout=self.forward_timeout)

    async def catalog_changes(self, since: str, limit: int) -> dict[str, Any]:
        reply = await self._request("GET", "/catalog/changes", params={"since": since, "limit": str(limit)})
        if reply.status != 200:
            raise CentralRefused(f"central answered {reply.status}: {reply.body[:300]!r}")
        feed: dict[str, Any] = reply.fast_json()
        return feed

    async def sync_sales(self, sales: list[dict[str, Any]]) -> Reply:
        return await self._request("POST", "/sync/sales", content=dumps({"sales": sales}))

    async def whoami(self) -> dict[str, Any]:
        """The key's role and the location it is bound to (null for an unbound key)."""
        me: dict[str, Any] = _ok(await self._request("GET", "/keys/me"))
        return me

    async def stock_page(self, after_sku: str, after_location: str | None, limit: int,
                         location: str | None = None) -> list[dict[str, Any]]:
        params = {"limit": str(limit), "after_sku": after_sku}
        if location:
            params["location_id"] = location
        if after_location:
            params["after_location_id"] = after_location
        levels: list[dict[str, Any]] = _ok(await self._request("GET", "/stock", params=params))["levels"]
        return levels


class CentralRefused(CentralUnavailable):
    """A 4xx where a 200 was expected: a bad key, a missing endpoint. Retried later like an outage."""


def _ok(reply: Reply) -> Any:
    if reply.status != 200:
        raise CentralRefused(f"central answered {reply.status}: {reply.body[:300]!r}")
    return reply.json()
