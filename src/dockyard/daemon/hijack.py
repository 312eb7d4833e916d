"""Hijacked connections: attach and exec start turn the HTTP connection into a raw byte pipe.

Docker's protocol: the client sends `Connection: Upgrade` and `Upgrade: tcp`; the daemon answers
`101 UPGRADED` and from then on the socket carries the container's output one way and its stdin
the other. A client that does not ask for the upgrade still gets the raw stream, after a
`200 OK` head with no length (dockerd hijacks either way). The client half-closes its side
(shutdown(SHUT_WR)) when stdin ends and keeps reading the output: an asyncio transport closes
itself on EOF unless its protocol's eof_received() returns true, and aiohttp's does not, so
after the head we take the transport over with a protocol of our own. aiohttp's message tail
(bytes that came with the request head) is collected through its public set_parser() first.

We write the response head ourselves, bypassing aiohttp's response object, because an aiohttp
response would chunk-encode the stream.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"


class Hijacked(asyncio.Protocol):
    """The taken-over connection: `reader` has what the client sends; write()/drain() send."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.reader = asyncio.StreamReader()
        self.closed = asyncio.Event()
        self._can_write = asyncio.Event()
        self._can_write.set()

    # --- the parser interface aiohttp's set_parser() feeds (the message tail)
    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        if not self.reader.at_eof():
            self.reader.feed_eof()

    # --- asyncio.Protocol, once we own the transport
    def data_received(self, data: bytes) -> None:
        self.reader.feed_data(data)

    def eof_received(self) -> bool:
        # The client's half-close: its stdin ended; keep the socket open for the output.
        self.feed_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.feed_eof()
        self.closed.set()
        self._can_write.set()

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    # --- writing
    def write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)

    async def drain(self) -> None:
        await self._can_write.wait()
        if self.transport.is_closing():
            raise ConnectionResetError("the client closed the connection")

    def close_write(self) -> None:
        """Tell the client the output ended (it then closes its side too)."""
        if not self.transport.is_closing() and self.transport.can_write_eof():
            self.transport.write_eof()

    def close(self) -> None:
        self.transport.close()

    @property
    def is_closing(self) -> bool:
        return self.transport.is_closing()


def wants_upgrade(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "tcp"


def hijack(request: web.Request, content_type: str) -> Hijacked:
    """Send the response head and take the connection over. The handler must call finish()."""
    transport = request.transport
    protocol: Any = request.protocol
    if transport is None or protocol is None:
        raise ConnectionResetError("the client closed the connection")
    if wants_upgrade(request):
        head = (
            "HTTP/1.1 101 UPGRADED\r\n"
            f"Content-Type: {content_type}\r\n"
            "Connection: Upgrade\r\n"
            "Upgrade: tcp\r\n"
        )
    else:
        head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
    hijacked = Hijacked(transport)
    transport.write((head + _common_headers(request) + "\r\n").encode())
    protocol.set_parser(hijacked)  # hands us aiohttp's buffered tail, then raw data
    transport.set_protocol(hijacked)
    return hijacked


def _common_headers(request: web.Request) -> str:
    from dockyard.daemon.version import API_VERSION

    return f"Api-Version: {API_VERSION}\r\nOstype: linux\r\nServer: Docker/dockyard (linux)\r\n"


def finish(request: web.Request, hijacked: Hijacked) -> web.StreamResponse:
    """Close the hijacked connection; the return value satisfies aiohttp and is never sent.

    force_close() ends aiohttp's keep-alive loop for this connection, which would otherwise wait
    for a next request that can never come (its protocol is no longer attached).
    """
    hijacked.close()
    protocol: Any = request.protocol
    if protocol is not None:
        protocol.force_close()
    return web.StreamResponse(status=200)
