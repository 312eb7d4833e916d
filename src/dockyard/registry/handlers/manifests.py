"""``/v2/<name>/manifests/<reference>``: HEAD, GET (with Accept negotiation), PUT, DELETE."""

from __future__ import annotations

import json

from aiohttp import web

from dockyard.registry.context import Registry
from dockyard.registry.digest import Digest, digest_of, is_digest, parse_digest
from dockyard.registry.errcode import RegistryError
from dockyard.registry.manifest import INDEX_KINDS, MAX_MANIFEST, pick_platform


def accepted_types(request: web.Request) -> list[str] | None:
    """Media types from every Accept header (clients send several); None means "anything"."""
    values = request.headers.getall("Accept", [])
    types = [part.split(";")[0].strip() for v in values for part in v.split(",")]
    types = [t for t in types if t]
    if not types or "*/*" in types:
        return None
    return types


async def get_manifest(reg: Registry, request: web.Request, name: str, ref: str) -> web.StreamResponse:
    await reg.authorizer.authorize(request, name, frozenset({"pull"}))
    d, m = await reg.manifests.get(name, ref)
    accepted = accepted_types(request)
    if accepted is not None and m.media_type not in accepted:
        entry = pick_platform(m.doc, accepted) if m.media_type in INDEX_KINDS and not is_digest(ref) else None
        if entry is None:
            raise RegistryError(
                "MANIFEST_UNKNOWN",
                f"manifest {ref} in {name} is {m.media_type}, which the client does not accept "
                f"(Accept: {', '.join(accepted)}); ask for it by adding that type to Accept",
                detail={"mediaType": m.media_type},
            )
        # Distribution's fallback for clients that cannot read an index: the linux/amd64 image.
        d, m = await reg.manifests.get(name, entry["digest"])
    headers = {
        "Content-Type": m.media_type,
        "Docker-Content-Digest": str(d),
        "ETag": f'"{d}"',
    }
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(m.raw))
        return web.Response(status=200, headers=headers)
    return web.Response(status=200, body=m.raw, headers=headers)


async def put_manifest(reg: Registry, request: web.Request, name: str, ref: str) -> web.StreamResponse:
    await reg.authorizer.authorize(request, name, frozenset({"pull", "push"}))
    reg.check_writable()
    declared = request.content_length
    too_big = RegistryError(
        "MANIFEST_INVALID",
        f"manifest is larger than {MAX_MANIFEST} bytes (4 MiB), the most this registry accepts: "
        "split the image into an index of smaller manifests",
        status=413,
    )
    if declared is not None and declared > MAX_MANIFEST:
        raise too_big
    raw = bytearray()
    async for piece in request.content.iter_chunked(1 << 16):
        raw += piece
        if len(raw) > MAX_MANIFEST:
            raise too_big
    d, m = await reg.manifests.put(name, ref, bytes(raw), request.headers.get("Content-Type"))
    headers = {
        "Location": f"/v2/{name}/manifests/{d}",
        "Docker-Content-Digest": str(d),
        "Content-Length": "0",
    }
    if m.subject is not None:
        headers["OCI-Subject"] = str(m.subject.digest)
    return web.Response(status=201, headers=headers)


async def delete_manifest(reg: Registry, request: web.Request, name: str, ref: str) -> web.StreamResponse:
    await reg.authorizer.authorize(request, name, frozenset({"delete"}))
    reg.check_writable()
    await reg.manifests.delete(name, ref)
    return web.Response(status=202)


async def get_referrers(reg: Registry, request: web.Request, name: str, ref: str) -> web.StreamResponse:
    await reg.authorizer.authorize(request, name, frozenset({"pull"}))
    subject: Digest = parse_digest(ref)
    artifact_type = request.query.get("artifactType") or None
    found = await reg.manifests.referrers(name, subject, artifact_type)
    doc = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": found}
    body = json.dumps(doc).encode()
    headers = {
        "Content-Type": "application/vnd.oci.image.index.v1+json",
        "Docker-Content-Digest": str(digest_of(body)),
    }
    if artifact_type:
        headers["OCI-Filters-Applied"] = "artifactType"
    return web.Response(status=200, body=body, headers=headers)
