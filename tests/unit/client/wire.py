"""A scripted HTTP peer on a Unix socket, for the client's wire-level tests.

Each accepted connection is served by ``handler(conn)`` on a thread; helpers read one request
head and write canned responses, so the framing cases dockerd rarely produces on demand
(chunked bodies split anywhere, a keep-alive connection closed while idle, a 101 followed at
once by stream bytes) can be produced exactly. The server and its threads end in ``close()``.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable


class Peer:
    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.folder = tempfile.mkdtemp(prefix="dyclient-")
        self.path = os.path.join(self.folder, "peer.sock")
        self.url = f"unix://{self.path}"
        self.handler = handler
        self.requests: list[bytes] = []
        self.connections = 0
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(self.path)
        self._sock.listen(16)
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handler(conn)
        except OSError:
            pass  # the client hung up: the test decides whether that was expected
        finally:
            conn.close()

    def read_request(self, conn: socket.socket) -> bytes | None:
        """One request (head and Content-Length or chunked body); None at EOF."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lower = head.lower()
        if b"content-length:" in lower:
            length = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
            while len(rest) < length:
                rest += conn.recv(65536)
        elif b"transfer-encoding: chunked" in lower:
            while not rest.endswith(b"0\r\n\r\n"):
                rest += conn.recv(65536)
        request = head + b"\r\n\r\n" + rest
        self.requests.append(request)
        return request

    def close(self) -> None:
        # shutdown() wakes the threads blocked in accept() and recv(); close() alone would not.
        for sock in [self._sock, *self._conns]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by its handler
        self._sock.close()
        self._accepter.join(5)
        for t in self._threads:
            t.join(5)
        shutil.rmtree(self.folder, ignore_errors=True)


def response(
    status: int, body: bytes = b"", headers: dict[str, str] | None = None, reason: str = "OK"
) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    hdrs = {"Content-Length": str(len(body)), **(headers or {})}
    lines += [f"{k}: {v}" for k, v in hdrs.items() if v != ""]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(parts: list[bytes]) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
