"""Layer compression: detect gzip/zstd by magic, decompress and compress as streams.

A layer is read once, front to back, while it is verified and unpacked, so everything here is a
forward-only reader over another reader.
"""

from __future__ import annotations

import io
import zlib
from typing import BinaryIO, cast

import zstandard

from dockyard.errors import InvalidArgument, Unsupported

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_CHUNK = 1 << 20


def detect(head: bytes) -> str:
    """``"gzip"``, ``"zstd"`` or ``""`` (plain tar) from the first bytes of a blob."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head[:3] in (b"BZh",) or head.startswith(b"\xfd7zXZ"):
        raise Unsupported("bzip2 and xz layers are unsupported: recompress the layer with gzip or zstd")
    return ""


class _GzipReader(io.RawIOBase):
    """gunzip of a stream, member after member (pigz and some tools write several)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._d = zlib.decompressobj(31)
        self._buf = memoryview(b"")
        self._next = b""  # input after the end of a member
        self._in_member = False
        self._eof = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        """Decompress until output is waiting in ``self._buf``; False at the end."""
        while not self._buf:
            if self._eof:
                return False
            if self._d.unconsumed_tail:
                data = self._d.unconsumed_tail
            elif self._next:
                data, self._next = self._next, b""
            else:
                data = self._raw.read(_CHUNK)
            if not data:
                if self._in_member:
                    raise InvalidArgument("gzip stream is truncated: the layer blob is incomplete")
                self._eof = True
                return False
            if not self._in_member and not data.strip(b"\0"):
                continue  # zero padding after the last member (some writers add it)
            self._in_member = True
            self._buf = memoryview(self._d.decompress(data, _CHUNK))
            if self._d.eof:
                self._next = self._d.unused_data
                self._d = zlib.decompressobj(31)
                self._in_member = False
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        if not self._fill():
            return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


class _GzipChunks(_GzipReader):
    """gunzip whose ``read(n)`` hands out the decompressor's own output (up to n bytes; fewer
    before the end too) without the two copies a BufferedReader makes, for readers that loop
    until they have what they asked for (tarfile's stream, the hashing readers of a pull)."""

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            return b"".join(iter(lambda: self.read(_CHUNK), b""))
        if not self._fill():
            return b""
        whole = self._buf.obj
        if n >= len(self._buf) and isinstance(whole, bytes) and len(whole) == len(self._buf):
            self._buf = memoryview(b"")
            return whole  # the decompressor's output object itself: no copy
        data = bytes(self._buf[:n])
        self._buf = self._buf[len(data) :]
        return data


def decompressor(raw: BinaryIO, compression: str, *, chunks: bool = False) -> BinaryIO:
    """A reader of the uncompressed bytes of ``raw``; ``compression`` as :func:`detect` names it.

    ``chunks``: ``read(n)`` may return fewer than n bytes before the end (no buffering copies);
    only for readers that loop until they have what they asked for.
    """
    if compression == "":
        return raw
    if compression == "gzip":
        if chunks:
            return cast(BinaryIO, _GzipChunks(raw))
        return cast(BinaryIO, io.BufferedReader(_GzipReader(raw), _CHUNK))
    if compression == "zstd":
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_size=_CHUNK, read_across_frames=True)
        if chunks:
            return cast(BinaryIO, reader)
        return cast(BinaryIO, io.BufferedReader(cast(io.RawIOBase, reader), _CHUNK))
    raise Unsupported(f"unsupported layer compression {compression!r}: use gzip, zstd or none")


def auto_decompressor(raw: BinaryIO) -> BinaryIO:
    """Detect the compression from the first bytes (docker load and import take any of them)."""
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(cast(io.RawIOBase, raw))
    return decompressor(cast(BinaryIO, buffered), detect(buffered.peek(8)[:8]))


class Compressor:
    """Incremental compression of a stream of chunks, for layers made here (commit, import)."""

    def __init__(self, compression: str, level: int = 1) -> None:
        self.compression = compression
        self._z: zlib._Compress | None = None
        self._zs: zstandard.ZstdCompressionObj | None = None
        if compression == "gzip":
            self._z = zlib.compressobj(level, zlib.DEFLATED, 31)
        elif compression == "zstd":
            self._zs = zstandard.ZstdCompressor(level=max(level, 1)).compressobj()
        elif compression:
            raise Unsupported(f"unsupported layer compression {compression!r}: use gzip, zstd or none")

    def compress(self, chunk: bytes) -> bytes:
        if self._z is not None:
            return self._z.compress(chunk)
        if self._zs is not None:
            return self._zs.compress(chunk)
        return chunk

    def flush(self) -> bytes:
        if self._z is not None:
            return self._z.flush()
        if self._zs is not None:
            return self._zs.flush()
        return b""
