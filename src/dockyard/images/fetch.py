"""``docker import URL``: the root filesystem tarball fetched by the daemon over HTTP(S).

dockerd downloads the URL itself (``POST /images/create?fromSrc=<url>``). The same network rule
as pulls applies: a URL on a registry domain marked offline is refused at once, and loopback
is plain HTTP. Redirects are followed (at most 10) and the body goes to a file, so the import
reads it at disk speed.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from dockyard.errors import DockyardError, InvalidArgument, NotFound

_CHUNK = 1 << 20


async def download(url: str, dest: Path, *, max_size: int) -> int:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(f"invalid import source {url!r}: give - (the request body) or an http(s) URL")
    timeout = aiohttp.ClientTimeout(total=None, connect=5, sock_read=60)
    size = 0
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout, auto_decompress=False, trust_env=False) as session,
            session.get(url, max_redirects=10) as resp,
        ):
            if resp.status == 404:
                raise NotFound(f"import source {url} not found (HTTP 404)")
            if resp.status != 200:
                raise DockyardError(f"import source {url} answered HTTP {resp.status}")
            with open(dest, "wb") as f:
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    size += len(chunk)
                    if size > max_size:
                        raise InvalidArgument(f"import source {url} is larger than {max_size} bytes: refused")
                    f.write(chunk)
    except aiohttp.ClientError as e:
        raise DockyardError(f"cannot download the import source {url}: {e}") from None
    return size
