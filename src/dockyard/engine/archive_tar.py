"""Tar streams in and out of a container's filesystem, every file reached through an fd.

Writing: headers come from ``tarfile.TarInfo.tobuf`` (PAX where a field needs it, as Go's
archive/tar writes), file data is streamed in chunks, so a large file never sits in memory.
Hardlinked files after the first become link entries.

Extracting: each entry's folder is resolved (following symlinks) inside the container with
:class:`~dockyard.engine.archive_resolve.Root`, missing folders are made 0755 as dockerd's untar
does, the entry itself is created with ``*at`` calls relative to that folder and never through a
symlink; an entry whose name climbs out of the extraction folder ("../x", "/../x") is refused, as
is a hard link to a file outside it. Folder times are set last, since creating entries in a
folder changes its mtime.
"""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
import stat
import tarfile
from collections.abc import Iterator
from typing import BinaryIO

from dockyard.engine.archive_resolve import MissingParent, Root, clean, reopen
from dockyard.engine.userns import IdMap
from dockyard.errors import InvalidArgument

_CHUNK = 1 << 20
_BLOCK = 512


def _pad(size: int) -> bytes:
    rest = size % _BLOCK
    return b"\0" * (_BLOCK - rest) if rest else b""


def _info(name: str, st: os.stat_result, idmap: IdMap | None) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    # A remapped container's files are owned by the range on the host: the tar names the ids the
    # container sees (dockerd's archive IDMap.ToContainer).
    info.uid = idmap.container_uid(st.st_uid) if idmap else st.st_uid
    info.gid = idmap.container_gid(st.st_gid) if idmap else st.st_gid
    info.mtime = st.st_mtime
    info.size = 0
    return info


def _header(info: tarfile.TarInfo) -> bytes:
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def write_tar(root: Root, path: str, name: str, idmap: IdMap | None = None) -> Iterator[bytes]:
    """The tar of container path ``path`` (resolved, not followed) with entries named from
    ``name`` ("etc" -> "etc", "etc/passwd", ...); ends with the two zero blocks."""
    links: dict[tuple[int, int], str] = {}
    with root.resolve(path, follow=False) as res:
        if not res.exists:
            return
        yield from _entry(root, res.parent, res.name, res.fd, res.path, name, links, idmap)
    yield b"\0" * (2 * _BLOCK)


def _entry(
    root: Root,
    parent: int,
    fname: str,
    fd: int,
    cpath: str,
    name: str,
    links: dict[tuple[int, int], str],
    idmap: IdMap | None,
) -> Iterator[bytes]:
    st = os.fstat(fd)
    mode = st.st_mode
    info = _info(name, st, idmap)
    key = (st.st_dev, st.st_ino)
    if not stat.S_ISDIR(mode) and st.st_nlink > 1 and key in links:
        info.type = tarfile.LNKTYPE
        info.linkname = links[key]
        yield _header(info)
        return
    if stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
        if not info.name.endswith("/"):
            info.name += "/"
        yield _header(info)
        yield from _children(root, fd, cpath, name, links, idmap)
        return
    if stat.S_ISLNK(mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink("", dir_fd=fd)
        yield _header(info)
        return
    if stat.S_ISREG(mode):
        info.type = tarfile.REGTYPE
        info.size = st.st_size
        if st.st_nlink > 1:
            links[key] = name
        yield _header(info)
        yield from _file_data(fd, st.st_size)
        return
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
        info.type = (
            tarfile.CHRTYPE
            if stat.S_ISCHR(mode)
            else tarfile.BLKTYPE
            if stat.S_ISBLK(mode)
            else tarfile.FIFOTYPE
        )
        if not stat.S_ISFIFO(mode):
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        yield _header(info)
    # Sockets are left out, as Go's archive/tar cannot represent them either.


def _file_data(fd: int, size: int) -> Iterator[bytes]:
    rfd = reopen(fd, os.O_RDONLY)
    try:
        left = size
        while left > 0:
            data = os.read(rfd, min(_CHUNK, left))
            if not data:
                break  # the file shrank while we read: pad with zeros to the size announced
            left -= len(data)
            yield data
        if left > 0:
            yield b"\0" * left
    finally:
        os.close(rfd)
    yield _pad(size)


def _children(
    root: Root, dir_fd: int, cpath: str, name: str, links: dict[tuple[int, int], str], idmap: IdMap | None
) -> Iterator[bytes]:
    rfd = reopen(dir_fd, os.O_RDONLY | os.O_DIRECTORY)
    try:
        names = sorted(e.name for e in os.scandir(rfd))
    finally:
        os.close(rfd)
    for child in names:
        child_cpath = posixpath.join(cpath, child)
        source = root.mount_source(child_cpath)
        try:
            if source is not None:
                cfd = os.open(source, os.O_PATH | os.O_CLOEXEC)
            else:
                cfd = os.open(child, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        except FileNotFoundError:
            continue  # removed while we walked
        try:
            child_name = posixpath.join(name, child) if name not in ("", ".") else f"./{child}"
            yield from _entry(root, dir_fd, child, cfd, child_cpath, child_name, links, idmap)
        finally:
            os.close(cfd)


# ---------------------------------------------------------------- extraction


def _member_path(dest: str, name: str) -> str:
    rel = posixpath.normpath("/" + name.lstrip("/"))
    # dockerd refuses names that climb above the extraction folder ("breakout") before joining.
    joined = posixpath.normpath(dest + "/" + name)
    if not (joined == dest or joined.startswith(dest.rstrip("/") + "/")):
        raise InvalidArgument(f"invalid tar entry {name!r}: it points outside the extraction folder {dest}")
    return clean(dest + rel)


def _remove(parent: int, name: str, st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=parent)
    else:
        os.unlink(name, dir_fd=parent)


def _to_host(idmap: IdMap, uid: int, gid: int) -> tuple[int, int]:
    return idmap.host_uid(uid), idmap.host_gid(gid)


def extract_tar(
    root: Root,
    dest: str,
    stream: BinaryIO,
    *,
    no_overwrite_dir_non_dir: bool,
    owner: tuple[int, int] | None,
    idmap: IdMap | None = None,
) -> None:
    """Extract into folder ``dest``: entries keep the tar's owners, or all take ``owner``; with
    ``idmap`` those are container ids, written as the range's host ids (dockerd's
    IDMap.ToHost), and folders made on the way belong to container root."""
    dir_times: list[tuple[str, float]] = []
    parents = owner
    if idmap is not None:
        parents = _to_host(idmap, *owner) if owner else (idmap.uid_start, idmap.gid_start)
    try:
        tar = tarfile.open(fileobj=stream, mode="r|*")  # noqa: SIM115 -- closed below, after the loop
    except tarfile.TarError as exc:
        raise InvalidArgument(f"the request body is not a tar archive: {exc}") from None
    try:
        for member in tar:
            ids = owner or (member.uid, member.gid)
            if idmap is not None:
                ids = _to_host(idmap, *ids)
            _extract_one(root, dest, tar, member, no_overwrite_dir_non_dir, ids, parents, dir_times)
    except tarfile.TarError as exc:
        raise InvalidArgument(f"malformed tar archive: {exc}") from None
    finally:
        tar.close()
    for cpath, mtime in reversed(dir_times):
        try:
            with root.resolve(cpath, follow=False) as res:
                if res.exists and stat.S_ISDIR(res.lstat().st_mode):
                    os.utime(res.name, (mtime, mtime), dir_fd=res.parent, follow_symlinks=False)
        except (MissingParent, OSError):
            pass  # removed or replaced by a later entry: nothing to date


def _extract_one(
    root: Root,
    dest: str,
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    no_overwrite: bool,
    owner: tuple[int, int],
    parents: tuple[int, int] | None,
    dir_times: list[tuple[str, float]],
) -> None:
    if member.type in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
        return  # consumed by tarfile itself
    cpath = _member_path(dest, member.name)
    if cpath == dest and not member.isdir():
        raise InvalidArgument(
            f"invalid tar entry {member.name!r}: only a folder can name the extraction folder"
        )
    parent_path, name = posixpath.split(cpath)
    uid, gid = owner
    if cpath == dest:
        return  # "." of the archive: the folder exists; dockerd leaves its metadata alone
    try:
        parent = root.mkdirs(parent_path, 0o755, parents)
    except MissingParent as exc:
        raise InvalidArgument(f"cannot extract {member.name!r}: {exc.path} is not a folder") from None
    with parent:
        pfd = parent.fd
        try:
            existing: os.stat_result | None = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        if existing is not None:
            is_dir = stat.S_ISDIR(existing.st_mode)
            if no_overwrite and is_dir and not member.isdir():
                raise InvalidArgument(
                    f'cannot overwrite directory "{cpath}" with non-directory "{member.name}"'
                )
            if no_overwrite and not is_dir and member.isdir():
                raise InvalidArgument(
                    f'cannot overwrite non-directory "{cpath}" with directory "{member.name}"'
                )
            if not (is_dir and member.isdir()):
                _remove(pfd, name, existing)
        if member.isdir():
            try:
                os.mkdir(name, 0o700, dir_fd=pfd)
            except FileExistsError:
                pass
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
            try:
                os.fchown(fd, uid, gid)
                os.fchmod(fd, member.mode & 0o7777)
                _xattrs(fd, member)
            finally:
                os.close(fd)
            dir_times.append((cpath, member.mtime))
            return
        if member.isreg():
            fd = os.open(
                name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=pfd
            )
            try:
                src = tar.extractfile(member)
                if src is not None:
                    while True:
                        chunk = src.read(_CHUNK)
                        if not chunk:
                            break
                        os.write(fd, chunk)
                os.fchown(fd, uid, gid)
                os.fchmod(fd, member.mode & 0o7777)  # after chown, which clears setuid bits
                _xattrs(fd, member)
            finally:
                os.close(fd)
        elif member.issym():
            os.symlink(member.linkname, name, dir_fd=pfd)
            os.chown(name, uid, gid, dir_fd=pfd, follow_symlinks=False)
        elif member.islnk():
            target = _member_path(dest, member.linkname)
            try:
                link_res = root.resolve(target, follow=False)
            except MissingParent:
                raise InvalidArgument(
                    f"hard link {member.name!r} -> {member.linkname!r}: no such file"
                ) from None
            with link_res:
                if not link_res.exists:
                    raise InvalidArgument(f"hard link {member.name!r} -> {member.linkname!r}: no such file")
                os.link(
                    link_res.name, name, src_dir_fd=link_res.parent, dst_dir_fd=pfd, follow_symlinks=False
                )
            return  # a hard link shares the target's owner, mode and times
        elif member.ischr() or member.isblk() or member.isfifo():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK if member.isblk() else stat.S_IFIFO
            os.mknod(name, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=pfd)
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
            try:
                # chmod on an O_PATH fd goes through its /proc/self/fd link: the node we made.
                os.chown(f"/proc/self/fd/{fd}", uid, gid)
                os.chmod(f"/proc/self/fd/{fd}", member.mode & 0o7777)
            finally:
                os.close(fd)
        else:
            return  # other types (GNU sparse, volume labels...) are skipped, as Go's untar does
        try:
            os.utime(name, (member.mtime, member.mtime), dir_fd=pfd, follow_symlinks=False)
        except OSError as exc:
            if exc.errno != errno.ENOTSUP:
                raise


def _xattrs(fd: int, member: tarfile.TarInfo) -> None:
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            try:
                os.setxattr(fd, key[len("SCHILY.xattr.") :], value.encode("utf-8", "surrogateescape"))
            except OSError:
                pass  # the filesystem refuses that namespace (trusted.*, security.*): dockerd ignores it
