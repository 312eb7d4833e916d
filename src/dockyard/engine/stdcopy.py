"""Docker's stream multiplexing ("stdcopy") for attach and logs without a TTY.

Each frame is an 8-byte header -- the stream (0 stdin, 1 stdout, 2 stderr, 3 the daemon's
system error), three zero bytes, the payload's length as a big-endian uint32 -- followed by the
payload. With a TTY there is one stream and no framing at all: the bytes go raw. This is the
format of moby's ``pkg/stdcopy`` that docker-py's ``frames_iter`` and the docker CLI read.

Standard library only: the shim imports this module.
"""

from __future__ import annotations

import struct

STDIN = 0
STDOUT = 1
STDERR = 2
SYSTEMERR = 3

#: stream name (as in the json-file log's "stream" field) -> stdcopy stream id
STREAM_IDS = {"stdin": STDIN, "stdout": STDOUT, "stderr": STDERR}
STREAM_NAMES = {v: k for k, v in STREAM_IDS.items()}

_HEADER = struct.Struct(">BxxxI")
HEADER_SIZE = _HEADER.size


def frame(stream: int, data: bytes) -> bytes:
    """One frame carrying ``data`` on ``stream`` (STDOUT, STDERR, ...)."""
    return _HEADER.pack(stream, len(data)) + data


class Demuxer:
    """Incremental reader of a framed byte stream: feed bytes in any cut, get whole frames out."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Add ``data``; return the (stream, payload) frames now complete, in order."""
        self._buf += data
        out: list[tuple[int, bytes]] = []
        pos = 0
        buf = self._buf
        while len(buf) - pos >= HEADER_SIZE:
            stream, size = _HEADER.unpack_from(buf, pos)
            if stream > SYSTEMERR:
                raise ValueError(
                    f"stdcopy: invalid stream id {stream} at offset {pos}: the data is not "
                    "multiplexed (a TTY stream is raw bytes)"
                )
            end = pos + HEADER_SIZE + size
            if end > len(buf):
                break
            out.append((stream, bytes(buf[pos + HEADER_SIZE : end])))
            pos = end
        del buf[:pos]
        return out

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self._buf)


def demux(data: bytes) -> list[tuple[int, bytes]]:
    """All frames of a complete framed byte string; raises ValueError if the last is cut short."""
    d = Demuxer()
    frames = d.feed(data)
    if d.pending:
        raise ValueError(f"stdcopy: {d.pending} trailing bytes do not make a whole frame")
    return frames
