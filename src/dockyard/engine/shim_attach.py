"""Attach connections to a shim: ``shim.sock``, any number of clients, never blocking the container.

Protocol (a unix stream socket). The client sends one JSON line, then:

    {"stdin": bool, "stdout": bool, "stderr": bool, "logs": bool}
        reply {"tty": bool, "log": [inode, offset] | null}, then the stream: the container's
        output as raw bytes with a TTY, as stdcopy frames without one; the client's bytes go to
        the container's stdin; the client's EOF (shutdown of its write side) closes the
        container's stdin when the container has StdinOnce and this was the first client that
        attached stdin. "log" is the json-file position at the moment the client joined: the
        daemon replays the log up to there, then the live stream continues with no gap.
    {"resize": [height, width]}
        reply {"ok": true} (or {"error": message}), then the shim closes the connection.
    {"wait": true}
        no reply until the container has exited and exit.json is written; then the exit.json
        document as one line, and the connection is closed. A connection that ends without that
        line means the shim process died (the daemon then reads exit.json, or reports 255).
    {"kill": true}
        the shim SIGKILLs the container's init if it still runs (it is the shim's unreaped child,
        so the pid cannot have been reused) and finishes as at any exit; reply {"ok": true}.

Output is fanned out to each client through its own buffer. A client that lets more than
:data:`MAX_PENDING` bytes pile up (slow, stopped, or gone without closing) is dropped: the shim
always reads the container's output at once, so the container and its log never wait for a
client. Stdin is the opposite: bytes a client sent are never dropped, and while the container
does not read them the shim stops reading from stdin clients (the kernel's socket buffers then
push back on them).

Standard library only: this module runs in the shim.
"""

from __future__ import annotations

import functools
import os
import socket

from dockyard.engine import shim_loop
from dockyard.engine.shim_loop import HUP, IN, OUT, RDHUP, Loop
from dockyard.engine.stdcopy import STREAM_IDS, frame

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Protocol

    class Host(Protocol):
        """The monitor's side of the attach server."""

        tty: bool
        stdin_once: bool

        @property
        def stdin_open(self) -> bool: ...
        def write_stdin(self, data: bytes) -> None: ...
        def stdin_backlog(self) -> int: ...
        def close_stdin(self) -> None: ...
        def resize(self, height: int, width: int) -> str | None: ...
        def log_position(self) -> tuple[int, int] | None: ...
        def kill(self) -> None: ...


#: Output a client may have queued before it is dropped: a few seconds of a fast terminal, so a
#: client that is merely busy for a moment keeps its stream; one that stopped reading goes.
MAX_PENDING = 4 << 20
#: Stdin bytes queued for the container before the shim stops reading from stdin clients.
MAX_STDIN_BACKLOG = 1 << 20
#: Longest request line.
MAX_REQUEST = 4096


class Client:
    __slots__ = (
        "close_after_flush",
        "closed",
        "fd",
        "rbuf",
        "reading",
        "ready",
        "sock",
        "stderr",
        "stdin",
        "stdout",
        "waiting",
        "wbuf",
    )

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.rbuf = b""
        self.wbuf = bytearray()
        self.ready = False
        self.reading = True
        self.closed = False
        self.close_after_flush = False
        self.waiting = False
        self.stdin = self.stdout = self.stderr = False


class AttachServer:
    __slots__ = ("_closing", "_first_stdin", "_paused", "clients", "host", "listener", "loop", "path")

    def __init__(self, loop: Loop, path: str, dir_fd: int, host: Host) -> None:
        from dockyard.engine.shim_state import unix_path

        self.loop = loop
        self.host = host
        self.path = path
        self.clients: dict[int, Client] = {}
        self._first_stdin: Client | None = None
        self._paused = False
        self._closing: Callable[[], None] | None = None
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        try:
            self.listener.bind(unix_path(path, dir_fd))
            os.chmod(path, 0o600)
            self.listener.listen(64)
        except BaseException:
            self.listener.close()
            raise
        loop.add(self.listener.fileno(), IN, self._on_accept)

    # ------------------------------------------------------------ connections

    def _on_accept(self, _events: int) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # EMFILE and the like: the client sees its connection closed
            conn.setblocking(False)
            c = Client(conn)
            self.clients[c.fd] = c
            self.loop.add(c.fd, IN | RDHUP, functools.partial(self._on_client, c))

    def _events(self, c: Client) -> int:
        ev = 0
        if c.reading and not (self._paused and c.stdin and c.ready):
            ev |= IN | RDHUP
        if c.wbuf:
            ev |= OUT
        return ev

    def _on_client(self, c: Client, events: int) -> None:
        if events & OUT:
            self._flush(c)
        if not c.closed and c.reading and events & (IN | RDHUP | HUP | shim_loop.ERR):
            self._read(c)
        if not c.closed and events & (HUP | shim_loop.ERR):
            # Both directions are shut: the client is gone. (A client that only shut its
            # write side shows RDHUP, and keeps receiving output.)
            self.drop(c)

    def _read(self, c: Client) -> None:
        while c.reading and not c.closed:
            if self._paused and c.stdin and c.ready:
                return
            try:
                data = c.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.drop(c)
                return
            if not data:
                self._on_eof(c)
                return
            if not c.ready:
                c.rbuf += data
                nl = c.rbuf.find(b"\n")
                if nl < 0:
                    if len(c.rbuf) > MAX_REQUEST:
                        self._reply(c, {"error": f"attach request longer than {MAX_REQUEST} bytes"})
                        c.close_after_flush = True
                        c.reading = False
                        self._update(c)
                    continue
                line, rest = c.rbuf[:nl], c.rbuf[nl + 1 :]
                c.rbuf = b""
                self._request(c, line)
                if rest and c.stdin:
                    self._stdin(rest)
            elif c.stdin:
                self._stdin(data)
            # Bytes from a client that did not attach stdin are dropped, as dockerd drops them.

    def _on_eof(self, c: Client) -> None:
        c.reading = False
        if not c.ready:
            self.drop(c)
            return
        if c is self._first_stdin and self._closes_stdin():
            self.host.close_stdin()
        self._update(c)

    def _request(self, c: Client, line: bytes) -> None:
        from dockyard.oci import fastjson

        try:
            req = fastjson.loads(line)
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            self._reply(c, {"error": f"malformed attach request {line[:200]!r}: {exc}"})
            c.close_after_flush = True
            c.reading = False
            self._update(c)
            return
        if req.get("wait"):
            c.waiting = True
            c.ready = True
            c.reading = False
            self._update(c)
            return
        if req.get("kill"):
            self._reply(c, {"ok": True})
            c.close_after_flush = True
            c.reading = False
            self._update(c)
            if not c.wbuf:
                self.drop(c)
            self.host.kill()
            return
        if "resize" in req:
            size = req["resize"]
            if (
                not isinstance(size, list)
                or len(size) != 2
                or not all(isinstance(v, int) and 0 <= v <= 0xFFFF for v in size)
            ):
                error: str | None = f"resize {size!r}: give [height, width], two numbers from 0 to 65535"
            else:
                error = self.host.resize(size[0], size[1])
            self._reply(c, {"ok": True} if error is None else {"error": error})
            c.close_after_flush = True
            c.reading = False
            self._update(c)
            if not c.wbuf:
                self.drop(c)
            return
        c.stdin = bool(req.get("stdin")) and self.host.stdin_open
        c.stdout = bool(req.get("stdout"))
        c.stderr = bool(req.get("stderr"))
        position = self.host.log_position() if req.get("logs") else None
        self._reply(c, {"tty": self.host.tty, "log": None if position is None else list(position)})
        c.ready = True
        if self._closing is not None:
            # The container has exited: the stream ends right after the reply.
            c.reading = False
            c.close_after_flush = True
            self._update(c)
            return
        if c.stdin and self._first_stdin is None:
            self._first_stdin = c
        if not req.get("stdin"):
            # Nothing more to read from it but its hang-up, which epoll reports regardless. (A
            # client that sends stdin to a container without OpenStdin is read and discarded,
            # as dockerd does, so its writes never block.)
            c.reading = False
        self._update(c)

    def _reply(self, c: Client, doc: dict[str, object]) -> None:
        from dockyard.oci import fastjson

        self._send(c, (fastjson.dumps(doc) + "\n").encode())

    # ------------------------------------------------------------ stdin

    def _stdin(self, data: bytes) -> None:
        self.host.write_stdin(data)
        if not self._paused and self.host.stdin_backlog() > MAX_STDIN_BACKLOG:
            self._paused = True
            for c in self.clients.values():
                if c.stdin:
                    self._update(c)

    def resume_stdin(self) -> None:
        """The container read its stdin backlog: read from stdin clients again."""
        if self._paused:
            self._paused = False
            for c in self.clients.values():
                if c.stdin:
                    self._update(c)

    # ------------------------------------------------------------ output

    def broadcast(self, stream: str, data: bytes) -> None:
        """Send output read from ``stream`` to every client that asked for it."""
        framed: bytes | None = None
        for c in list(self.clients.values()):
            if not c.ready or c.waiting:
                continue
            if self.host.tty:
                # One stream with a TTY: it is stdout (the runtime gives no separate stderr).
                if c.stdout:
                    self._send(c, data)
            elif c.stdout if stream == "stdout" else c.stderr:
                if framed is None:
                    framed = frame(STREAM_IDS[stream], data)
                self._send(c, framed)

    def _send(self, c: Client, data: bytes) -> None:
        if c.closed:
            return
        if not c.wbuf:
            try:
                n = c.sock.send(data)
            except (BlockingIOError, InterruptedError):
                n = 0
            except OSError:
                self.drop(c)
                return
            if n == len(data):
                return
            data = data[n:]
            c.wbuf += data
            self._update(c)
            return
        c.wbuf += data
        if len(c.wbuf) > MAX_PENDING:
            self.drop(c)

    def _flush(self, c: Client) -> None:
        try:
            n = c.sock.send(c.wbuf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.drop(c)
            return
        del c.wbuf[:n]
        if not c.wbuf:
            if c.close_after_flush:
                self.drop(c)
                return
            self._update(c)

    def _update(self, c: Client) -> None:
        if not c.closed:
            self.loop.modify(c.fd, self._events(c))

    def _closes_stdin(self) -> bool:
        """StdinOnce ends the container's input when its first stdin client leaves, but only
        without a TTY, as dockerd (container/stream/attach.go: CloseStdin && !TTY): a detached or
        killed `run -it` client leaves its shell running for the next `attach`."""
        return self.host.stdin_once and not self.host.tty

    def drop(self, c: Client) -> None:
        if c.closed:
            return
        c.closed = True
        self.loop.remove(c.fd)
        self.clients.pop(c.fd, None)
        c.sock.close()
        if c is self._first_stdin and self._closes_stdin():
            # Gone without a clean EOF (killed, reset): StdinOnce ends the input all the same.
            self.host.close_stdin()
        if self._closing is not None:
            self._check_closed()

    # ------------------------------------------------------------ the end

    def _streaming(self) -> list[Client]:
        # A client whose request has not been read yet may be a waiter: it stays until close(),
        # which comes after exit.json is written, so even unanswered it finds the status.
        return [c for c in self.clients.values() if c.ready and not c.waiting]

    def close_streams(self, then: Callable[[], None], timeout: float = 1.0) -> None:
        """Let every attached client receive what is queued for it, close it, then call ``then``.

        Without blocking the loop (other containers of this shim process go on): a client is
        closed once its buffer is sent; whatever is left at ``timeout`` is dropped.
        """
        self._closing = then
        for c in self._streaming():
            c.reading = False
            if c.wbuf:
                c.close_after_flush = True
                self._update(c)
            else:
                self.drop(c)
        if self._closing is not None:
            self.loop.call_later(timeout, self._streams_deadline)
        self._check_closed()

    def _streams_deadline(self) -> None:
        for c in self._streaming():
            self.drop(c)  # it did not read its tail in time
        self._check_closed()

    def _check_closed(self) -> None:
        then = self._closing
        if then is not None and not self._streaming():
            self._closing = None
            then()

    def close(self, exit_doc: dict[str, object] | None = None) -> None:
        """Answer the waiters with ``exit_doc`` (exit.json is written), stop listening, close all."""
        from dockyard.oci import fastjson

        self._closing = None
        self.loop.remove(self.listener.fileno())
        line = b"" if exit_doc is None else (fastjson.dumps(exit_doc) + "\n").encode()
        for c in list(self.clients.values()):
            if line and c.waiting and not c.closed:
                try:
                    c.sock.send(line)  # a few bytes into an empty socket buffer: never blocks
                except OSError:
                    pass  # the waiter went away; a new one reads exit.json
            self.drop(c)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass  # a new shim of the same container cleared the folder already
        self.listener.close()
