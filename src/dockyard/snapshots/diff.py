"""What a container changed: its overlay upper folder read back as Docker reports it.

    changes(upper, lowers)     [{"Path": "/x", "Kind": 0|1|2}]  (Modified, Added, Deleted)
    layer_tar(upper)           the upper folder as an OCI layer tar (``docker commit``)

``changes`` follows moby's pkg/archive ``changes()`` with overlay's deleted-file rule: a
whiteout (char device 0/0) is a deletion; an opaque folder also counts as deleted (its old
contents are gone) and its entries as added; a folder that exists below with the same size,
mode and mtime is skipped, but the parent of any added or deleted path is reported modified.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

from dockyard.snapshots.unpack import OPAQUE, OPAQUE_XATTR, WHITEOUT_PREFIX
from dockyard.util.tartree import TarStream, walk

KIND_MODIFIED, KIND_ADDED, KIND_DELETED = 0, 1, 2


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def changes(upper: Path, lowers: list[Path]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    changed_dirs: set[str] = set()
    for rel, path, st in walk(str(upper)):
        name = "/" + rel
        kind: int | None
        if is_whiteout(st) or (stat.S_ISDIR(st.st_mode) and is_opaque(path)):
            kind = KIND_DELETED
        else:
            kind = KIND_ADDED
            for lower in lowers:
                try:
                    lst = os.stat(lower / rel)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                if (
                    stat.S_ISDIR(lst.st_mode)
                    and stat.S_ISDIR(st.st_mode)
                    and lst.st_size == st.st_size
                    and lst.st_mode == st.st_mode
                    and _same_time(lst, st)
                ):
                    kind = None
                else:
                    kind = KIND_MODIFIED
                break
        if stat.S_ISDIR(st.st_mode):
            changed_dirs.add(name)
        if kind is None:
            continue
        if kind in (KIND_ADDED, KIND_DELETED):
            parent = os.path.dirname(name)
            if parent != "/" and parent not in changed_dirs:
                out.append({"Path": parent, "Kind": KIND_MODIFIED})
                changed_dirs.add(parent)
        out.append({"Path": name, "Kind": kind})
    return out


def _same_time(a: os.stat_result, b: os.stat_result) -> bool:
    # moby's sameFsTime: equal seconds and equal nanoseconds, or one side without nanoseconds.
    an, bn = a.st_mtime_ns, b.st_mtime_ns
    return an == bn or (an // 10**9 == bn // 10**9 and (an % 10**9 == 0 or bn % 10**9 == 0))


def layer_tar(upper: Path) -> Iterator[bytes]:
    """The upper folder as an OCI layer: whiteouts back to ``.wh.`` files, opaque folders get
    ``.wh..wh..opq``; overlayfs's own xattrs are left out."""
    ts = TarStream()
    for rel, path, st in walk(str(upper)):
        if is_whiteout(st):
            head, _, base = rel.rpartition("/")
            info = tarfile.TarInfo(f"{head}/{WHITEOUT_PREFIX}{base}" if head else WHITEOUT_PREFIX + base)
            info.mtime = st.st_mtime
            info.mode = 0o644
            yield ts.add_entry(info)
            continue
        yield from ts.add_path(rel, path, st)
        if stat.S_ISDIR(st.st_mode) and is_opaque(path):
            info = tarfile.TarInfo(f"{rel}/{OPAQUE}")
            info.mtime = st.st_mtime
            info.mode = 0o644
            yield ts.add_entry(info)
    yield ts.close()


def dir_size(root: Path) -> int:
    """Bytes of regular files below ``root`` (a hardlinked file counts once): Docker's SizeRw."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for _rel, _path, st in walk(str(root)):
        if stat.S_ISREG(st.st_mode):
            if st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total
