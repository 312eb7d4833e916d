"""Apply an OCI layer tar to an empty folder in overlayfs's on-disk form.

OCI image-spec layer.md whiteouts become overlayfs's (Documentation/filesystems/overlayfs.rst):

    dir/.wh.name         -> dir/name as a character device 0/0   ("whiteout")
    dir/.wh..wh..opq     -> dir gets xattr trusted.overlay.opaque=y ("opaque directory")

Hostile entries are refused, naming the entry: absolute names, ``..`` components, entries whose
parent is a symlink (writing through it would land outside the layer), hardlinks to anything not
already in this layer, and xattrs in overlayfs's own ``trusted.overlay.`` namespace. Symlink
targets are never followed here, so an absolute or climbing symlink is harmless data. Device
nodes are allowed under ``dev/`` only (an image may carry /dev entries; a device elsewhere, e.g.
a disk's block device in /usr/bin, is refused), and a character device 0/0 nowhere: that is
overlayfs's whiteout, and a tar carrying one forges a deletion instead of saying ``.wh.``.

Tar bombs are bounded by :class:`~dockyard.snapshots.limits.LayerLimits`: entries, path depth
and uncompressed bytes, checked as the tar is read (a declared size over the limit is refused
from its header, before any byte of it is written).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

from dockyard.errors import InvalidArgument

from .limits import LayerLimits, LimitExceeded
from .tree import tree_digest

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
_CHUNK = 1 << 20
_FORBIDDEN_XATTRS = ("trusted.overlay.",)


@dataclass
class LayerStats:
    files: int = 0
    size: int = 0  # bytes of regular files' content
    whiteouts: int = 0
    entries: int = 0
    tree: str = ""  # tree.tree_digest of the unpacked folder


class HostileLayer(InvalidArgument):
    def __init__(self, entry: str, problem: str) -> None:
        super().__init__(
            f"refusing layer entry {entry!r}: {problem}: the layer is malformed or hostile; "
            "rebuild the image from a trusted source"
        )


def _clean(name: str, original: str) -> str:
    """The entry's path relative to the layer root, or HostileLayer."""
    if name.startswith("/"):
        raise HostileLayer(original, "absolute path")
    parts = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise HostileLayer(original, "'..' in the path")
        parts.append(part)
    return "/".join(parts)


class _Limited:
    """Counts the uncompressed tar's bytes; past the size limit the layer is refused."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self._read = raw.read
        self.limit = limit
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._read(n)
        self.count += len(data)
        if self.count > self.limit:
            raise LimitExceeded(f"the uncompressed layer ({self.count}+ bytes)", self.limit, "max-layer-size")
        return data


class _Applier:
    def __init__(self, dest: str, limits: LayerLimits) -> None:
        self.dest = dest
        self.limits = limits
        self.is_root = os.geteuid() == 0
        self.good_dirs: set[str] = {""}
        self.dirs: list[tuple[str, tarfile.TarInfo]] = []
        self.stats = LayerStats()
        self.crcs: dict[int, int] = {}  # inode -> CRC-32 of the content written (tree.py)

    def parent_dir(self, rel: str, original: str) -> str:
        """Make sure every folder above ``rel`` is a real folder of this layer; create missing ones."""
        parent = rel.rpartition("/")[0]
        if parent in self.good_dirs:
            return parent
        path = self.dest
        walked = ""
        for part in parent.split("/"):
            walked = f"{walked}/{part}" if walked else part
            path = os.path.join(path, part)
            if walked in self.good_dirs:
                continue
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                os.mkdir(path, 0o755)
            else:
                if stat.S_ISLNK(st.st_mode):
                    raise HostileLayer(original, f"its parent {walked!r} is a symlink")
                if not stat.S_ISDIR(st.st_mode):
                    raise HostileLayer(original, f"its parent {walked!r} is not a folder")
            self.good_dirs.add(walked)
        return parent

    def remove_existing(self, path: str, rel: str, keep_dir: bool = False) -> bool:
        """Clear ``path`` for a new entry; True when a folder was kept in place."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return True
            shutil.rmtree(path)
            # Folders cached below the removed one are gone too.
            self.good_dirs = {d for d in self.good_dirs if d != rel and not d.startswith(rel + "/")}
        else:
            os.unlink(path)
        return False

    def apply(self, tf: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        original = member.name
        self.stats.entries += 1
        if self.stats.entries > self.limits.max_entries:
            raise LimitExceeded("the number of entries", self.limits.max_entries, "max-entries")
        rel = _clean(original, original)
        if not rel:
            return  # the layer's root folder itself: its metadata belongs to the container's /
        if rel.count("/") >= self.limits.max_depth:
            raise LimitExceeded(f"the path depth of {original[:80]!r}...", self.limits.max_depth, "max-depth")
        if member.size > self.limits.max_size:
            raise LimitExceeded(
                f"the declared size of {original!r} ({member.size})", self.limits.max_size, "max-layer-size"
            )
        parent = self.parent_dir(rel, original)
        base = rel.rpartition("/")[2]
        if base.startswith(WHITEOUT_PREFIX):
            self.whiteout(parent, base, original)
            return
        path = os.path.join(self.dest, rel)
        if member.isdir():
            if not self.remove_existing(path, rel, keep_dir=True):
                os.mkdir(path, 0o700)
            self.good_dirs.add(rel)
            self.dirs.append((path, member))
            self.xattrs(path, member, original)
            return
        self.remove_existing(path, rel)
        if member.isreg():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                crc = 0
                for chunk in _content(tf, member):
                    crc = zlib.crc32(chunk, crc)
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view) :]
                self.crcs[os.fstat(fd).st_ino] = crc
            finally:
                os.close(fd)
            self.stats.files += 1
            self.stats.size += member.size
        elif member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            target_rel = _clean(member.linkname, original)
            if not target_rel:
                raise HostileLayer(original, "hardlink to the layer's root")
            self.parent_dir(target_rel, original)
            target = os.path.join(self.dest, target_rel)
            if not os.path.lexists(target) or target_rel.rpartition("/")[2].startswith(WHITEOUT_PREFIX):
                raise HostileLayer(original, f"hardlink to {member.linkname!r}, which is not in this layer")
            if os.path.isdir(target) and not os.path.islink(target):
                raise HostileLayer(original, "hardlink to a folder")
            os.link(target, path, follow_symlinks=False)
            return  # a hardlink shares its target's metadata
        elif member.ischr() or member.isblk() or member.isfifo():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK if member.isblk() else stat.S_IFIFO
            if kind != stat.S_IFIFO:
                if member.ischr() and member.devmajor == 0 and member.devminor == 0:
                    raise HostileLayer(original, "a character device 0/0 is an overlay whiteout in disguise")
                if not rel.startswith("dev/"):
                    raise HostileLayer(original, "device nodes are allowed under /dev only")
            try:
                os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
            except PermissionError:
                if kind != stat.S_IFIFO:
                    return  # not root: device nodes cannot be made; Docker skips them the same way
                raise
        else:
            return  # GNU sparse maps and other exotic types: skipped, as Docker does
        self.metadata(path, member, original)

    def whiteout(self, parent: str, base: str, original: str) -> None:
        parent_path = os.path.join(self.dest, parent) if parent else self.dest
        if base == OPAQUE:
            os.setxattr(parent_path, OPAQUE_XATTR, b"y", follow_symlinks=False)
            self.stats.whiteouts += 1
            return
        if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return  # AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not an OCI whiteout
        name = base[len(WHITEOUT_PREFIX) :]
        if name in ("", ".", ".."):
            raise HostileLayer(original, "whiteout of nothing")
        rel = f"{parent}/{name}" if parent else name
        path = os.path.join(parent_path, name)
        self.remove_existing(path, rel)
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))
        self.stats.whiteouts += 1

    def metadata(self, path: str, member: tarfile.TarInfo, original: str) -> None:
        if self.is_root:
            os.lchown(path, member.uid, member.gid)
        self.xattrs(path, member, original)
        if not member.issym():
            # After chown: chown clears the setuid and setgid bits.
            os.chmod(path, member.mode & 0o7777)
        os.utime(path, ns=(_ns(member.mtime), _ns(member.mtime)), follow_symlinks=False)

    def xattrs(self, path: str, member: tarfile.TarInfo, original: str) -> None:
        for key, value in member.pax_headers.items():
            if not key.startswith("SCHILY.xattr."):
                continue
            name = key[len("SCHILY.xattr.") :]
            if name.startswith(_FORBIDDEN_XATTRS):
                raise HostileLayer(original, f"xattr {name!r} belongs to overlayfs")
            try:
                os.setxattr(path, name, value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
            except OSError as e:
                # Symlinks take no user.* xattrs; an LSM label the host does not run: Docker
                # skips both.
                if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise

    def finish(self) -> None:
        # Folders last and deepest first: creating entries inside a folder changes its mtime.
        for path, member in reversed(self.dirs):
            self.metadata(path, member, member.name)


def _content(tf: tarfile.TarFile, member: tarfile.TarInfo) -> Iterator[bytes]:
    """A regular member's bytes. From the archive's stream itself when it is one (``r|``):
    extractfile's reader copies every chunk twice more; tarfile's next() then skips the block
    padding by seeking forward, which its stream allows. Sparse members go through extractfile."""
    stream = tf.fileobj
    if member.issparse() or stream is None or not hasattr(stream, "bufsize"):
        src = tf.extractfile(member)
        assert src is not None
        yield from iter(lambda: src.read(_CHUNK), b"")
        return
    remaining = member.size
    while remaining:
        chunk: bytes = stream.read(min(remaining, _CHUNK))
        if not chunk:
            raise tarfile.ReadError(f"unexpected end of data in {member.name!r}")
        remaining -= len(chunk)
        yield chunk


def _ns(mtime: float) -> int:
    return int(mtime * 1_000_000_000)


def apply_layer(stream: BinaryIO, dest: str, limits: LayerLimits | None = None) -> LayerStats:
    """Unpack the uncompressed tar ``stream`` into the folder ``dest`` (which must exist).

    Reads ``stream`` to its end, so a hashing reader around it sees every byte (the diff id is
    the digest of the whole tar, end-of-archive blocks included).
    """
    limits = limits or LayerLimits()
    applier = _Applier(dest, limits)
    limited = _Limited(stream, limits.max_size)
    try:
        with tarfile.open(fileobj=cast(BinaryIO, limited), mode="r|", bufsize=_CHUNK) as tf:
            for member in tf:
                applier.apply(tf, member)
    except tarfile.TarError as e:
        raise InvalidArgument(f"layer is not a valid tar archive: {e}") from None
    except RecursionError:
        raise LimitExceeded("the nesting of tar headers", limits.max_depth, "max-depth") from None
    applier.finish()
    while limited.read(_CHUNK):
        pass
    applier.stats.tree = tree_digest(dest, applier.crcs)
    return applier.stats
