"""Docker's ``GET /v1/search?q=&n=&page=`` (what `docker search` calls), answering only with the
repositories the caller may pull."""

from __future__ import annotations

import math

from aiohttp import web

from dockyard.registry.access import ANONYMOUS
from dockyard.registry.context import registry_of
from dockyard.registry.errcode import RegistryError
from dockyard.registry.repositories import list_repositories


def _int(value: str | None, default: int, what: str) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise RegistryError(
            "INVALID_REQUEST", f"invalid {what}={value!r}: use a whole number", status=400
        ) from None
    if n < 1:
        raise RegistryError("INVALID_REQUEST", f"invalid {what}={value}: use 1 or more", status=400)
    return n


async def search(request: web.Request) -> web.StreamResponse:
    reg = registry_of(request)
    q = request.query.get("q", "").strip().lower()
    size = min(_int(request.query.get("n"), 25, "n"), 100)
    page = _int(request.query.get("page"), 1, "page")
    # Anonymous callers get the public repositories; credentials, if sent, must be valid.
    principal = ANONYMOUS
    if request.headers.get("Authorization"):
        principal = await reg.authorizer.identify(request, scope="")
    names = await reg.authorizer.visible(principal, await list_repositories(reg.driver))
    hits = [n for n in names if q in n]
    chosen = hits[(page - 1) * size : page * size]
    return web.json_response(
        {
            "query": q,
            "num_results": len(hits),
            "num_pages": max(1, math.ceil(len(hits) / size)),
            "page": page,
            "page_size": size,
            "results": [
                {"name": n, "description": "", "star_count": 0, "is_official": False, "is_automated": False}
                for n in chosen
            ],
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/search", search)
