"""Resolve a path inside a root filesystem without ever leaving it (the CVE-2021-30465 class).

Symlinks are followed component by component as if ``root`` were "/": an absolute link target
restarts from ``root`` and ".." never climbs above it. The result is then opened with O_PATH and
the kernel's own idea of the opened file (/proc/self/fd/N) is checked to lie inside ``root``, so a
symlink swapped in between resolution and use is caught as well.
"""

from __future__ import annotations

import os
import stat

from dockyard.errors import InvalidArgument

_MAX_LINKS = 255


def secure_join(root: str, unsafe: str) -> str:
    root = root.rstrip("/") or "/"
    pending = [p for p in unsafe.split("/") if p]
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        full = root + "/" + "/".join([*resolved, part])
        try:
            st = os.lstat(full)
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > _MAX_LINKS:
                raise InvalidArgument(f"too many levels of symbolic links resolving {unsafe} in {root}")
            target = os.readlink(full)
            if target.startswith("/"):
                resolved = []
            pending = [p for p in target.split("/") if p] + pending
            continue
        resolved.append(part)
    return root + "/" + "/".join(resolved) if resolved else root


def is_within(root: str, path: str) -> bool:
    root = root.rstrip("/")
    return path == root or path.startswith(root + "/") or root == ""


def open_inside(root: str, path: str) -> int:
    """O_PATH fd of ``path`` (already secure-joined), verified to still be inside ``root``."""
    fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    real = os.readlink(f"/proc/self/fd/{fd}")
    if not is_within(root, real):
        os.close(fd)
        raise InvalidArgument(f"mount target {path} resolves to {real}, outside the container's root {root}")
    return fd


def mkdir_all_inside(root: str, path: str, mode: int = 0o755) -> None:
    """Create ``path`` (secure-joined) and its parents; each parent is re-checked not to be a link."""
    rel = path[len(root.rstrip("/")) :].strip("/")
    cur = root.rstrip("/")
    for part in rel.split("/"):
        if not part:
            continue
        cur = cur + "/" + part
        try:
            os.mkdir(cur, mode)
        except FileExistsError:
            st = os.lstat(cur)
            if stat.S_ISLNK(st.st_mode):
                raise InvalidArgument(f"{cur} became a symbolic link while creating mount points") from None
            if not stat.S_ISDIR(st.st_mode):
                raise InvalidArgument(f"cannot create mount point {path}: {cur} is not a directory") from None


def ensure_file_inside(root: str, path: str) -> None:
    mkdir_all_inside(root, os.path.dirname(path))
    try:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        os.close(fd)
    except IsADirectoryError:
        pass
