"""Network namespaces kept alive by a bind mount on a file, as `ip netns add` does, at a path of
our choosing (<exec-root>/netns/<cid>) that the OCI runtime joins through the config's
`linux.namespaces[].path`.

A namespace is created by unshare(CLONE_NEWNET) on the calling *thread* only (namespaces are per
task), an fd opened on /proc/thread-self/ns/net to hold it, and setns() back; attach() later
bind-mounts it by that fd. The caller must own the thread: the manager runs this on its netlink
worker, never on the daemon's event loop.
"""

from __future__ import annotations

import errno
import os
import re
import socket

from dockyard.errors import SystemFailure
from dockyard.util import syscalls

_SELF_NET = "/proc/thread-self/ns/net"


def new() -> tuple[int, socket.socket]:
    """A new, unnamed namespace: an fd that holds it, and a rtnetlink socket opened inside it.

    A netlink socket stays bound to the namespace it was created in, so the caller configures
    the namespace through the socket without entering it again. The namespace lives as long as
    the fd (or a later attach()) does.
    """
    home = os.open(_SELF_NET, os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.unshare(syscalls.CLONE_NEWNET)
        try:
            fd = os.open(_SELF_NET, os.O_RDONLY | os.O_CLOEXEC)
            try:
                sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE)
            except BaseException:
                os.close(fd)
                raise
        finally:
            _go_home(home)
    finally:
        os.close(home)
    return fd, sock


def enter(path: str) -> tuple[int, socket.socket]:
    """An fd holding the namespace mounted at ``path`` and a rtnetlink socket opened inside it
    (to add a network to a running container's sandbox). Runs on the calling thread, which
    goes back to its own namespace before returning."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        home = os.open(_SELF_NET, os.O_RDONLY | os.O_CLOEXEC)
        try:
            syscalls.setns(fd, syscalls.CLONE_NEWNET)
            try:
                sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE)
            finally:
                _go_home(home)
        finally:
            os.close(home)
    except BaseException:
        os.close(fd)
        raise
    return fd, sock


def attach(fd: int, path: str) -> None:
    """Bind-mount the namespace held by ``fd`` on a new file at ``path``."""
    created = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    os.close(created)
    try:
        syscalls.mount(f"/proc/thread-self/fd/{fd}", path, None, syscalls.MS_BIND)
    except BaseException:
        os.unlink(path)
        raise


def _go_home(home_fd: int) -> None:
    try:
        syscalls.setns(home_fd, syscalls.CLONE_NEWNET)
    except OSError as exc:
        # The thread would go on in the container's namespace; nothing after this is safe.
        raise SystemFailure(f"cannot return to the host's network namespace: {exc}", exc.errno or 0) from exc


def remove(path: str) -> None:
    """Unmount and delete a namespace file; idempotent.

    The namespace itself (with the container's eth0, and so the whole veth pair) is freed by the
    kernel's cleanup_net work once no mount, process or fd holds it: asynchronously, which keeps
    the ~25 ms synchronize_net() of a veth deletion off the container's removal path.
    """
    try:
        syscalls.umount2(path, syscalls.MNT_DETACH)
    except OSError as exc:
        # EINVAL: not a mount point (already unmounted, or never mounted); ENOENT: no file.
        if exc.errno not in (errno.EINVAL, errno.ENOENT):
            raise SystemFailure(
                f"cannot unmount network namespace {path}: {exc.strerror}", exc.errno or 0
            ) from exc
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass  # removed before (remove is called again for a container already cleaned up)


def is_mounted(path: str) -> bool:
    """True when ``path`` holds a namespace: an nsfs inode, on another device than its folder."""
    try:
        return os.stat(path).st_dev != os.stat(os.path.dirname(path)).st_dev
    except FileNotFoundError:
        return False


def share_folder(folder: str) -> None:
    """Make ``folder`` a shared mount (bind-mounted on itself first), as `ip netns` does.

    A mount namespace made later (a runtime, `unshare -m`) copies every namespace mount below;
    with a private folder those copies pin the namespaces forever. Shared, the copies are peers
    and our unmounts propagate to them.
    """
    os.makedirs(folder, mode=0o711, exist_ok=True)
    if folder_mount(folder):
        syscalls.mount(None, folder, None, syscalls.MS_SHARED | syscalls.MS_REC)
        return
    syscalls.mount(folder, folder, None, syscalls.MS_BIND | syscalls.MS_REC)
    syscalls.mount(None, folder, None, syscalls.MS_SHARED | syscalls.MS_REC)


def unshare_folder(folder: str) -> None:
    """Undo share_folder(); idempotent."""
    if folder_mount(folder):
        try:
            syscalls.umount2(folder, syscalls.MNT_DETACH)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOENT):
                raise


_OCTAL = re.compile(r"\\([0-7]{3})")


def folder_mount(folder: str) -> bool:
    """True if ``folder`` is itself a mount point (a bind mount on itself included, which
    os.path.ismount() misses since it compares devices)."""
    real = os.path.realpath(folder)
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            # Field 5 is the mount point, with space, tab, newline and backslash octal-escaped.
            point = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), line.split(" ")[4])
            if point == real:
                return True
    return False
