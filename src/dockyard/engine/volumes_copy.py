"""Copying an image's folder into a new volume (Docker's copy-up), and measuring volumes.

The copy keeps what dockerd's (continuity's ``fs.CopyDir``) keeps: owners, modes (setuid and
sticky bits too), nanosecond times, symlinks as links, hardlinks as links within the copy, device
nodes, fifos and extended attributes. It never follows a symlink: the source is image content,
and a link in it must not make the daemon read host files.
"""

from __future__ import annotations

import errno
import os
import stat

_CHUNK = 1 << 20


def is_empty(path: str | os.PathLike[str]) -> bool:
    with os.scandir(path) as it:
        return next(it, None) is None


def dir_size(path: str | os.PathLike[str]) -> int:
    """Bytes of the regular files below ``path``, each inode counted once (-1 if unreadable)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [os.fspath(path)]
    try:
        while stack:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    st = entry.stat(follow_symlinks=False)
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(entry.path)
                    elif (st.st_dev, st.st_ino) not in seen:
                        seen.add((st.st_dev, st.st_ino))
                        total += st.st_size
    except FileNotFoundError:
        return 0
    except OSError:
        return -1
    return total


def copy_up(source: str, dest: str) -> None:
    """Copy the tree ``source`` into the existing folder ``dest``; ``dest`` takes the owner,
    mode and times of ``source`` as well (moby ``copyOwnership``)."""
    links: dict[tuple[int, int], str] = {}
    dirs: list[tuple[str, os.stat_result]] = []
    _copy_dir(source, dest, links, dirs)
    st = os.lstat(source)
    _copy_meta(source, dest, st)
    # Directory times last: creating entries in a folder updates its mtime.
    for path, dst_st in reversed(dirs):
        os.utime(path, ns=(dst_st.st_atime_ns, dst_st.st_mtime_ns), follow_symlinks=False)
    os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def _copy_dir(
    src: str, dst: str, links: dict[tuple[int, int], str], dirs: list[tuple[str, os.stat_result]]
) -> None:
    with os.scandir(src) as it:
        entries = list(it)
    for entry in entries:
        s = entry.path
        d = os.path.join(dst, entry.name)
        st = entry.stat(follow_symlinks=False)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(d, 0o700)
            _copy_dir(s, d, links, dirs)
            _copy_meta(s, d, st)
            dirs.append((d, st))
            continue
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in links:
            os.link(links[key], d, follow_symlinks=False)
            continue
        if stat.S_ISLNK(mode):
            os.symlink(os.readlink(s), d)
        elif stat.S_ISREG(mode):
            _copy_file(s, d)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
            os.mknod(d, mode, st.st_rdev)
        else:
            continue  # sockets are not copied (moby skips them too)
        _copy_meta(s, d, st)
        os.utime(d, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
        if st.st_nlink > 1:
            links[key] = d


def _copy_file(src: str, dst: str) -> None:
    fd_in = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fd_out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            while True:
                try:
                    # copy_file_range lets overlayfs/xfs/btrfs share extents instead of copying.
                    n = os.copy_file_range(fd_in, fd_out, _CHUNK)
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                        raise
                    n = _copy_plain(fd_in, fd_out)
                    break
                if n == 0:
                    break
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)


def _copy_plain(fd_in: int, fd_out: int) -> int:
    total = 0
    while True:
        data = os.read(fd_in, _CHUNK)
        if not data:
            return total
        os.write(fd_out, data)
        total += len(data)


def _copy_meta(src: str, dst: str, st: os.stat_result) -> None:
    os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        # After chown: chown(2) clears the setuid/setgid bits, so the mode goes second.
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return  # the filesystem has no xattrs
    for name in names:
        try:
            os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=False), follow_symlinks=False)
        except OSError:
            pass  # e.g. trusted.overlay.* or security.selinux the target refuses: Docker ignores these too
