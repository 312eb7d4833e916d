"""Walking a container's paths through file descriptors, as if its root were "/".

Every component is opened with ``openat(parent, name, O_PATH | O_NOFOLLOW)``; a symlink is read
from its own fd (``readlinkat(fd, "")``) and its target resolved again from the container's root
(absolute) or from the current folder (relative). ".." pops our own stack of folders and never
asks the kernel, so neither a symlink nor ".." leads out of the root, and a symlink swapped in
while we walk (the CVE-2018-15664 race of ``docker cp``) is only ever followed inside the root.

For a stopped container the root is its mounted rootfs and its volumes and bind mounts exist
only in the mount table the engine keeps: ``mounts`` splices them in at their destinations, so
``/data/x`` of a container with a volume at ``/data`` reaches the volume's folder. For a running
container the root is ``/proc/<pid>/root``, where the kernel shows the container's own mounts.
"""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import dataclass, field

from dockyard.errors import InvalidArgument

_MAX_LINKS = 255
_O_PATH = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


def clean(path: str) -> str:
    """The absolute, normalised container path (``..`` cannot climb above "/")."""
    return posixpath.normpath("/" + path.lstrip("/")).replace("//", "/")


def reopen(fd: int, flags: int) -> int:
    """A real fd (read, write, list) for the object an O_PATH fd holds -- the same inode, even
    if its name was swapped meanwhile (the /proc/self/fd magic link is not a path walk)."""
    return os.open(f"/proc/self/fd/{fd}", flags | os.O_CLOEXEC)


@dataclass
class Resolved:
    """Where a path led: ``fd`` (O_PATH) of the final object or -1 when it does not exist,
    ``parent`` (O_PATH) of the folder holding it (-1 for "/"), its ``name`` in that folder and
    ``path``, the container path it resolved to. ``close()`` releases every fd."""

    path: str
    name: str
    parent: int = -1
    fd: int = -1
    _owned: list[int] = field(default_factory=list)

    @property
    def exists(self) -> bool:
        return self.fd >= 0

    def lstat(self) -> os.stat_result:
        return os.fstat(self.fd)

    def close(self) -> None:
        for fd in self._owned:
            try:
                os.close(fd)
            except OSError:
                pass
        self._owned.clear()

    def __enter__(self) -> Resolved:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MissingParent(Exception):
    """A folder on the way does not exist (or is not a folder); carries the container path."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class Root:
    """A container's root and its spliced mounts, opened once for a series of lookups."""

    def __init__(self, root: str, mounts: dict[str, str] | None = None) -> None:
        self.fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.mounts = {clean(dst): src for dst, src in (mounts or {}).items()}

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Root:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mount_source(self, path: str) -> str | None:
        return self.mounts.get(path)

    def resolve(self, path: str, *, follow: bool, lexical: bool = False) -> Resolved:
        """Resolve ``path``; the last component is followed if it is a symlink only when
        ``follow``. A missing last component gives ``exists == False`` (``parent`` and ``name``
        say where it would be); a missing folder on the way raises :class:`MissingParent`, or
        with ``lexical`` gives a missing result whose ``path`` continues the walk by name."""
        pending = [p for p in path.split("/") if p and p != "."]
        stack: list[tuple[int, str]] = []  # (O_PATH fd, name) of each folder below the root
        links = 0

        def top() -> int:
            return stack[-1][0] if stack else self.fd

        def here() -> str:
            return "/" + "/".join(n for _, n in stack)

        def unwind(keep: int = 0) -> None:
            while len(stack) > keep:
                os.close(stack.pop()[0])

        try:
            while pending:
                part = pending.pop(0)
                if part == "..":
                    if stack:
                        os.close(stack.pop()[0])
                    continue
                last = not pending
                cpath = posixpath.join(here(), part)
                source = self.mounts.get(cpath)
                try:
                    if source is not None:
                        # A mount's source is the engine's own host path: following it is intended.
                        fd = os.open(source, os.O_PATH | os.O_CLOEXEC)
                    else:
                        fd = os.open(part, _O_PATH, dir_fd=top())
                except FileNotFoundError:
                    if last:
                        return self._result(stack, cpath, part, -1)
                    if lexical:
                        unwind()
                        return Resolved(clean(cpath + "/" + "/".join(pending)), pending[-1])
                    raise MissingParent(cpath) from None
                except NotADirectoryError:
                    raise MissingParent(here()) from None
                st = os.fstat(fd)
                if stat.S_ISLNK(st.st_mode) and (not last or follow):
                    links += 1
                    try:
                        target = os.readlink("", dir_fd=fd)
                    finally:
                        os.close(fd)
                    if links > _MAX_LINKS:
                        raise InvalidArgument(f"too many levels of symbolic links resolving {path!r}")
                    if target.startswith("/"):
                        unwind()
                    pending = [p for p in target.split("/") if p and p != "."] + pending
                    continue
                if last:
                    return self._result(stack, cpath, part, fd)
                if not stat.S_ISDIR(st.st_mode):
                    os.close(fd)
                    raise MissingParent(cpath)
                stack.append((fd, part))
            # The path named the root itself (or walked back up to a folder on the stack).
            fd = os.dup(top())
            name = stack[-1][1] if stack else ""
            parent_fd = stack[-2][0] if len(stack) >= 2 else (self.fd if stack else -1)
            res = Resolved(here(), name, -1, fd, [fd])
            if parent_fd >= 0:
                res.parent = os.dup(parent_fd)
                res._owned.append(res.parent)
            unwind()
            return res
        except BaseException:
            unwind()
            raise

    def _result(self, stack: list[tuple[int, str]], cpath: str, name: str, fd: int) -> Resolved:
        parent = os.dup(stack[-1][0] if stack else self.fd)
        for sfd, _ in stack:
            os.close(sfd)
        stack.clear()
        owned = [parent] if fd < 0 else [parent, fd]
        return Resolved(cpath, name, parent, fd, owned)

    def resolved_path(self, path: str) -> str:
        """The container path ``path`` leads to with every symlink followed, existing or not
        (what dockerd reports as ``linkTarget``)."""
        try:
            with self.resolve(path, follow=True, lexical=True) as res:
                return res.path
        except MissingParent as exc:
            return exc.path  # a file where a folder should be: the walk ends there

    def mkdirs(self, path: str, mode: int = 0o755, owner: tuple[int, int] | None = None) -> Resolved:
        """Resolve folder ``path`` (following symlinks), creating missing folders as ``mkdir -p``."""
        parts = [p for p in clean(path).split("/") if p]
        for i in range(len(parts) + 1):
            prefix = "/" + "/".join(parts[: len(parts) - i])
            try:
                res = self.resolve(prefix, follow=True)
            except MissingParent:
                continue
            if not res.exists:
                res.close()
                continue
            if not stat.S_ISDIR(res.lstat().st_mode):
                res.close()
                raise MissingParent(res.path)
            # Create the rest below this existing folder, one level at a time.
            for part in parts[len(parts) - i :]:
                try:
                    os.mkdir(part, mode, dir_fd=res.fd)
                    if owner is not None:
                        os.chown(part, owner[0], owner[1], dir_fd=res.fd, follow_symlinks=False)
                except FileExistsError:
                    pass  # made meanwhile: resolved (safely) below all the same
                nxt = self.resolve(posixpath.join(res.path, part), follow=True)
                res.close()
                res = nxt
                if not res.exists or not stat.S_ISDIR(res.lstat().st_mode):
                    res.close()
                    raise MissingParent(res.path)
            return res
        raise MissingParent("/")
