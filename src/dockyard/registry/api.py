"""Routing of the distribution API (``/v2/...``) and the JSON error envelope.

Repository names contain slashes, so one route takes everything under /v2/ and the path is split
here from the right: ``<name>/(manifests|blobs|tags|referrers)/<rest>``. A name is checked by
the spec's grammar (names.py) before any storage path is built from it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from dockyard.registry.context import Registry, registry_of
from dockyard.registry.errcode import RegistryError
from dockyard.registry.handlers import blobs, listing, manifests, uploads
from dockyard.registry.names import check_name

log = logging.getLogger("dockyard.registry")

API_VERSION_HEADER = {"Docker-Distribution-API-Version": "registry/2.0"}
_SPLIT = re.compile(r"(?P<name>.+)/(?P<kind>manifests|blobs|tags|referrers)/(?P<rest>.*)")

Handler = Callable[[Registry, web.Request, str, str], Awaitable[web.StreamResponse]]

_ROUTES: dict[tuple[str, str], Handler] = {
    ("manifests", "GET"): manifests.get_manifest,
    ("manifests", "HEAD"): manifests.get_manifest,
    ("manifests", "PUT"): manifests.put_manifest,
    ("manifests", "DELETE"): manifests.delete_manifest,
    ("blobs", "GET"): blobs.get_blob,
    ("blobs", "HEAD"): blobs.get_blob,
    ("blobs", "DELETE"): blobs.delete_blob,
    ("uploads", "PATCH"): uploads.patch_upload,
    ("uploads", "PUT"): uploads.put_upload,
    ("uploads", "GET"): uploads.get_upload,
    ("uploads", "DELETE"): uploads.delete_upload,
    ("referrers", "GET"): manifests.get_referrers,
}


def _not_found(path: str) -> RegistryError:
    return RegistryError(
        "NOT_FOUND",
        f"no API endpoint at {path}: see the OCI distribution spec's endpoint table",
        status=404,
    )


def _unsupported(method: str, path: str) -> RegistryError:
    return RegistryError("UNSUPPORTED", f"{method} is not supported on {path}", status=405)


async def v2(request: web.Request) -> web.StreamResponse:
    reg = registry_of(request)
    tail = request.match_info.get("tail", "")
    if tail == "":
        if request.method not in ("GET", "HEAD"):
            raise _unsupported(request.method, request.path)
        await reg.authorizer.identify(request, scope="")
        return web.json_response({})
    if tail == "_catalog":
        if request.method != "GET":
            raise _unsupported(request.method, request.path)
        return await listing.catalog(reg, request)
    m = _SPLIT.fullmatch(tail)
    if m is None:
        raise _not_found(request.path)
    name, kind, rest = check_name(m.group("name")), m.group("kind"), m.group("rest")
    method = request.method
    if kind == "tags":
        if rest != "list":
            raise _not_found(request.path)
        if method != "GET":
            raise _unsupported(method, request.path)
        return await listing.list_tags(reg, request, name)
    if kind == "blobs" and (rest == "uploads" or rest.startswith("uploads/")):
        upload_id = rest[len("uploads/") :]
        if upload_id == "":
            if method != "POST":
                raise _unsupported(method, request.path)
            return await uploads.start_upload(reg, request, name)
        kind, rest = "uploads", upload_id
    if "/" in rest or rest == "":
        raise _not_found(request.path)
    handler = _ROUTES.get((kind, method))
    if handler is None:
        raise _unsupported(method, request.path)
    return await handler(reg, request, name, rest)


@web.middleware
async def errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """RegistryError -> the spec's JSON envelope; anything unexpected -> 500 UNKNOWN, logged."""
    try:
        resp = await handler(request)
    except RegistryError as e:
        resp = _error_response(request, e)
    except web.HTTPException:
        raise
    except Exception as e:  # a bug or a storage failure: report it, keep serving
        log.exception("internal error on %s %s", request.method, request.path)
        resp = _error_response(request, RegistryError("UNKNOWN", f"internal error: {type(e).__name__}: {e}"))
    return resp


def _error_response(request: web.Request, e: RegistryError) -> web.Response:
    resp = web.json_response(e.body(), status=e.http_status, headers=e.headers)
    if request.method == "HEAD":
        # HEAD answers carry no body (RFC 9110 9.3.2); the status says it all.
        resp = web.Response(status=e.http_status, headers=e.headers)
    return resp


async def _version_header(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/v2"):
        response.headers.update(API_VERSION_HEADER)


def add_routes(app: web.Application) -> None:
    app.router.add_route("*", "/v2/{tail:.*}", v2)
    app.router.add_route("*", "/v2", v2)
    app.on_response_prepare.append(_version_header)
