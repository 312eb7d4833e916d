"""A layer blob in one pass: stored (digest verified), decompressed, hashed (diff id) and
unpacked into its snapshot folder, all while it is read.

    raw blob --tee--> content ingest (blob digest)
             \\-> decompress --> diff id hash --> tar apply --> snapshots tmp/ --> rename

Layers of one image unpack in parallel (each folder is self-contained in overlayfs's form);
only the final rename into place goes in order, since a layer records its parent's short link.
"""

from __future__ import annotations

import io
import os
import queue
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, cast

import zstandard

from dockyard.content import compression
from dockyard.content.store import ContentStore
from dockyard.content.writer import Writer
from dockyard.errors import InvalidArgument
from dockyard.images.model import Layer
from dockyard.oci import mediatypes as mt
from dockyard.oci.digest import Digest, DigestReader, Verifier, chain_ids
from dockyard.snapshots.limits import LayerLimits
from dockyard.snapshots.overlay import OverlaySnapshotter
from dockyard.snapshots.unpack import apply_layer

_CHUNK = 1 << 20
_BEHIND_MIN = 4 << 20  # smaller blobs are written inline: a thread costs more than it saves
_BEHIND_CHUNKS = 16


def _finish_quietly(*threads: WriteBehind | _HashBehind | None) -> None:
    """Stop the helper threads after a failure; the failure being raised is the one to report."""
    for t in threads:
        if t is not None:
            try:
                t.finish()
            except Exception:
                pass  # the blob is discarded or resumed either way


class _Sink(Protocol):
    def write(self, chunk: bytes | memoryview) -> None: ...


class WriteBehind:
    """Feeds chunks to ``sink`` on a thread of its own while the caller's thread goes on: the
    compressed blob's sha256 and write, and the tar's sha256, leave a layer's critical path
    (hashlib and os.write release the GIL, so the threads truly overlap). ``finish`` waits for
    every queued chunk, also after an error, so an interrupted download keeps all it got."""

    def __init__(self, sink: Callable[[bytes], object], name: str) -> None:
        self._sink = sink
        self._q: queue.Queue[bytes | None] = queue.Queue(_BEHIND_CHUNKS)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._q.get()) is not None:
            if self._error is None:
                try:
                    self._sink(chunk)
                except BaseException as e:  # reported by write() or finish() on the caller's thread
                    self._error = e

    def write(self, chunk: bytes | memoryview) -> None:
        if self._error is not None:
            raise self._error
        self._q.put(bytes(chunk))

    def finish(self) -> None:
        if self._thread.is_alive():
            self._q.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error


class _HashBehind:
    """A reader that hands what passes through it to a hashing thread (the diff id)."""

    def __init__(self, raw: BinaryIO, verifier: Verifier) -> None:
        self._read = raw.read
        self.verifier = verifier
        self._behind = WriteBehind(verifier.update, "diff-hasher")

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._read(n)
        if data:
            self._behind.write(data)
        return data

    def readable(self) -> bool:
        return True

    def finish(self) -> None:
        self._behind.finish()


class TeeReader(io.RawIOBase):
    """Reads ``raw``, copying every byte to ``writer`` and reporting the count to ``progress``."""

    def __init__(
        self, raw: BinaryIO, writer: _Sink | None, progress: Callable[[int], None] | None, skip: int = 0
    ) -> None:
        self._raw = raw
        self._writer = writer
        self._skip = skip  # bytes the writer already holds (a resumed ingest)
        self._progress = progress
        self._head = b""

    def readable(self) -> bool:
        return True

    def peek_head(self, n: int) -> bytes:
        while len(self._head) < n:
            more = self._raw.read(n - len(self._head))
            if not more:
                break
            self._pass(more)
            self._head += more
        return self._head

    def _pass(self, data: bytes) -> None:
        if self._skip:
            held = min(self._skip, len(data))
            self._skip -= held
            data = data[held:]
        if self._writer is not None and data:
            self._writer.write(data)
        if self._progress is not None:
            self._progress(len(data))

    def read(self, n: int = -1) -> bytes:
        if self._head:
            data = self._head if n < 0 else self._head[:n]
            self._head = self._head[len(data) :]
            return data
        data = self._raw.read(n if n >= 0 else _CHUNK)
        if data:
            self._pass(data)
        return data

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass


@dataclass
class Unpacked:
    """A layer read to the end: blob stored, tree unpacked in ``tmp`` (None: chain existed)."""

    diff_id: str
    blob: str
    media_type: str
    blob_size: int
    diff_size: int
    size: int
    tmp: Path | None
    tree: str = ""


class LayerStore:
    def __init__(
        self,
        content: ContentStore,
        snapshots: OverlaySnapshotter,
        limits: LayerLimits | None = None,
        *,
        sync: bool = False,
    ) -> None:
        self.content = content
        self.snapshots = snapshots
        self.limits = limits or LayerLimits()
        # Layer blobs are renamed into place only when whole and verified, but not fsynced by
        # default (dockerd does not sync unpacked layers either): on ext4 (data=ordered) the
        # fsync also flushes the layer just unpacked, twice the bytes skopeo writes, and a pull
        # then waits on the disk. After a power loss, `system check --repair` finds a blob the
        # kernel had not written yet. sync=True (daemon option sync-layers) restores the fsync.
        self.sync = sync

    def read_layer(
        self,
        raw: BinaryIO,
        *,
        media_type: str | None,
        expected_blob: str | None = None,
        blob_size: int | None = None,
        expected_diff: str | None = None,
        chain_id: str | None = None,
        writer: Writer | None = None,
        progress: Callable[[int], None] | None = None,
        skip: int = 0,
    ) -> Unpacked:
        """Store and unpack one layer blob read from ``raw`` (any thread; no ordering needed).

        With ``chain_id`` known (pulls: the config lists the diff ids) and already unpacked,
        the tree is not unpacked again. ``writer`` is an ingest to resume; by default a fresh
        one is made, unless the blob is already stored (then ``raw`` is only hashed).
        """
        own_writer = writer is None and not (expected_blob and self.content.has(expected_blob))
        if own_writer:
            writer = self.content.writer(
                f"layer-{os.getpid()}-{id(raw):x}-{os.urandom(4).hex()}", expected_blob, blob_size
            )
        big = (blob_size or 0) >= _BEHIND_MIN
        behind = WriteBehind(writer.write, "blob-writer") if writer is not None and big else None
        tee = TeeReader(raw, behind or writer, progress, skip)
        hasher: _HashBehind | None = None
        tmp: Path | None = None
        try:
            if media_type is None:
                kind = compression.detect(tee.peek_head(8))
                media_type = mt.layer_type(kind, docker=False)
            else:
                try:
                    kind = mt.layer_compression(media_type)
                except KeyError:
                    raise InvalidArgument(f"unsupported layer media type {media_type!r}") from None
            plain = compression.decompressor(cast(BinaryIO, tee), kind, chunks=True)
            want_diff = Digest.parse(expected_diff) if expected_diff else None
            hasher = _HashBehind(plain, Verifier(want_diff)) if big else None
            reader: DigestReader | _HashBehind = hasher or DigestReader(plain, want_diff)
            size = 0
            tree = ""
            if chain_id is not None and self.snapshots.has(chain_id):
                while reader.read(_CHUNK):
                    pass
            else:
                tmp = self.snapshots.begin(chain_id or "sha256:" + "0" * 64)
                stats = apply_layer(cast(BinaryIO, reader), str(tmp), self.limits)
                size, tree = stats.size, stats.tree
            tee.drain()
            if behind is not None:
                behind.finish()
            if hasher is not None:
                hasher.finish()
            diff = reader.verifier.check("layer (uncompressed)")
            if writer is not None:
                blob = str(writer.commit(sync=self.sync))
                stored = writer.offset
            else:
                assert expected_blob is not None
                blob, stored = expected_blob, self.content.info(expected_blob).size
        except (zlib.error, zstandard.ZstdError, EOFError) as e:
            _finish_quietly(behind, hasher)
            if tmp is not None:
                self.snapshots.abort(tmp)
            if own_writer and writer is not None:
                writer.close()
            raise InvalidArgument(
                f"layer {expected_blob or ''} cannot be decompressed ({e}): the blob is corrupt"
            ) from None
        except BaseException:
            _finish_quietly(behind, hasher)
            if tmp is not None:
                self.snapshots.abort(tmp)
            if own_writer and writer is not None:
                writer.close()
            raise
        return Unpacked(str(diff), blob, media_type, stored, reader.verifier.size, size, tmp, tree)

    def place(self, unpacked: Unpacked, parent_chain: str | None) -> Layer:
        """Rename an unpacked layer into place on top of ``parent_chain`` (in image order)."""
        chain = chain_ids([parent_chain, unpacked.diff_id])[1] if parent_chain else unpacked.diff_id
        if unpacked.tmp is not None:
            self.snapshots.commit(
                chain,
                parent_chain,
                unpacked.tmp,
                unpacked.size,
                diff_id=unpacked.diff_id,
                tree=unpacked.tree,
                sync=self.sync,
            )
        size = unpacked.size or self.snapshots.size(chain)
        return Layer(
            unpacked.diff_id,
            chain,
            unpacked.blob,
            unpacked.media_type,
            unpacked.blob_size,
            unpacked.diff_size,
            size,
        )

    def add(self, raw: BinaryIO, parent_chain: str | None, *, media_type: str | None = None) -> Layer:
        """Read, store and place a local layer (commit, import, load, bootstrap)."""
        return self.place(self.read_layer(raw, media_type=media_type), parent_chain)

    def open_plain(self, layer: Layer) -> BinaryIO:
        """The uncompressed tar of a stored layer (for save)."""
        raw = self.content.open(layer.blob)
        return compression.decompressor(raw, mt.layer_compression(layer.media_type))
