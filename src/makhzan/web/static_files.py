"""The screens' static files (htmx, CSS, the till's script), served from the package.

Served by a route rather than a mount so that any app can include them with a router (the
terminal agent serves the till offline). Only files that exist in web/static are served:
a name is looked up in the folder's listing, never joined onto a path.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from makhzan import errors

_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}


@cache
def _files() -> dict[str, bytes]:
    folder = resources.files("makhzan") / "web" / "static"
    return {entry.name: entry.read_bytes() for entry in folder.iterdir() if entry.is_file()}


def static_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/static/{name}")
    async def static_file(name: str) -> Response:
        body = _files().get(name)
        if body is None:
            raise errors.NotFound("No such file.", {"name": name})
        media_type = next((kind for suffix, kind in _TYPES.items() if name.endswith(suffix)),
                          "application/octet-stream")
        # Short cache: a new release's files reach open tills within minutes, without
        # fingerprinted names.
        return Response(body, media_type=media_type, headers={"Cache-Control": "public, max-age=300"})

    return router
