"""``docker cp``: the archive endpoints on a container's filesystem.

    GET  /containers/{id}/archive?path=P   a tar of P + the X-Docker-Container-Path-Stat header
    HEAD /containers/{id}/archive?path=P   the header only
    PUT  /containers/{id}/archive?path=D   extract a tar into folder D

Semantics are dockerd's (daemon/archive.go): the folders leading to P are resolved inside the
container, its last component is not followed (a symlink is reported as one, with
``linkTarget`` its full resolution, and archived as a link); a folder is archived under its own
name (``/etc`` gives ``etc/passwd``), ``/etc/.`` gives its content (``./passwd``); the
extraction folder D is followed fully and must be a folder. The stat's ``mode`` is Go's
``os.FileMode`` (type bits high, e.g. 1<<31 for a folder): the docker CLI decodes it that way.

Blocking calls: the handlers run them in a thread. Lookups go through
:mod:`dockyard.engine.archive_resolve`, so nothing here follows a link out of the container.
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import stat
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

from dockyard.engine.archive_resolve import MissingParent, Root, clean
from dockyard.engine.archive_tar import extract_tar, write_tar
from dockyard.engine.userns import IdMap
from dockyard.errors import InvalidArgument, NotFound

HEADER = "X-Docker-Container-Path-Stat"

# Go's os.FileMode type bits (io/fs/fs.go).
GO_MODE_DIR = 1 << 31
GO_MODE_SYMLINK = 1 << 27
GO_MODE_DEVICE = 1 << 26
GO_MODE_NAMED_PIPE = 1 << 25
GO_MODE_SOCKET = 1 << 24
GO_MODE_SETUID = 1 << 23
GO_MODE_SETGID = 1 << 22
GO_MODE_CHAR_DEVICE = 1 << 21
GO_MODE_STICKY = 1 << 20


@dataclass
class FSMount:
    destination: str
    source: str
    read_only: bool = False


@dataclass
class ContainerFS:
    """A container's filesystem as the archive calls see it (built by the engine per call)."""

    container: str
    root: str
    mounts: list[FSMount] = field(default_factory=list)
    mounts_visible: bool = False
    readonly_rootfs: bool = False
    owner: tuple[int, int] | None = None
    # --userns-remap: files on the host belong to the range; tars name the container's ids
    idmap: IdMap | None = None

    def open_root(self) -> Root:
        spliced = {} if self.mounts_visible else {m.destination: m.source for m in self.mounts}
        return Root(self.root, spliced)


def go_file_mode(mode: int) -> int:
    out = mode & 0o777
    if stat.S_ISDIR(mode):
        out |= GO_MODE_DIR
    elif stat.S_ISLNK(mode):
        out |= GO_MODE_SYMLINK
    elif stat.S_ISBLK(mode):
        out |= GO_MODE_DEVICE
    elif stat.S_ISCHR(mode):
        out |= GO_MODE_DEVICE | GO_MODE_CHAR_DEVICE
    elif stat.S_ISFIFO(mode):
        out |= GO_MODE_NAMED_PIPE
    elif stat.S_ISSOCK(mode):
        out |= GO_MODE_SOCKET
    if mode & stat.S_ISUID:
        out |= GO_MODE_SETUID
    if mode & stat.S_ISGID:
        out |= GO_MODE_SETGID
    if mode & stat.S_ISVTX:
        out |= GO_MODE_STICKY
    return out


def go_time(ns: int) -> str:
    """Go's time.Time JSON (RFC 3339 with nanoseconds, trailing zeros trimmed), in UTC."""
    secs, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f".{frac:09d}".rstrip("0") if frac else ""
    return f"{base}{fraction}Z"


def encode_stat(doc: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode("ascii")


def _abs_path(path: str) -> str:
    """The container path as dockerd keeps it: absolute, cleaned, but a trailing "/" or "/."
    preserved (archive.PreserveTrailingDotOrSeparator): they change what is archived."""
    if not path:
        raise InvalidArgument("no path given: add ?path=/some/path")
    cleaned = clean(path)
    if path.endswith("/.") or path == ".":
        return cleaned.rstrip("/") + "/."
    if path.endswith("/") and cleaned != "/":
        return cleaned + "/"
    return cleaned


def _not_found(fs: ContainerFS, path: str) -> NotFound:
    return NotFound(f"Could not find the file {path} in container {fs.container}")


def _stat(root: Root, fs: ContainerFS, path: str) -> tuple[dict[str, Any], str, os.stat_result]:
    """(stat JSON, resolved container path, lstat) of ``path``, last component not followed."""
    abs_path = _abs_path(path)
    # A trailing "/" or "/." makes the last component a folder to enter: a link there is followed
    # (dockerd resolves the dirname and lstat()s "dir/." or "dir/").
    follow = abs_path.endswith("/") or abs_path.endswith("/.")
    try:
        res = root.resolve(abs_path, follow=follow)
    except MissingParent:
        raise _not_found(fs, path) from None
    with res:
        if not res.exists:
            raise _not_found(fs, path)
        st = res.lstat()
        resolved = res.path
    if abs_path.endswith("/") and not stat.S_ISDIR(st.st_mode) and not stat.S_ISLNK(st.st_mode):
        raise InvalidArgument(f"{path}: not a directory: drop the trailing slash to name the file")
    link_target = root.resolved_path(abs_path) if stat.S_ISLNK(st.st_mode) else ""
    name = posixpath.basename(abs_path.rstrip("/")) if abs_path.rstrip("/") else "/"
    if abs_path.endswith("/."):
        name = "."
    doc = {
        "name": name,
        "size": st.st_size,
        "mode": go_file_mode(st.st_mode),
        "mtime": go_time(st.st_mtime_ns),
        "linkTarget": link_target,
    }
    return doc, resolved, st


def stat_path(fs: ContainerFS, path: str) -> dict[str, Any]:
    """The ``X-Docker-Container-Path-Stat`` JSON of ``path`` (HEAD .../archive)."""
    with fs.open_root() as root:
        return _stat(root, fs, path)[0]


def read_archive(fs: ContainerFS, path: str) -> tuple[dict[str, Any], Generator[bytes, None, None]]:
    """Stat of ``path`` and a generator of the tar stream (GET .../archive).

    The generator holds the container's root open until it is exhausted or closed.
    """
    root = fs.open_root()
    try:
        doc, resolved, st = _stat(root, fs, path)
    except BaseException:
        root.close()
        raise
    abs_path = _abs_path(path)
    if stat.S_ISDIR(st.st_mode):
        # A folder is archived under the name asked for: "/etc" -> "etc/...", "/etc/." -> "./...",
        # "/" -> "./..." (moby TarResourceRebaseOpts with rebase name filepath.Base(absPath)).
        base = posixpath.basename(abs_path.rstrip("/"))
        if abs_path.endswith("/.") or abs_path == "/":
            base = "."
        return doc, _generate(root, resolved, base, fs.idmap)
    return doc, _generate(root, resolved, posixpath.basename(abs_path.rstrip("/")), fs.idmap)


def _generate(root: Root, resolved: str, name: str, idmap: IdMap | None) -> Generator[bytes, None, None]:
    try:
        yield from write_tar(root, resolved, name, idmap)
    finally:
        root.close()


def _mount_of(fs: ContainerFS, path: str) -> FSMount | None:
    best: FSMount | None = None
    for m in fs.mounts:
        dst = clean(m.destination)
        if (path == dst or path.startswith(dst.rstrip("/") + "/")) and (
            best is None or len(dst) > len(clean(best.destination))
        ):
            best = m
    return best


def extract_archive(
    fs: ContainerFS,
    path: str,
    stream: BinaryIO,
    *,
    no_overwrite_dir_non_dir: bool = False,
    copy_uid_gid: bool = False,
) -> None:
    """Extract the tar (optionally gzip/bzip2/xz compressed) read from ``stream`` into folder
    ``path`` of the container (PUT .../archive).

    Entries keep the owners the tar names, or take the container's user with ``copy_uid_gid``
    (``docker cp -a``; ``fs.owner``). With ``no_overwrite_dir_non_dir`` a folder is never
    replaced by a file nor a file by a folder.
    """
    with fs.open_root() as root:
        try:
            res = root.resolve(_abs_path(path), follow=True)
        except MissingParent:
            raise _not_found(fs, path) from None
        with res:
            if not res.exists:
                raise _not_found(fs, path)
            if not stat.S_ISDIR(res.lstat().st_mode):
                raise InvalidArgument(
                    f"extraction point is not a directory: {path} in container {fs.container}"
                )
            dest = res.path
        mount = _mount_of(fs, dest)
        if mount is not None and mount.read_only:
            raise InvalidArgument(f"mounted volume is marked read-only: {mount.destination} (copy elsewhere)")
        if mount is None and fs.readonly_rootfs:
            raise InvalidArgument(
                f"container rootfs is marked read-only: copy into a writable volume of {fs.container}"
            )
        owner = fs.owner if copy_uid_gid else None
        extract_tar(root, dest, stream, no_overwrite_dir_non_dir=no_overwrite_dir_non_dir, owner=owner,
                    idmap=fs.idmap)  # fmt: skip
