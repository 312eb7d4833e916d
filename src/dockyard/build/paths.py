"""Paths inside a root folder (a mounted rootfs, the context) that no symlink leads out of.

secure_join(root, path)  the host path of ``path`` as seen with ``root`` as "/": symlinks
                         on the way are followed and resolved against ``root``, ".." stops
                         at the root (as chroot would), as moby's symlink.FollowSymlinkInScope.
within(root, path)       the lexical join, refusing a path that climbs out of ``root``.
"""

from __future__ import annotations

import os
import posixpath

from dockyard.errors import InvalidArgument

_MAX_LINKS = 255


def secure_join(root: str, path: str, *, follow_last: bool = True) -> str:
    root = os.path.abspath(root)
    todo = [p for p in path.split("/") if p]
    done: list[str] = []
    links = 0
    while todo:
        part = todo.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = os.path.join(root, *done, part)
        if (todo or follow_last) and os.path.islink(candidate):
            links += 1
            if links > _MAX_LINKS:
                raise InvalidArgument(f"too many levels of symbolic links in {path!r}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                done = []
            todo = [p for p in target.split("/") if p] + todo
            continue
        done.append(part)
    return os.path.join(root, *done)


def within(root: str, rel: str) -> str | None:
    """``root``/``rel`` lexically, or None when ``rel`` climbs out of ``root``."""
    cleaned = posixpath.normpath("/" + rel) if rel else "/"
    joined = posixpath.normpath(rel.lstrip("/")) if rel.strip("/") else "."
    if joined == ".." or joined.startswith("../"):
        return None
    return os.path.join(root, cleaned.lstrip("/"))
