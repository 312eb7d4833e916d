"""Docker's multiplexed stream ("stdcopy"): stdout and stderr interleaved on one connection.

Used by attach, exec and logs when the container has no TTY. Each frame is an 8-byte header,
``[stream, 0, 0, 0, size as big-endian uint32]``, then ``size`` bytes of payload; stream 0 is
stdin, 1 stdout, 2 stderr and 3 an error from the daemon itself (moby ``pkg/stdcopy``: ``Systemerr``,
whose payload is the message).
"""

from __future__ import annotations

from dockyard.errors import DockyardError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

STDIN, STDOUT, STDERR, SYSTEMERR = 0, 1, 2, 3
HEADER = 8


class StreamError(DockyardError):
    """The daemon reported an error inside a multiplexed stream (frame type 3)."""


class Demuxer:
    """Incremental frame parser: feed it bytes as they arrive, get whole-or-partial payloads back.

    Payloads are handed out as soon as any of their bytes arrive (a long frame need not be
    buffered whole), each tagged with its frame's stream.
    """

    __slots__ = ("_buffer", "_left", "_stream")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._stream = STDOUT
        self._left = 0

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buffer += data
        out: list[tuple[int, bytes]] = []
        while self._buffer:
            if self._left == 0:
                if len(self._buffer) < HEADER:
                    break
                stream = self._buffer[0]
                if stream > SYSTEMERR or self._buffer[1:4] != b"\0\0\0":
                    raise DockyardError(
                        f"malformed multiplexed stream: frame header {bytes(self._buffer[:HEADER])!r}"
                    )
                self._stream = stream
                self._left = int.from_bytes(self._buffer[4:HEADER], "big")
                del self._buffer[:HEADER]
                if self._left == 0:
                    continue
            payload = bytes(self._buffer[: self._left])
            del self._buffer[: len(payload)]
            self._left -= len(payload)
            if self._stream == SYSTEMERR:
                raise StreamError(f"the daemon reported an error: {payload.decode(errors='replace')}")
            out.append((self._stream, payload))
        return out

    @property
    def pending(self) -> int:
        """Bytes of a frame still expected (0 between frames)."""
        return self._left + len(self._buffer)


def demux(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    parser = Demuxer()
    for chunk in chunks:
        yield from parser.feed(chunk)


def frame(stream: int, payload: bytes) -> bytes:
    """One frame (tests and the daemon side of tests write these)."""
    return bytes((stream, 0, 0, 0)) + len(payload).to_bytes(4, "big") + payload
