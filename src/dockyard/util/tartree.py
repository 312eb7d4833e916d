"""Write a folder as a tar stream, chunk by chunk, the way layer tars are written.

    TarStream        add entries (from the filesystem, or made up) and take the bytes so far
    walk(root)       every path below ``root`` in sorted order (parents before children)
    tar_tree(root)   the whole folder as tar chunks (``docker export``, base layers)

PAX format: long names, large sizes and xattrs (``SCHILY.xattr.<name>``) as Docker writes them.
Hardlinks inside the tree become hardlink entries. Standard library only.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from typing import Any, cast

_CHUNK = 1 << 20

# xattrs that describe the storage, not the file: overlayfs's own, and what the host's LSM set.
SKIP_XATTR_PREFIXES = ("trusted.overlay.", "security.selinux", "system.")


class _Sink:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, b: bytes) -> int:
        self.parts.append(bytes(b))
        return len(b)

    def tell(self) -> int:  # tarfile asks only in "a" mode; never used here
        return 0


class TarStream:
    def __init__(self, *, mtime: float | None = None, xattrs: bool = True) -> None:
        self._sink = _Sink()
        self._tar = tarfile.TarFile(fileobj=cast(Any, self._sink), mode="w", format=tarfile.PAX_FORMAT)
        self._mtime = mtime
        self._xattrs = xattrs
        self._links: dict[tuple[int, int], str] = {}
        self.size = 0  # bytes produced

    def take(self) -> bytes:
        data = b"".join(self._sink.parts)
        self._sink.parts.clear()
        self.size += len(data)
        return data

    def add_path(self, name: str, path: str, st: os.stat_result | None = None) -> Iterator[bytes]:
        """Add the file at ``path`` under ``name``; yields the bytes as they are produced."""
        st = st or os.lstat(path)
        info = tarfile.TarInfo(name)
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.uname = info.gname = ""
        info.mtime = self._mtime if self._mtime is not None else st.st_mtime
        if self._xattrs:
            pax = {"SCHILY.xattr." + k: v.decode("utf-8", "surrogateescape") for k, v in _xattrs(path)}
            if pax:
                info.pax_headers = pax
        fmt = stat.S_IFMT(st.st_mode)
        if fmt == stat.S_IFREG and st.st_nlink > 1:
            first = self._links.get((st.st_dev, st.st_ino))
            if first is not None:
                info.type = tarfile.LNKTYPE
                info.linkname = first
                self._tar.addfile(info)
                yield self.take()
                return
            self._links[(st.st_dev, st.st_ino)] = name
        if fmt == stat.S_IFREG:
            info.type = tarfile.REGTYPE
            info.size = st.st_size
            with open(path, "rb") as f:
                yield from self.add_file(info, f)
            return
        if fmt == stat.S_IFDIR:
            info.type = tarfile.DIRTYPE
        elif fmt == stat.S_IFLNK:
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(path)
        elif fmt in (stat.S_IFCHR, stat.S_IFBLK):
            info.type = tarfile.CHRTYPE if fmt == stat.S_IFCHR else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif fmt == stat.S_IFIFO:
            info.type = tarfile.FIFOTYPE
        else:
            return  # sockets have no tar form (Docker skips them too)
        self._tar.addfile(info)
        yield self.take()

    def add_file(self, info: tarfile.TarInfo, f: object) -> Iterator[bytes]:
        """A regular file of ``info.size`` bytes read from ``f``, streamed in chunks."""
        # tarfile.addfile copies the whole file before returning; write header and data ourselves
        # so a large file streams in chunks.
        buf = info.tobuf(self._tar.format, self._tar.encoding, self._tar.errors)
        self._sink.write(buf)
        self._tar.offset += len(buf)
        remaining = info.size
        read = f.read  # type: ignore[attr-defined]
        while remaining > 0:
            chunk = read(min(_CHUNK, remaining))
            if not chunk:
                # The file shrank while being read: pad with zeros so the tar stays well formed.
                chunk = b"\0" * min(_CHUNK, remaining)
            self._sink.write(chunk)
            remaining -= len(chunk)
            yield self.take()
        pad = (-info.size) % tarfile.BLOCKSIZE
        if pad:
            self._sink.write(b"\0" * pad)
        self._tar.offset += info.size + pad
        yield self.take()

    def add_entry(self, info: tarfile.TarInfo) -> bytes:
        """A made-up entry without data (a whiteout, a folder)."""
        info.uname = info.gname = ""
        if self._mtime is not None:
            info.mtime = self._mtime
        self._tar.addfile(info)
        return self.take()

    def add_bytes(self, info: tarfile.TarInfo, data: bytes) -> bytes:
        import io

        info.size = len(data)
        info.uname = info.gname = ""
        if self._mtime is not None:
            info.mtime = self._mtime
        self._tar.addfile(info, io.BytesIO(data))
        return self.take()

    def close(self) -> bytes:
        self._tar.close()
        return self.take()


def _xattrs(path: str) -> list[tuple[str, bytes]]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return []
    out = []
    for name in sorted(names):
        if name.startswith(SKIP_XATTR_PREFIXES):
            continue
        try:
            out.append((name, os.getxattr(path, name, follow_symlinks=False)))
        except OSError:
            continue
    return out


def walk(
    root: str, *, prune: Callable[[str, os.stat_result], bool] | None = None
) -> Iterator[tuple[str, str, os.stat_result]]:
    """(relative name, path, lstat) of everything below ``root``, sorted, parents first.

    ``prune(rel, st)`` returning True skips a folder's contents (the folder itself is yielded).
    Other filesystems mounted below ``root`` are not entered.
    """
    root_dev = os.lstat(root).st_dev

    def listing(rel_dir: str) -> Iterator[os.DirEntry[str]]:
        return iter(
            sorted(os.scandir(os.path.join(root, rel_dir) if rel_dir else root), key=lambda e: e.name)
        )

    # Depth first, in name order (filepath.Walk's order): a folder's entries right after it.
    stack: list[tuple[str, Iterator[os.DirEntry[str]]]] = [("", listing(""))]
    while stack:
        rel_dir, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
        st = entry.stat(follow_symlinks=False)
        yield rel, entry.path, st
        if stat.S_ISDIR(st.st_mode) and st.st_dev == root_dev and not (prune and prune(rel, st)):
            stack.append((rel, listing(rel)))


def tar_tree(root: str, *, mtime: float | None = None) -> Iterator[bytes]:
    """The folder ``root`` as a tar stream (names relative to ``root``, no leading ``./``)."""
    ts = TarStream(mtime=mtime)
    for rel, path, st in walk(root):
        yield from ts.add_path(rel, path, st)
    yield ts.close()
