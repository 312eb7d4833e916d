"""A writable layer's upper folder as a reproducible layer tar.

Entries in sorted order (parents first), owners as numbers without names, every mtime clamped
to the build time T (``min(mtime, T)``), no atime or ctime, and PAX headers only for what the
file carries (long names, xattrs): two builds of the same content at different times give the
same bytes. overlayfs's deletions are written back as OCI whiteouts (``.wh.<name>``, and
``.wh..wh..opq`` in a folder that replaced a lower one).

The mount points the engine adds to every container (``/etc/hostname``, ``/etc/hosts``,
``/etc/resolv.conf``; ``/dev``, ``/proc``, ``/sys`` when the image lacks them) are left out when
they are empty: Docker keeps them in an init layer that no commit sees.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

from dockyard.snapshots.diff import is_opaque, is_whiteout
from dockyard.snapshots.unpack import OPAQUE, WHITEOUT_PREFIX
from dockyard.util.tartree import TarStream, walk

MOUNT_STUBS = frozenset(
    {"etc/hostname", "etc/hosts", "etc/resolv.conf", "dev", "proc", "sys", "etc", ".dockerenv"}
)


def _clamped(st: os.stat_result, clamp: int | None) -> os.stat_result:
    if clamp is None or st.st_mtime <= clamp:
        return st
    fields = list(st[:10])
    fields[8] = clamp
    # The float and device fields are not in the 10-item sequence: give them by name.
    return os.stat_result(fields, {"st_mtime": clamp, "st_mtime_ns": clamp * 10**9, "st_rdev": st.st_rdev})


def _is_stub(rel: str, path: str, st: os.stat_result, lowers: list[Path], stubs: frozenset[str]) -> bool:
    if rel not in stubs:
        return False
    if any(os.path.lexists(lower / rel) for lower in lowers):
        return False
    if stat.S_ISREG(st.st_mode):
        return st.st_size == 0
    if stat.S_ISDIR(st.st_mode):
        try:
            return all(f"{rel}/{name}" in stubs for name in os.listdir(path))
        except OSError:
            return False
    return False


def _same_dir_below(rel: str, st: os.stat_result, lowers: list[Path]) -> bool:
    for lower in lowers:
        try:
            lst = os.lstat(lower / rel)
        except (FileNotFoundError, NotADirectoryError):
            continue
        return (
            stat.S_ISDIR(lst.st_mode)
            and lst.st_mode == st.st_mode
            and (lst.st_uid, lst.st_gid) == (st.st_uid, st.st_gid)
        )
    return False


def layer_tar(
    upper: Path, clamp: int | None, lowers: list[Path] | None = None, stubs: set[str] | None = None
) -> Iterator[bytes]:
    lowers = lowers or []
    all_stubs = MOUNT_STUBS | frozenset(stubs or ())
    entries: list[tuple[str, str, os.stat_result]] = []
    skipped: list[str] = []
    for rel, path, st in walk(str(upper)):
        if any(rel.startswith(s + "/") for s in skipped):
            continue
        if _is_stub(rel, path, st, lowers, all_stubs):
            skipped.append(rel)
            continue
        entries.append((rel, path, st))
    # A folder overlayfs copied up only because something was made below it (a mount point
    # left out above) and that is the same as below it says nothing: drop it, unless an entry
    # below it is kept or it is opaque.
    needed: set[str] = set()
    for rel, path, st in entries:
        keep = not stat.S_ISDIR(st.st_mode) or is_opaque(path) or not _same_dir_below(rel, st, lowers)
        if keep:
            parts = rel.split("/")
            needed.update("/".join(parts[:n]) for n in range(1, len(parts) + 1))
    ts = TarStream()
    for rel, path, st in entries:
        if rel not in needed:
            continue
        st = _clamped(st, clamp)
        if is_whiteout(st):
            head, _, base = rel.rpartition("/")
            info = tarfile.TarInfo(f"{head}/{WHITEOUT_PREFIX}{base}" if head else WHITEOUT_PREFIX + base)
            info.mtime = int(st.st_mtime)
            info.mode = 0o644
            yield ts.add_entry(info)
            continue
        yield from ts.add_path(rel, path, st)
        if stat.S_ISDIR(st.st_mode) and is_opaque(path):
            info = tarfile.TarInfo(f"{rel}/{OPAQUE}")
            info.mtime = int(st.st_mtime)
            info.mode = 0o644
            yield ts.add_entry(info)
    yield ts.close()
