"""One ingest of a blob: bytes go to ``ingest/<ref>/data``, the digest is computed as they pass,
and commit verifies, fsyncs and renames the data into ``blobs/`` (never a half-written blob).

An ingest left behind (a dropped pull) is resumed by opening a writer with the same ref: the bytes
already there are hashed again (a hash state cannot be saved) and writing continues at
``offset``; the fetcher asks the source for ``Range: bytes=<offset>-``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import BinaryIO

from dockyard.errors import Conflict, InvalidArgument
from dockyard.oci.digest import Digest, Verifier
from dockyard.util.atomic import fsync_dir, write_atomic

_CHUNK = 1 << 20


class Writer:
    def __init__(self, ingest_dir: Path, blobs_dir: Path, expected: Digest | None, size: int | None) -> None:
        self._dir = ingest_dir
        self._blobs = blobs_dir
        ingest_dir.mkdir(parents=True, exist_ok=True)
        meta_path = ingest_dir / "meta"
        stale = False
        if meta_path.exists():
            meta = json.loads(meta_path.read_text())
            if expected is None and meta.get("expected"):
                expected = Digest.parse(meta["expected"])
            # A ref reused for other content: the bytes already there are worthless.
            stale = expected is not None and meta.get("expected") not in (None, str(expected))
            size = size if size is not None else meta.get("size")
        if stale or not meta_path.exists():
            meta = {"expected": str(expected) if expected else None, "size": size}
            write_atomic(str(meta_path), json.dumps(meta).encode(), sync=False)
        self.expected = expected
        self.size = size
        self._fd = os.open(ingest_dir / "data", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise Conflict(
                f"ingest {ingest_dir.name!r} is being written by another operation: wait for it to finish"
            ) from None
        if stale:
            os.ftruncate(self._fd, 0)
        self._verifier = Verifier(expected)
        self._rehash()
        self._closed = False

    def _rehash(self) -> None:
        os.lseek(self._fd, 0, os.SEEK_SET)
        while chunk := os.read(self._fd, _CHUNK):
            self._verifier.update(chunk)
        # The position is now the end: writes append after the bytes already there.

    @property
    def offset(self) -> int:
        return self._verifier.size

    def write(self, chunk: bytes | memoryview) -> None:
        view = memoryview(chunk)
        self._verifier.update(view)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]

    def open_data(self) -> BinaryIO:
        """A reader of the bytes written so far (a resumed pull unpacks them first)."""
        return open(self._dir / "data", "rb")

    def truncate(self) -> None:
        """Drop what was written (a source that ignored our Range request sends from byte 0)."""
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)
        self._verifier = Verifier(self.expected)

    def commit(self, *, sync: bool = True) -> Digest:
        """Verify size and digest, fsync, rename into ``blobs/``; returns the digest.

        A mismatch discards the ingest (the bytes are known bad) and raises InvalidArgument.
        """
        if self.size is not None and self.offset != self.size:
            got = self.offset
            self.abort()
            raise InvalidArgument(
                f"blob {self.expected or ''}: size mismatch: expected {self.size} bytes, got {got}: "
                "the transfer was cut short or the source serves bad content"
            )
        try:
            digest = self._verifier.check(f"blob {self._dir.name}")
        except InvalidArgument:
            self.abort()
            raise
        if sync:
            os.fsync(self._fd)
        target = self._blobs / digest.algorithm / digest.encoded
        target.parent.mkdir(parents=True, exist_ok=True)
        os.fchmod(self._fd, 0o444)
        os.rename(self._dir / "data", target)
        if sync:
            fsync_dir(str(target.parent))
        self.close()
        shutil.rmtree(self._dir, ignore_errors=True)
        return digest

    def close(self) -> None:
        """Release the ingest, keeping its bytes for a later resume."""
        if not self._closed:
            self._closed = True
            os.close(self._fd)

    def abort(self) -> None:
        self.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        # Leaving the block without commit keeps the ingest on failure (resumable) unless aborted.
        self.close()
