"""RegistryClient: the OCI distribution spec over aiohttp.

    async with RegistryClient("localhost:5000", credentials) as c:
        resolved = await c.resolve(ref, platform)           # tag -> manifest (index: pick one)
        async for chunk in c.blob_chunks(path, digest): ...  # ranged, for resumed pulls
        await c.upload_blob(path, digest, size, opener)      # HEAD first, then POST + PUT/PATCH
        await c.put_manifest(path, tag, media_type, data)

Errors carry the registry's error codes (spec "Error Codes") in Docker's words. A 401 is
answered once per request: the challenge is satisfied (Basic, or a Bearer token for the
request's scope, kept in a :class:`~dockyard.distribution.tokens.TokenCache` shared by the
daemon's pulls and pushes) and the request repeated. A scope may be several scopes separated by
spaces (a cross-repository mount asks for push on one repository and pull on another).
"""

from __future__ import annotations

import asyncio
import hashlib
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

from . import oauth
from .auth import Challenge, Credentials, parse_challenges, scope_for
from .endpoint import Endpoint, RegistryUnreachable
from .settings import RegistrySettings
from .tokens import BearerRealm, TokenCache, TokenKey

_CHUNK = 1 << 20


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


class DownloadInterrupted(DockyardError):
    """A blob's download broke off (connection reset, registry gone): what arrived is kept, and
    the next pull resumes from there with a Range request."""


class BlobStream:
    """One blob download in progress; network errors while reading become DownloadInterrupted."""

    def __init__(
        self, client: RegistryClient, resp: aiohttp.ClientResponse, digest: str, *, restarted: bool
    ) -> None:
        self._client = client
        self._resp = resp
        self.digest = digest
        self.restarted = restarted
        self.received = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            try:
                chunk = await self._resp.content.readany()
            except (aiohttp.ClientError, TimeoutError) as e:
                raise DownloadInterrupted(
                    f"download of blob {self.digest} broke off after {self.received} bytes "
                    f"({e or type(e).__name__}): pull again to resume where it stopped"
                ) from None
            if not chunk:
                return
            self.received += len(chunk)
            self._client.received += len(chunk)
            yield chunk

    def close(self) -> None:
        self._resp.release()

    async def __aenter__(self) -> BlobStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class RegistryClient:
    def __init__(
        self,
        domain: str,
        credentials: Credentials | None = None,
        *,
        offline_domains: frozenset[str] = frozenset(),
        settings: RegistrySettings | None = None,
        endpoint: Endpoint | None = None,
        tokens: TokenCache | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        what: str = "",
    ) -> None:
        self.settings = settings or RegistrySettings(offline_domains=offline_domains)
        if settings is not None and offline_domains:
            self.settings = RegistrySettings(
                settings.insecure,
                settings.mirrors,
                settings.offline_domains | offline_domains,
                settings.manifest_max,
                settings.index_depth,
            )
        self.endpoint = endpoint or self.settings.endpoint(domain, what)
        self.credentials = credentials
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_read=read_timeout)
        self._session: aiohttp.ClientSession | None = None
        self.tokens = tokens if tokens is not None else TokenCache()
        self._basic = False
        self._lock = asyncio.Lock()
        #: bytes of blob data received by this client (benchmarks and tests read it)
        self.received = 0

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
            if auth is None:
                auth = await self._cached_bearer(scope)
                if auth:
                    hdrs["Authorization"] = auth
            try:
                resp = await self.session.request(method, full, headers=hdrs, data=data, allow_redirects=True)
            except aiohttp.ClientSSLError as e:
                raise RegistryUnreachable(self._tls_problem(e)) from None
            except aiohttp.ClientConnectorError as e:
                raise RegistryUnreachable(
                    f"cannot reach registry {self.endpoint.domain} ({self.endpoint.base_url}): {e.os_error}: "
                    "is it running, and is the address right?"
                ) from None
            except TimeoutError:
                raise RegistryUnreachable(
                    f"registry {self.endpoint.domain} did not answer {method} {url} in time"
                ) from None
            except aiohttp.ClientError as e:
                raise RegistryUnreachable(
                    f"registry {self.endpoint.domain} broke off {method} {url}: {e or type(e).__name__}"
                ) from None
            if resp.status == 401 and attempt == 0:
                challenges = parse_challenges(resp.headers.get("WWW-Authenticate", ""))
                await resp.release()
                if auth and auth.startswith("Bearer "):
                    self._drop_bearer(scope)  # refused (expired early, revoked): fetch a fresh one
                await self._answer(challenges, scope)
                if retry_body is not None:
                    data = retry_body()
                continue
            if resp.status in ok:
                return resp
            await self._raise(resp, what or f"{method} {url}")
        raise AssertionError("unreachable")

    def _tls_problem(self, e: aiohttp.ClientSSLError) -> str:
        """The TLS handshake failed. An answer in plain HTTP shows up as OpenSSL's
        WRONG_VERSION_NUMBER (the reply's first bytes, "HTTP/", read as a TLS record header):
        dockerd says "server gave HTTP response to HTTPS client" and the fix is
        --insecure-registry, which makes the daemon speak plain HTTP to that registry."""
        domain = self.endpoint.domain
        reason = getattr(e, "os_error", None) or e
        if "WRONG_VERSION_NUMBER" in str(reason) or "record layer failure" in str(reason):
            return (
                f"registry {domain} answered in plain HTTP, not HTTPS ({self.endpoint.base_url}: "
                f"{reason}): to use it over plain HTTP, start the daemon with --insecure-registry "
                f'{domain} (or list it in "insecure-registries" of daemon.json)'
            )
        return (
            f"TLS handshake with registry {domain} ({self.endpoint.base_url}) failed: {reason}: "
            "trust the CA that signed its certificate (/etc/ssl/certs), or give it one this host trusts"
        )

    def _auth_header(self, scope: str | None) -> str | None:
        if self._basic and self.credentials:
            return self.credentials.basic()
        return None

    def _user(self) -> str:
        """Whose tokens these are (the token cache's key): an identity token without a user name
        is its own subject, never the anonymous one."""
        if self.credentials is None:
            return ""
        if self.credentials.username:
            return self.credentials.username
        if self.credentials.identity_token:
            return "identity:" + hashlib.sha256(self.credentials.identity_token.encode()).hexdigest()[:16]
        return ""

    def _key(self, bearer: BearerRealm, scope: str | None) -> TokenKey:
        return TokenKey(bearer.realm, bearer.service, scope or "", self._user())

    async def _cached_bearer(self, scope: str | None) -> str | None:
        """A cached token for ``scope``; once the registry is known to want Bearer tokens, a new
        scope's token is fetched before the request instead of after a 401."""
        bearer = self.tokens.bearer.get(self.endpoint.base_url)
        if bearer is None:
            return None
        token = self.tokens.get(self._key(bearer, scope))
        if token is None and scope:
            async with self._lock:  # parallel uploads of one push share the first one's token
                token = self.tokens.get(self._key(bearer, scope))
                if token is None:
                    params = {"realm": bearer.realm, "service": bearer.service}
                    token = await self._fetch_token(Challenge("bearer", params), scope)
        return f"Bearer {token}" if token else None

    def _drop_bearer(self, scope: str | None) -> None:
        bearer = self.tokens.bearer.get(self.endpoint.base_url)
        if bearer is not None:
            self.tokens.drop(self._key(bearer, scope))

    async def _answer(self, challenges: list[Challenge], scope: str | None) -> None:
        for ch in challenges:
            if ch.scheme == "bearer":
                await self._fetch_token(ch, scope)
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
        realm = ch.params.get("realm")
        if not realm:
            raise Unauthorized(f"registry {self.endpoint.domain}: Bearer challenge without a realm")
        service = ch.params.get("service", "")
        bearer = BearerRealm(realm, service)
        self.tokens.bearer[self.endpoint.base_url] = bearer
        key = self._key(bearer, scope)
        if self.credentials and self.credentials.registry_token:
            self.tokens.put(key, self.credentials.registry_token, None)
            return self.credentials.registry_token
        scopes = sorted(set((ch.params.get("scope") or "").split()) | set((scope or "").split()))
        answer = None
        refresh = self._refresh_token(realm, service)
        if refresh is not None and realm not in self.tokens.no_oauth:
            answer = await self._post_refresh(realm, service, scopes, refresh)
        if answer is None:
            answer = await self._get_token(realm, service, scopes)
        self.tokens.put(key, answer.token, answer.expires_in)
        if answer.refresh_token and self.credentials and self.credentials.username:
            self.tokens.put_refresh_token(realm, service, self._user(), answer.refresh_token)
        return answer.token

    def _refresh_token(self, realm: str, service: str) -> str | None:
        """A refresh token for these credentials: one the token server gave earlier, else the
        identity token of `docker login`. Anonymous clients have none."""
        if self.credentials is None:
            return None
        if self.credentials.username:
            cached = self.tokens.refresh_token(realm, service, self._user())
            if cached:
                return cached
        return self.credentials.identity_token or None

    async def _post_refresh(
        self, realm: str, service: str, scopes: list[str], refresh: str
    ) -> oauth.TokenAnswer | None:
        """The OAuth2 refresh grant; None: use the GET (no POST form there, or the refresh token
        was refused and a password can still get a token)."""
        try:
            async with self.session.post(realm, data=oauth.refresh_form(service, scopes, refresh)) as resp:
                body = await resp.read()
                status = resp.status
        except aiohttp.ClientConnectorError as e:
            raise RegistryUnreachable(f"cannot reach the token server {realm}: {e.os_error}") from None
        if status in oauth.NO_OAUTH:
            self.tokens.no_oauth.add(realm)
            return None
        if status in (400, 401, 403):
            self.tokens.drop_refresh_token(realm, service, self._user())
            if self.credentials and self.credentials.username and self.credentials.password:
                return None
            raise Unauthorized(
                f"unauthorized: the token server of {self.endpoint.domain} refused the refresh token "
                f"(revoked or expired; HTTP {status}): run `docker login {self.endpoint.domain}` again"
            )
        if status != 200:
            raise RegistryError(f"token server {realm} answered {status}: {body[:200]!r}")
        answer = oauth.parse_answer(body)
        if answer is None:
            raise RegistryError(f"token server {realm} sent no token")
        self.tokens.refreshed += 1
        return answer

    async def _get_token(self, realm: str, service: str, scopes: list[str]) -> oauth.TokenAnswer:
        headers = {}
        if self.credentials and self.credentials.username:
            headers["Authorization"] = self.credentials.basic()
        url = oauth.get_url(realm, service, scopes, offline=bool(headers))
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
        answer = oauth.parse_answer(body)
        if answer is None:
            raise RegistryError(f"token server {realm} sent no token")
        return answer

    async def _raise(self, resp: aiohttp.ClientResponse, what: str) -> None:
        body = await resp.read()
        resp.release()
        detail = _error_text(body) or f"HTTP {resp.status}"
        if resp.status in (401, 403):
            if not _error_text(body):
                # A HEAD answer has no body to explain itself: say what Docker says, and the fix.
                detail = (
                    "unauthorized: authentication required"
                    if resp.status == 401
                    else "denied: requested access to the resource is denied"
                ) + f" (run `docker login {self.endpoint.domain}` with an account that may)"
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
        limit = self.settings.manifest_max
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
        try:
            declared = int(resp.headers.get("Content-Length", "0") or 0)
            if declared > limit:
                raise InvalidArgument(
                    f"manifest {path}:{ref} is {declared} bytes, more than the limit of {limit}: refused "
                    "(raise the daemon's manifest-max-size if the image is genuine)"
                )
            parts: list[bytes] = []
            got = 0
            while got <= limit:
                chunk = await resp.content.read(limit + 1 - got)
                if not chunk:
                    break
                parts.append(chunk)
                got += len(chunk)
            if got > limit:
                raise InvalidArgument(
                    f"manifest {path}:{ref} is larger than the limit of {limit} bytes: refused "
                    "(raise the daemon's manifest-max-size if the image is genuine)"
                )
        except aiohttp.ClientError as e:
            raise DownloadInterrupted(f"manifest {path}:{ref}: the download broke off: {e}") from None
        finally:
            resp.release()
        data = b"".join(parts)
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        if ref.startswith("sha") and ":" in ref:
            want = Digest.parse(ref)
            got_digest = digest_bytes(data, want.algorithm)
            if got_digest != want:
                raise InvalidArgument(
                    f"manifest {path}@{ref}: digest mismatch: the registry sent content with digest "
                    f"{got_digest}: the registry serves bad content"
                )
            digest = str(want)
        else:
            digest = str(digest_bytes(data))
            header = resp.headers.get("Docker-Content-Digest")
            if header and header.startswith("sha256:") and header != digest:
                raise InvalidArgument(
                    f"manifest {path}:{ref}: digest mismatch: Docker-Content-Digest {header} but the "
                    f"content is {digest}: the registry serves bad content"
                )
        return data, media_type, digest

    async def resolve(self, ref: Reference, platform: Platform) -> Resolved:
        """The manifest ``ref`` names for ``platform``, through nested indexes (image-index.md
        lets an index list indexes) up to the index-depth limit; a digest met twice on the way
        is a loop and refused."""
        path = ref.path
        raw, media_type, digest = await self.get_manifest(path, ref.object, what=ref.familiar())
        top = parse(raw, media_type, f"manifest {ref.familiar()}")
        if isinstance(top, Manifest):
            return Resolved(digest, top.media_type, raw, top, digest, None)
        node: Index = top
        seen = {digest}
        depth = 1
        while True:
            chosen = node.select(platform)
            if chosen.digest in seen:
                raise InvalidArgument(
                    f"index {ref.familiar()} refers back to {chosen.digest}: an index loop, refused"
                )
            seen.add(chosen.digest)
            mraw, mtype, mdigest = await self.get_manifest(
                path, chosen.digest, what=f"{ref.familiar()} ({platform})"
            )
            if mdigest != chosen.digest:
                raise InvalidArgument(
                    f"manifest {chosen.digest}: digest mismatch: the registry sent content with "
                    f"digest {mdigest}"
                )
            child = parse(mraw, mtype or chosen.media_type, f"manifest {chosen.digest}")
            if isinstance(child, Manifest):
                return Resolved(digest, top.media_type, raw, child, mdigest, top)
            depth += 1
            if depth > self.settings.index_depth:
                raise InvalidArgument(
                    f"image {ref.familiar()}: indexes nested deeper than {self.settings.index_depth} "
                    "levels: refused (raise the daemon's index-depth limit if the image is genuine)"
                )
            node = child

    async def tags(self, path: str) -> list[str]:
        """Every tag of a repository (spec "Listing Tags"), following ``Link`` pagination."""
        url = f"/v2/{path}/tags/list?n=1000"
        out: list[str] = []
        for _ in range(10_000):
            resp = await self.request("GET", url, scope=scope_for(path, "pull"), what=f"tags of {path}")
            try:
                body = await resp.json(content_type=None)
            except (json.JSONDecodeError, aiohttp.ContentTypeError):
                raise RegistryError(
                    f"registry {self.endpoint.domain}: tags list of {path} is not JSON"
                ) from None
            finally:
                resp.release()
            out.extend(str(t) for t in (body.get("tags") or []) if isinstance(body, dict))
            link = resp.headers.get("Link", "")
            if 'rel="next"' not in link:
                break
            url = urljoin(str(resp.url), link.split(";")[0].strip().strip("<>"))
        return out

    async def open_blob(
        self, path: str, digest: str, offset: int = 0, urls: tuple[str, ...] = ()
    ) -> BlobStream:
        """Start reading a blob from ``offset`` (``Range: bytes=<offset>-``).

        A registry that ignores the Range answers 200 with the whole blob: the stream's
        ``restarted`` is then True and its data starts at byte 0. ``urls`` are a foreign
        (non-distributable) layer's download locations (descriptor.md "urls"), tried in order
        when the registry does not hold the blob, as dockerd does for Windows base layers.
        """
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            resp = await self.request(
                "GET",
                f"/v2/{path}/blobs/{digest}",
                scope=scope_for(path, "pull"),
                headers=headers,
                ok=(200, 206),
                what=f"blob {digest}",
            )
        except NotFound:
            if not urls:
                raise
            resp = await self._foreign(digest, urls, headers)
        return BlobStream(self, resp, digest, restarted=bool(offset) and resp.status == 200)

    async def blob_request(self, path: str, digest: str, offset: int) -> tuple[str, dict[str, str]]:
        """The URL and headers for a blocking download of a blob (blocking.open_blob): the
        authorization this client already holds for the repository's pull scope."""
        scope = scope_for(path, "pull")
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        auth = self._auth_header(scope) or await self._cached_bearer(scope)
        if auth:
            headers["Authorization"] = auth
        return self.endpoint.url(f"/v2/{path}/blobs/{digest}"), headers

    async def _foreign(
        self, digest: str, urls: tuple[str, ...], headers: dict[str, str]
    ) -> aiohttp.ClientResponse:
        problems = []
        for url in urls:
            if not url.startswith(("http://", "https://")):
                problems.append(f"{url}: not an http(s) URL")
                continue
            try:
                resp = await self.session.get(url, headers=headers)
            except aiohttp.ClientError as e:
                problems.append(f"{url}: {e}")
                continue
            if resp.status in (200, 206):
                return resp
            problems.append(f"{url}: HTTP {resp.status}")
            resp.release()
        raise NotFound(f"foreign layer {digest} could not be fetched from its URLs ({'; '.join(problems)})")

    async def blob_chunks(self, path: str, digest: str, offset: int = 0) -> AsyncIterator[bytes]:
        stream = await self.open_blob(path, digest, offset)
        async with stream:
            async for chunk in stream.chunks():
                yield chunk

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
        mount_from: str | None = None,
    ) -> str:
        """Upload one blob: POST to start, then one PUT with the body (monolithic) or PATCHes of
        ``chunk_size`` bytes and a closing PUT (chunked; spec "Pushing a blob in chunks").

        ``mount_from``: a repository of the same registry that holds the blob; the POST asks to
        mount it from there (spec "Mounting a blob from another repository"). 201 means mounted,
        nothing to send; 202 means the registry declined and the upload goes on at its Location.
        Returns "mounted" or "uploaded".
        """
        scope = scope_for(path, "pull,push")
        url = f"/v2/{path}/blobs/uploads/"
        if mount_from and mount_from != path:
            scope = f"{scope} {scope_for(mount_from, 'pull')}"
            url += "?" + urlencode({"mount": digest, "from": mount_from})
        resp = await self.request("POST", url, scope=scope, ok=(201, 202), what=f"upload of {digest}")
        if resp.status == 201:
            resp.release()
            return "mounted"
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
            return "uploaded"
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
        return "uploaded"

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
