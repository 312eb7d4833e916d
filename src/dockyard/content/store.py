"""The content store: ``<data-root>/content/blobs/<alg>/<hex>``, immutable, found by digest.

Blobs appear only through :class:`~dockyard.content.writer.Writer` (verified, fsynced, renamed),
so a blob that exists is complete and matches its name.
"""

from __future__ import annotations

import builtins
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dockyard.errors import InvalidArgument, NotFound
from dockyard.oci.digest import Digest

from .writer import Writer

_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,200}")


@dataclass(frozen=True, slots=True)
class Info:
    digest: str
    size: int
    created: float


class ContentStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs"
        self.ingest_root = self.root / "ingest"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.ingest_root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str | Digest) -> Path:
        d = digest if isinstance(digest, Digest) else Digest.parse(digest)
        return self.blobs / d.algorithm / d.encoded

    def has(self, digest: str | Digest) -> bool:
        return self.path(digest).exists()

    def info(self, digest: str | Digest) -> Info:
        try:
            st = self.path(digest).stat()
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found in the content store") from None
        return Info(str(digest), st.st_size, st.st_mtime)

    def open(self, digest: str | Digest) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found in the content store") from None

    def read(self, digest: str | Digest) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def delete(self, digest: str | Digest) -> None:
        # Idempotent: a blob already gone (removed by a concurrent prune) is the asked-for state.
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass

    def list(self) -> Iterator[Info]:
        for alg_dir in sorted(self.blobs.iterdir()):
            for entry in sorted(os.scandir(alg_dir), key=lambda e: e.name):
                if entry.is_file():
                    st = entry.stat()
                    yield Info(f"{alg_dir.name}:{entry.name}", st.st_size, st.st_mtime)

    def writer(self, ref: str, expected: str | Digest | None = None, size: int | None = None) -> Writer:
        """A writer for ingest ``ref``; resumes a previous ingest with the same ref."""
        if not _REF.fullmatch(ref):
            raise InvalidArgument(f"invalid ingest ref {ref!r}: letters, digits and _.:@- only")
        want = Digest.parse(expected) if isinstance(expected, str) else expected
        return Writer(self.ingest_root / ref.replace(":", "-"), self.blobs, want, size)

    def ingests(self) -> builtins.list[tuple[str, int]]:
        """Unfinished ingests: (ref folder, bytes so far)."""
        out = []
        for entry in sorted(self.ingest_root.iterdir()):
            data = entry / "data"
            out.append((entry.name, data.stat().st_size if data.exists() else 0))
        return out

    def drop_transient(self) -> builtins.list[str]:
        """Remove ingests of ``put``/local layers whose process is gone (a crash mid-write):
        unlike pull ingests (named by digest) nothing ever resumes them."""
        gone = []
        for entry in sorted(self.ingest_root.iterdir()):
            kind, _, rest = entry.name.partition("-")
            pid = rest.partition("-")[0]
            if kind not in ("put", "layer") or not pid.isdigit():
                continue
            if int(pid) != os.getpid() and not os.path.exists(f"/proc/{pid}"):
                shutil.rmtree(entry, ignore_errors=True)
                gone.append(entry.name)
        return gone

    def put(self, data: bytes, expected: str | Digest | None = None, *, sync: bool = True) -> str:
        """Store bytes (a manifest, a config); returns ``alg:hex``. Existing blobs are kept."""
        if expected is not None and self.has(expected):
            return str(expected)
        with self.writer(f"put-{os.getpid()}-{time.monotonic_ns()}", expected, len(data)) as w:
            w.write(data)
            return str(w.commit(sync=sync))

    def put_stream(self, chunks: Iterable[bytes], expected: str | Digest | None = None) -> str:
        with self.writer(f"put-{os.getpid()}-{time.monotonic_ns()}", expected) as w:
            try:
                for chunk in chunks:
                    w.write(chunk)
            except BaseException:
                w.abort()
                raise
            return str(w.commit())
