"""Blob downloads on a worker thread, with the standard library's blocking HTTP client.

A layer is verified, decompressed and unpacked on a worker thread; receiving its bytes there too
(``recv`` straight into the pipeline's buffer, the GIL released while it waits) spares the event
loop a hop per chunk and a queue between the two threads: the receive loop of aiohttp cost a
fifth of a pull's CPU (bench/pull.py). The event loop still does everything else (auth
challenges, tokens, manifests); the worker gets the URL and the headers that already work.

Redirects (a registry that hands blobs out from object storage answers 307) are followed, at
most 5, without the registry's Authorization header when the host changes. Any status other
than 200/206 is returned to the caller, which then takes the asynchronous path with its full
error handling.
"""

from __future__ import annotations

import http.client
import ssl
from urllib.parse import urljoin, urlsplit

_REDIRECTS = (301, 302, 303, 307, 308)


class BlockingBlob:
    """An open blob response: ``read(n)`` returns at most n bytes, b"" at the end; a connection
    that breaks off raises ConnectionError (http.client's IncompleteRead included)."""

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> None:
        self._conn = conn
        self._resp = resp
        self.status = resp.status
        self.received = 0

    def read(self, n: int = -1) -> bytes:
        try:
            data = self._resp.read1(n if n > 0 else 1 << 20)
        except http.client.IncompleteRead as e:
            raise ConnectionError(f"the connection closed early ({e})") from None
        except (http.client.HTTPException, OSError) as e:
            raise ConnectionError(str(e) or type(e).__name__) from None
        if not data and self._resp.length:
            raise ConnectionError(f"the connection closed {self._resp.length} bytes early")
        self.received += len(data)
        return data

    def close(self) -> None:
        self._resp.close()
        self._conn.close()


def open_blob(url: str, headers: dict[str, str], timeout: float) -> BlockingBlob:
    for _ in range(6):
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("GET", target, headers=headers)
            resp = conn.getresponse()
        except (http.client.HTTPException, OSError) as e:
            conn.close()
            raise ConnectionError(f"GET {url}: {e or type(e).__name__}") from None
        if resp.status in _REDIRECTS and resp.getheader("Location"):
            location = urljoin(url, resp.getheader("Location") or "")
            resp.close()
            conn.close()
            if urlsplit(location).netloc != parts.netloc:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            url = location
            continue
        return BlockingBlob(conn, resp)
    raise ConnectionError(f"GET {url}: more than 5 redirects")
