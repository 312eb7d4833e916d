"""``/v2/<name>/tags/list`` and ``/v2/_catalog``, paginated; the catalog only shows what the
caller may pull."""

from __future__ import annotations

from aiohttp import web

from dockyard.registry.context import Registry
from dockyard.registry.errcode import RegistryError
from dockyard.registry.pagination import page
from dockyard.registry.repositories import list_repositories


async def list_tags(reg: Registry, request: web.Request, name: str) -> web.StreamResponse:
    await reg.authorizer.authorize(request, name, frozenset({"pull"}))
    if not await reg.manifests.repository_exists(name):
        raise RegistryError(
            "NAME_UNKNOWN",
            f"repository {name} is not known to this registry: push an image to it first",
            detail={"name": name},
        )
    tags = await reg.manifests.tags(name)
    chosen, link = page(tags, request.query.get("n"), request.query.get("last"), f"/v2/{name}/tags/list")
    resp = web.json_response({"name": name, "tags": chosen})
    if link:
        resp.headers["Link"] = link
    return resp


async def catalog(reg: Registry, request: web.Request) -> web.StreamResponse:
    principal = await reg.authorizer.identify(request)
    names = await reg.authorizer.visible(principal, await list_repositories(reg.driver))
    chosen, link = page(names, request.query.get("n"), request.query.get("last"), "/v2/_catalog")
    resp = web.json_response({"repositories": chosen})
    if link:
        resp.headers["Link"] = link
    return resp
