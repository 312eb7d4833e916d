"""HTTP/1.1 on one socket: requests, responses, chunked bodies, and taking the socket over.

Just what the Engine API needs, on the standard library's ``socket`` alone. ``http.client``
imports ``email.parser``, ``ssl`` and ``calendar`` (30 to 45 ms here, more than the rest of a
``dockyard ps``), and it cannot hand over the socket of a ``101 Switching Protocols`` answer, which
attach and exec need (RFC 9110 section 15.2.2: after the 101 the connection is a raw byte pipe).

A response body is read as RFC 9112 section 6.3 says: none for HEAD, 1xx, 204 and 304;
``Transfer-Encoding: chunked`` (section 7.1); ``Content-Length``; else until the server closes.
"""

from __future__ import annotations

from dockyard.errors import DockyardError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Iterable, Iterator
    from typing import Any, BinaryIO

    Body = bytes | Iterable[bytes] | BinaryIO | None

CHUNK = 65536
MAX_LINE = 65536
MAX_HEADERS = 200


class ProtocolError(DockyardError):
    """The daemon's answer is not HTTP/1.1 as expected (or the connection dropped mid-answer)."""


class SocketReader:
    """A receive buffer over a socket: lines for the head, exact counts and "whatever came" for bodies."""

    __slots__ = ("buffer", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def fill(self) -> bool:
        data = self.sock.recv(CHUNK)
        if not data:
            return False
        self.buffer += data
        return True

    def readline(self) -> bytes:
        """One line with its ending; b"" at a clean EOF before any byte of it."""
        start = 0
        while True:
            end = self.buffer.find(b"\n", start)
            if end >= 0:
                line = bytes(self.buffer[: end + 1])
                del self.buffer[: end + 1]
                return line
            if len(self.buffer) > MAX_LINE:
                raise ProtocolError(f"the daemon sent a line longer than {MAX_LINE} bytes")
            start = len(self.buffer)
            if not self.fill():
                line = bytes(self.buffer)
                self.buffer.clear()
                return line

    def read_exact(self, n: int) -> bytes:
        while len(self.buffer) < n:
            if not self.fill():
                raise ProtocolError(f"the daemon closed the connection {n - len(self.buffer)} bytes early")
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def read_some(self, limit: int = CHUNK) -> bytes:
        """Up to ``limit`` bytes, waiting for at least one; b"" at EOF."""
        if not self.buffer and not self.fill():
            return b""
        data = bytes(self.buffer[:limit])
        del self.buffer[:limit]
        return data


def encode_request(method: str, target: str, headers: Iterable[tuple[str, str]], length: int | None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    if length is not None:
        lines.append(f"Content-Length: {length}")
    elif method not in ("GET", "HEAD", "DELETE"):
        lines.append("Transfer-Encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def send_request(
    sock: socket.socket, method: str, target: str, headers: Iterable[tuple[str, str]], body: Body
) -> None:
    """Write one request. ``bytes`` go with a Content-Length; iterables and files chunked."""
    if body is None:
        sock.sendall(encode_request(method, target, headers, 0 if method in ("POST", "PUT") else None))
        return
    if isinstance(body, bytes | bytearray | memoryview):
        sock.sendall(encode_request(method, target, headers, len(body)) + bytes(body))
        return
    sock.sendall(encode_request(method, target, headers, None))
    read = getattr(body, "read", None)
    pieces: Iterable[bytes] = body if read is None else iter(lambda: read(CHUNK), b"")
    for piece in pieces:
        if piece:
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
    sock.sendall(b"0\r\n\r\n")


class Response:
    """One response; its body is read at most once (all of it, as chunks, or not at all)."""

    def __init__(
        self,
        sock: socket.socket,
        reader: SocketReader,
        method: str,
        on_reusable: Callable[[], None] | None = None,
    ) -> None:
        self.sock: socket.socket | None = sock
        self.reader = reader
        self._on_reusable = on_reusable
        line = reader.readline()
        if not line:
            raise ConnectionResetError("the daemon closed the connection without answering")
        parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ProtocolError(f"the daemon's answer is not HTTP: {line[:80]!r}")
        self.status = int(parts[1])
        self.reason = parts[2] if len(parts) > 2 else ""
        self.headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS):
            raw = reader.readline()
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _, value = raw.decode("latin-1").partition(":")
            key = name.strip().lower()
            value = value.strip()
            self.headers[key] = f"{self.headers[key]}, {value}" if key in self.headers else value
        else:
            raise ProtocolError(f"the daemon sent more than {MAX_HEADERS} header lines")
        self._chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        self._remaining: int | None = None
        self._until_eof = False
        self._chunk_left = 0
        if method == "HEAD" or self.status in (204, 304) or 100 <= self.status < 200:
            self._remaining = 0
        elif not self._chunked:
            length = self.headers.get("content-length")
            if length is not None and length.isdigit():
                self._remaining = int(length)
            else:
                self._until_eof = True
        self.done = self._remaining == 0 and not self._chunked
        if self.done:
            self._finish()

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def _finish(self) -> None:
        self.done = True
        reusable = not self._until_eof and self.header("connection").lower() != "close"
        if reusable and self._on_reusable is not None and self.status != 101:
            callback, self._on_reusable = self._on_reusable, None
            self.sock = None  # the connection goes back to its pool: closing this response must not end it
            callback()
        elif self.status != 101:
            self.close()

    def iter_chunks(self) -> Iterator[bytes]:
        """The body as it arrives (chunked transfer coding removed)."""
        while not self.done:
            piece = self._next_piece()
            if piece:
                yield piece

    def _next_piece(self) -> bytes:
        if self._chunked:
            if self._chunk_left == 0:
                size_line = self.reader.readline()
                size_text = size_line.split(b";", 1)[0].strip()
                try:
                    self._chunk_left = int(size_text, 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size line from the daemon: {size_line[:40]!r}") from None
                if self._chunk_left == 0:
                    # Trailer fields, then the empty line that ends the message (RFC 9112 7.1.2).
                    while self.reader.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    self._finish()
                    return b""
            data = self.reader.read_some(self._chunk_left)
            if not data:
                raise ProtocolError("the daemon closed the connection in the middle of a chunk")
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                self.reader.read_exact(2)  # the CRLF after the chunk's data
            return data
        if self._until_eof:
            data = self.reader.read_some()
            if not data:
                self._finish()
            return data
        assert self._remaining is not None
        data = self.reader.read_some(min(self._remaining, CHUNK))
        if not data:
            raise ProtocolError(f"the daemon closed the connection {self._remaining} bytes early")
        self._remaining -= len(data)
        if self._remaining == 0:
            self._finish()
        return data

    def read(self) -> bytes:
        return b"".join(self.iter_chunks())

    def json(self) -> Any:
        from dockyard.oci import fastjson  # `json` imports re and enum: several ms of every command

        data = self.read()
        return fastjson.loads(data) if data.strip() else None

    def iter_lines(self) -> Iterator[bytes]:
        """Newline-delimited records of a streamed body (events, progress, stats)."""
        pending = b""
        for chunk in self.iter_chunks():
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    yield line
        if pending.strip():
            yield pending

    def detach(self) -> tuple[socket.socket, SocketReader]:
        """Take the socket over (after a 101, or to read a raw stream by hand); it is then the caller's."""
        sock = self.sock
        if sock is None:
            raise ProtocolError("the connection of this response is already closed")
        self.sock = None
        self.done = True
        self._on_reusable = None
        return sock, self.reader

    def close(self) -> None:
        """Drop the connection (a stream the caller stops reading cannot be reused)."""
        self.done = True
        self._on_reusable = None
        if self.sock is not None:
            sock, self.sock = self.sock, None
            sock.close()
