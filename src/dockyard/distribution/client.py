"""RegistryClient: the OCI distribution spec over aiohttp.

    async with RegistryClient("localhost:5000", credentials) as c:
        resolved = await c.resolve(ref, platform)           # tag -> manifest (index: pick one)
        async for chunk in c.blob_chunks(path, digest): ...  # ranged, for resumed pulls
        await c.upload_blob(path, digest, size, opener)      # HEAD first, then POST + PUT/PATCH
        await c.put_manifest(path, tag, media_type, data)

Errors carry the registry's error codes (spec "Error Codes") in Docker's words. A 401 is
answered once per request: the challenge is satisfied (Basic, or a Bearer token for the
request's scope, cached) and the request repeated.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import urlencode, urljoin

import aiohttp

from dockyard.errors import DockyardError, InvalidArgument, NotFound, Unauthorized
from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import Digest, digest_bytes
from dockyard.oci.manifest import Index, Manifest, parse
from dockyard.oci.platform import Platform
from dockyard.oci.reference import Reference

from .auth import Challenge, Credentials, parse_challenges, scope_for
from .endpoint import RegistryUnreachable, endpoint_for

_CHUNK = 1 << 20
MANIFEST_MAX = 4 << 20  # the spec lets registries refuse larger manifests; so do we


@dataclass(frozen=True)
class Resolved:
    """A reference resolved: what the tag points to (``digest``, maybe an index) and the
    platform's manifest."""

    digest: str  # of what the reference names (the index for a multi-platform image)
    media_type: str
    raw: bytes
    manifest: Manifest
    manifest_digest: str
    index: Index | None


class RegistryError(DockyardError):
    """The registry answered with an error the caller cannot fix by retrying."""


class RegistryClient:
    def __init__(
        self,
        domain: str,
        credentials: Credentials | None = None,
        *,
        offline_domains: frozenset[str] = frozenset(),
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        what: str = "",
    ) -> None:
        self.endpoint = endpoint_for(domain, offline_domains=offline_domains, what=what)
        self.credentials = credentials
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)
        self._session: aiohttp.ClientSession | None = None
        self._tokens: dict[str, str] = {}
        self._basic = False
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> RegistryClient:
        connector = aiohttp.TCPConnector(limit=16, use_dns_cache=True)
        # auto_decompress off: a gzip layer must reach the digest check byte for byte.
        self._session = aiohttp.ClientSession(
            timeout=self._timeout,
            connector=connector,
            auto_decompress=False,
            trust_env=False,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("RegistryClient used outside `async with`")
        return self._session

    # ------------------------------------------------------------------ requests and auth

    async def request(
        self,
        method: str,
        url: str,
        *,
        scope: str | None,
        headers: dict[str, str] | None = None,
        data: Any = None,
        ok: tuple[int, ...] = (200,),
        what: str = "",
        retry_body: Callable[[], Any] | None = None,
    ) -> aiohttp.ClientResponse:
        """Send a request, answering one 401 challenge; raise for statuses not in ``ok``.

        ``retry_body`` makes a fresh body for the repeated request (a stream is used up).
        """
        full = url if url.startswith(("http://", "https://")) else self.endpoint.url(url)
        for attempt in (0, 1):
            hdrs = dict(headers or {})
            auth = self._auth_header(scope)
            if auth:
                hdrs["Authorization"] = auth
            try:
                resp = await self.session.request(method, full, headers=hdrs, data=data, allow_redirects=True)
            except aiohttp.ClientConnectorError as e:
                raise RegistryUnreachable(
                    f"cannot reach registry {self.endpoint.domain} ({self.endpoint.base_url}): {e.os_error}: "
                    "is it running, and is the address right?"
                ) from None
            except TimeoutError:
                raise RegistryUnreachable(
                    f"registry {self.endpoint.domain} did not answer {method} {url} in time"
                ) from None
            if resp.status == 401 and attempt == 0:
                challenges = parse_challenges(resp.headers.get("WWW-Authenticate", ""))
                await resp.release()
                await self._answer(challenges, scope)
                if retry_body is not None:
                    data = retry_body()
                continue
            if resp.status in ok:
                return resp
            await self._raise(resp, what or f"{method} {url}")
        raise AssertionError("unreachable")

    def _auth_header(self, scope: str | None) -> str | None:
        token = self._tokens.get(scope or "") or self._tokens.get("*")
        if token:
            return f"Bearer {token}"
        if self._basic and self.credentials:
            return self.credentials.basic()
        return None

    async def _answer(self, challenges: list[Challenge], scope: str | None) -> None:
        for ch in challenges:
            if ch.scheme == "bearer":
                token = await self._fetch_token(ch, scope)
                self._tokens[scope or "*"] = token
                return
            if ch.scheme == "basic":
                if not self.credentials:
                    raise Unauthorized(
                        f"unauthorized: registry {self.endpoint.domain} needs a login: "
                        f"run `docker login {self.endpoint.domain}`"
                    )
                if self._basic:
                    raise Unauthorized(
                        f"unauthorized: registry {self.endpoint.domain} refused the credentials"
                    )
                self._basic = True
                return
        raise Unauthorized(
            f"unauthorized: registry {self.endpoint.domain} asks for an unsupported authentication"
        )

    async def _fetch_token(self, ch: Challenge, scope: str | None) -> str:
        if self.credentials and self.credentials.registry_token:
            return self.credentials.registry_token
        realm = ch.params.get("realm")
        if not realm:
            raise Unauthorized(f"registry {self.endpoint.domain}: Bearer challenge without a realm")
        query: list[tuple[str, str]] = []
        if ch.params.get("service"):
            query.append(("service", ch.params["service"]))
        for s in {ch.params.get("scope") or "", scope or ""} - {""}:
            query.append(("scope", s))
        headers = {}
        if self.credentials and self.credentials.username:
            headers["Authorization"] = self.credentials.basic()
        url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        try:
            async with self.session.get(url, headers=headers) as resp:
                body = await resp.read()
                if resp.status in (401, 403):
                    raise Unauthorized(
                        f"unauthorized: the token server of {self.endpoint.domain} refused "
                        f"{'the credentials' if headers else 'anonymous access'}: "
                        f"run `docker login {self.endpoint.domain}`"
                    )
                if resp.status != 200:
                    raise RegistryError(f"token server {realm} answered {resp.status}: {body[:200]!r}")
        except aiohttp.ClientConnectorError as e:
            raise RegistryUnreachable(f"cannot reach the token server {realm}: {e.os_error}") from None
        try:
            obj = json.loads(body)
            token = obj.get("token") or obj.get("access_token")
        except (json.JSONDecodeError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"token server {realm} sent no token")
        return token

    async def _raise(self, resp: aiohttp.ClientResponse, what: str) -> None:
        body = await resp.read()
        resp.release()
        detail = _error_text(body) or f"HTTP {resp.status}"
        if resp.status in (401, 403):
            raise Unauthorized(f"{what}: {detail}")
        if resp.status == 404:
            raise NotFound(f"{what}: {detail}")
        if resp.status == 400:
            raise InvalidArgument(f"{what}: {detail}")
        raise RegistryError(f"{what}: {detail}")

    # ------------------------------------------------------------------ reading

    async def ping(self) -> None:
        """GET /v2/: 200, or 401 (the registry is there and wants auth): both fine."""
        resp = await self.request("GET", "/v2/", scope=None, ok=(200, 401))
        resp.release()

    async def get_manifest(
        self, path: str, ref: str, *, accept: tuple[str, ...] = mt.ACCEPT_MANIFESTS, what: str = ""
    ) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of ``path``'s manifest ``ref`` (a tag or a digest)."""
        try:
            resp = await self.request(
                "GET",
                f"/v2/{path}/manifests/{ref}",
                scope=scope_for(path, "pull"),
                headers={"Accept": ", ".join(accept)},
                what=what,
            )
        except NotFound as e:
            raise NotFound(f"manifest for {what or path + ':' + ref} not found: {_tail(str(e))}") from None
        data = await resp.content.read(MANIFEST_MAX + 1)
        resp.release()
        if len(data) > MANIFEST_MAX:
            raise InvalidArgument(f"manifest {path}:{ref} is larger than {MANIFEST_MAX} bytes: refused")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        if ref.startswith("sha") and ":" in ref:
            want = Digest.parse(ref)
            got = digest_bytes(data, want.algorithm)
            if got != want:
                raise InvalidArgument(f"manifest {path}@{ref}: the registry sent content with digest {got}")
            digest = str(want)
        else:
            digest = str(digest_bytes(data))
            header = resp.headers.get("Docker-Content-Digest")
            if header and header.startswith("sha256:") and header != digest:
                raise InvalidArgument(
                    f"manifest {path}:{ref}: Docker-Content-Digest {header} but content is {digest}"
                )
        return data, media_type, digest

    async def resolve(self, ref: Reference, platform: Platform) -> Resolved:
        path = ref.path
        raw, media_type, digest = await self.get_manifest(path, ref.object, what=ref.familiar())
        top = parse(raw, media_type, f"manifest {ref.familiar()}")
        if isinstance(top, Manifest):
            return Resolved(digest, top.media_type, raw, top, digest, None)
        chosen = top.select(platform)
        mraw, mtype, mdigest = await self.get_manifest(
            path, chosen.digest, what=f"{ref.familiar()} ({platform})"
        )
        if mdigest != chosen.digest:
            raise InvalidArgument(
                f"manifest {chosen.digest}: the registry sent content with digest {mdigest}"
            )
        manifest = parse(mraw, mtype or chosen.media_type, f"manifest {chosen.digest}")
        if not isinstance(manifest, Manifest):
            raise InvalidArgument(
                f"index {ref.familiar()} points to another index for {platform}: unsupported"
            )
        return Resolved(digest, top.media_type, raw, manifest, mdigest, top)

    async def blob_chunks(self, path: str, digest: str, offset: int = 0) -> AsyncIterator[bytes]:
        """The blob's bytes from ``offset``; the first chunk is empty-prefixed by restart info:
        if the registry ignored the Range request, :attr:`restarted` is set and data starts at 0."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = await self.request(
            "GET",
            f"/v2/{path}/blobs/{digest}",
            scope=scope_for(path, "pull"),
            headers=headers,
            ok=(200, 206),
            what=f"blob {digest}",
        )
        self.restarted = bool(offset) and resp.status == 200
        try:
            while True:
                chunk = await resp.content.readany()
                if not chunk:
                    break
                yield chunk
        finally:
            resp.release()

    restarted = False

    async def blob_bytes(self, path: str, digest: str, limit: int = 64 << 20) -> bytes:
        parts = []
        total = 0
        async for chunk in self.blob_chunks(path, digest):
            parts.append(chunk)
            total += len(chunk)
            if total > limit:
                raise InvalidArgument(f"blob {digest} is larger than {limit} bytes: refused")
        data = b"".join(parts)
        want = Digest.parse(digest)
        got = digest_bytes(data, want.algorithm)
        if got != want:
            raise InvalidArgument(f"blob {digest}: digest mismatch, the registry sent {got}")
        return data

    # ------------------------------------------------------------------ writing

    async def blob_exists(self, path: str, digest: str) -> bool:
        resp = await self.request(
            "HEAD",
            f"/v2/{path}/blobs/{digest}",
            scope=scope_for(path, "pull,push"),
            ok=(200, 404),
            what=f"blob {digest}",
        )
        resp.release()
        return resp.status == 200

    async def upload_blob(
        self,
        path: str,
        digest: str,
        size: int,
        opener: Callable[[], BinaryIO],
        *,
        chunk_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Upload one blob: POST to start, then one PUT with the body (monolithic) or PATCHes of
        ``chunk_size`` bytes and a closing PUT (chunked; spec "Pushing a blob in chunks")."""
        scope = scope_for(path, "pull,push")
        resp = await self.request(
            "POST", f"/v2/{path}/blobs/uploads/", scope=scope, ok=(202,), what=f"upload of {digest}"
        )
        location = self._location(resp)
        resp.release()
        if chunk_size is None:
            resp = await self.request(
                "PUT",
                _with_query(location, digest=digest),
                scope=scope,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                data=_file_sender(opener, progress),
                ok=(201,),
                what=f"upload of {digest}",
                retry_body=lambda: _file_sender(opener, progress),
            )
            resp.release()
            return
        with opener() as f:
            start = 0
            while start < size:
                chunk = f.read(min(chunk_size, size - start))
                if not chunk:
                    raise InvalidArgument(f"blob {digest} ended at {start} bytes, expected {size}")
                resp = await self.request(
                    "PATCH",
                    location,
                    scope=scope,
                    data=chunk,
                    ok=(202,),
                    what=f"upload of {digest}",
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{start}-{start + len(chunk) - 1}",
                        "Content-Length": str(len(chunk)),
                    },
                )
                location = self._location(resp)
                resp.release()
                start += len(chunk)
                if progress:
                    progress(len(chunk))
        resp = await self.request(
            "PUT",
            _with_query(location, digest=digest),
            scope=scope,
            ok=(201,),
            what=f"upload of {digest}",
            headers={"Content-Length": "0"},
        )
        resp.release()

    def _location(self, resp: aiohttp.ClientResponse) -> str:
        loc = resp.headers.get("Location")
        if not loc:
            raise RegistryError(f"registry {self.endpoint.domain} gave no upload Location")
        return urljoin(str(resp.url), loc)

    async def put_manifest(self, path: str, ref: str, media_type: str, data: bytes) -> str:
        resp = await self.request(
            "PUT",
            f"/v2/{path}/manifests/{ref}",
            scope=scope_for(path, "pull,push"),
            headers={"Content-Type": media_type},
            data=data,
            ok=(201, 200),
            what=f"manifest {path}:{ref}",
        )
        resp.release()
        return resp.headers.get("Docker-Content-Digest") or str(digest_bytes(data))


def _with_query(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


async def _file_sender(
    opener: Callable[[], BinaryIO], progress: Callable[[int], None] | None
) -> AsyncIterator[bytes]:
    with opener() as f:
        while True:
            chunk = await asyncio.to_thread(f.read, 4 * _CHUNK)
            if not chunk:
                break
            yield chunk
            if progress:
                progress(len(chunk))


def _error_text(body: bytes) -> str:
    """The spec's error body {"errors": [{"code", "message", "detail"}]} in Docker's words."""
    try:
        obj = json.loads(body)
        errors = obj.get("errors") if isinstance(obj, dict) else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return body[:200].decode(errors="replace").strip()
    if not errors:
        return ""
    parts = []
    for e in errors:
        code = str(e.get("code", "")).lower().replace("_", " ")
        parts.append(f"{code}: {e.get('message', '')}".strip(": "))
    return "; ".join(parts)


def _tail(message: str) -> str:
    return message.split(": ", 1)[1] if ": " in message else message
