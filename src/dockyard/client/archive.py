"""``docker cp`` on the client side: path rules, and tars built from and extracted to the host.

The archive API (``GET/PUT/HEAD /containers/{id}/archive?path=``) moves tars whose top entry is
the source's base name. Where a copy lands follows moby ``pkg/archive/copy.go``
(``PrepareArchiveCopy``): into an existing directory as is; onto a new or existing file name by
renaming the top entry; a source ending in ``/.`` copies a directory's contents (its entries are
``./...``). The stat of a container path comes in ``X-Docker-Container-Path-Stat``: base64 JSON
``{name, size, mode, mtime, linkTarget}`` with Go ``os.FileMode`` bits (directory = 1<<31).

Extraction on the host refuses entries that would land outside the destination and, as docker
(``NoLchown``), keeps the files owned by the user running the command.
"""

from __future__ import annotations

import base64
import json
import os

from dockyard.errors import InvalidArgument, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from collections.abc import Iterable, Iterator
    from typing import Any, BinaryIO

GO_MODE_DIR = 1 << 31
GO_MODE_SYMLINK = 1 << 27
STAT_HEADER = "x-docker-container-path-stat"


class PathStat:
    """What the daemon (or the host) says about one side of a copy."""

    __slots__ = ("exists", "is_dir", "link_target", "name", "path")

    def __init__(
        self, path: str, *, exists: bool, is_dir: bool, name: str = "", link_target: str = ""
    ) -> None:
        self.path = path
        self.exists = exists
        self.is_dir = is_dir
        self.name = name
        self.link_target = link_target


def decode_stat(path: str, header: str) -> PathStat:
    data: dict[str, Any] = json.loads(base64.b64decode(header)) if header else {}
    mode = int(data.get("mode") or 0)
    return PathStat(
        path,
        exists=True,
        is_dir=bool(mode & GO_MODE_DIR),
        name=str(data.get("name") or ""),
        link_target=str(data.get("linkTarget") or ""),
    )


def local_stat(path: str) -> PathStat:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return PathStat(path, exists=False, is_dir=False)
    import stat

    return PathStat(path, exists=True, is_dir=stat.S_ISDIR(st.st_mode))


def split_dir_entry(path: str) -> tuple[str, str]:
    """moby's ``SplitPathDirEntry``: ``/a/b/`` -> (``/a``, ``b``); ``/a/.`` -> (``/a``, ``.``)."""
    trimmed = path.rstrip("/") or "/"
    if trimmed.endswith("/.") or trimmed == ".":
        head = trimmed[:-1].rstrip("/") or ("/" if trimmed.startswith("/") else ".")
        return head, "."
    head, _, base = trimmed.rpartition("/")
    if not _:
        return ".", trimmed
    return head or "/", base


def asserts_directory(path: str) -> bool:
    return path.endswith("/") or path.endswith("/.") or path == "."


def plan(src: PathStat, dst: PathStat) -> tuple[str, str, str]:
    """(folder to extract into, top entry name in the tar, name it must take there).

    The two names are equal when nothing is renamed.
    """
    dst_dir, dst_base = split_dir_entry(dst.path)
    _, src_base = split_dir_entry(src.path)
    if dst.exists and dst.is_dir:
        return dst.path, src_base, src_base
    if dst.exists and src.is_dir:
        raise InvalidArgument(f'cannot copy a directory onto the file "{dst.path}": name a directory')
    if not dst.exists and not src.is_dir and asserts_directory(dst.path):
        raise InvalidArgument(
            f'no such directory "{dst.path}": the source is a file; create the folder or drop the "/"'
        )
    return dst_dir, src_base, dst_base


def _rebased(name: str, old: str, new: str) -> str | None:
    """The entry's name with its top component ``old`` replaced by ``new``; None if outside."""
    clean = name.lstrip("/")
    while clean.startswith("./") and old != ".":
        clean = clean[2:]
    if old == ".":
        if clean in (".", "./", ""):
            return new
        rest = clean[2:] if clean.startswith("./") else clean
        return f"{new}/{rest}".rstrip("/")
    if clean == old or clean == old + "/":
        return new
    if clean.startswith(old + "/"):
        return new + clean[len(old) :].rstrip("/")
    return None


def _inside(base: str, name: str) -> bool:
    target = os.path.normpath(os.path.join(base, name))
    return target == base or target.startswith(base.rstrip("/") + "/")


def extract(stream: BinaryIO, dest_dir: str, old: str, new: str) -> None:
    """Extract a tar stream into ``dest_dir``, renaming the top entry ``old`` to ``new``."""
    import tarfile

    base = os.path.realpath(dest_dir)
    if not os.path.isdir(base):
        raise NotFound(f'destination folder "{dest_dir}" does not exist: create it first')

    class _NoChown(tarfile.TarFile):
        def chown(self, tarinfo: tarfile.TarInfo, targetpath: Any, numeric_owner: bool) -> None:
            return None  # files belong to whoever runs the copy, as with docker cp

    with _NoChown.open(fileobj=stream, mode="r|*") as tar:
        for member in tar:
            name = _rebased(member.name, old, new)
            if name in ("", "."):
                continue  # the destination folder itself ("dir/." into an existing folder)
            if name is None or not _inside(base, name):
                raise InvalidArgument(f'refusing tar entry "{member.name}": it would land outside {dest_dir}')
            if member.islnk():
                link = _rebased(member.linkname, old, new)
                if link is None or not _inside(base, link):
                    raise InvalidArgument(f'refusing hard link "{member.name}" to "{member.linkname}"')
                member.linkname = link
            member.name = name
            target = os.path.join(base, name)
            if os.path.isdir(target) and not os.path.islink(target) and not member.isdir():
                raise InvalidArgument(f'cannot overwrite the directory "{target}" with a non-directory')
            tar.extract(member, base, set_attrs=not member.issym())


class _Sink:
    """A write-only file that hands its bytes out as they are written."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def _walk(path: str) -> Iterable[str]:
    yield path
    if os.path.isdir(path) and not os.path.islink(path):
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for entry in sorted(dirs + files):
                yield os.path.join(root, entry)


def tar_path(src_path: str, top_name: str, follow_link: bool = False) -> Iterator[bytes]:
    """Stream a tar of ``src_path`` whose top entry is called ``top_name`` (``.`` for contents)."""
    import tarfile

    source = os.path.realpath(src_path) if follow_link else src_path.rstrip("/") or "/"
    if source.endswith("/."):
        source = source[:-2] or "/"
    if not os.path.lexists(source):
        raise NotFound(f'no such file or directory: "{src_path}": check the local path')
    sink = _Sink()
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for path in _walk(source):
            rel = os.path.relpath(path, source)
            arcname = top_name if rel == "." else f"{top_name}/{rel}"
            tar.add(path, arcname=arcname, recursive=False)
            data = sink.take()
            if data:
                yield data
    yield sink.take()
