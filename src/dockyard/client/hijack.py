"""A hijacked connection: after attach's or exec start's ``101 Switching Protocols`` (``Upgrade: tcp``).

The socket then carries the container's stdin one way and its output the other: raw bytes with
a TTY, stdcopy frames without. Stdin's end is a half-close (``shutdown(SHUT_WR)``), after which
the daemon closes the container's stdin and keeps sending output until the process ends.
"""

from __future__ import annotations

# The C module: `socket` imports enum and selectors, several ms of every command (see api.py).
import _socket

from dockyard.client.stdcopy import STDOUT, Demuxer

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Iterator

    from dockyard.client.http11 import SocketReader


class RawStream:
    __slots__ = ("_closed", "_reader", "multiplexed", "sock")

    def __init__(self, sock: socket.socket, reader: SocketReader, multiplexed: bool) -> None:
        self.sock = sock
        self._reader = reader
        self.multiplexed = multiplexed
        self._closed = False

    def chunks(self) -> Iterator[bytes]:
        """Bytes from the daemon as they arrive, until it closes its side."""
        while True:
            try:
                data = self._reader.read_some()
            except OSError:
                if self._closed:
                    return  # closed on purpose by another thread (detach, signal)
                raise
            if not data:
                return
            yield data

    def output(self) -> Iterator[tuple[int, bytes]]:
        """(stream, bytes) pairs: demultiplexed without a TTY, all stdout with one."""
        if not self.multiplexed:
            for data in self.chunks():
                yield STDOUT, data
            return
        parser = Demuxer()
        for data in self.chunks():
            yield from parser.feed(data)

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        """Signal stdin's end; a socket the daemon already closed needs no half-close."""
        try:
            if type(self.sock).__name__ == "SSLSocket":
                # An SSLSocket drops its TLS state on shutdown(): over TLS stdin's end is not
                # signalled (docker's tls.Conn.CloseWrite sends close_notify, which ssl cannot
                # do on one direction only).
                return
            self.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.sock.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass  # already disconnected
        self.sock.close()
