"""Entering namespaces: joining existing ones by path (setns) and creating new ones (unshare).

A user namespace comes first (joined or new), because it grants the capabilities the other
namespaces are then created or joined with. unshare(CLONE_NEWPID) and setns into a pid namespace
change only the namespace of *children*: the caller must fork afterwards (init.py does).
"""

from __future__ import annotations

import os

from dockyard.errors import ConfigError, SystemFailure
from dockyard.runtime.config import NAMESPACE_FLAGS, NAMESPACE_PROC
from dockyard.util import syscalls as sc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class NamespacePlan:
    def __init__(self, namespaces: list[dict[str, Any]]) -> None:
        self.join: dict[str, str] = {}
        self.new: set[str] = set()
        for ns in namespaces:
            if ns.get("path"):
                self.join[ns["type"]] = ns["path"]
            else:
                self.new.add(ns["type"])

    @property
    def new_userns(self) -> bool:
        return "user" in self.new

    @property
    def any_userns(self) -> bool:
        return "user" in self.new or "user" in self.join

    def unshare_flags(self, exclude: tuple[str, ...] = ()) -> int:
        flags = 0
        for kind in self.new:
            if kind not in exclude:
                flags |= NAMESPACE_FLAGS[kind]
        return flags


def join(kind: str, path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(f"linux.namespaces[{kind}].path", f"cannot open {path}: {exc.strerror}") from None
    try:
        sc.setns(fd, NAMESPACE_FLAGS[kind])
    except OSError as exc:
        raise SystemFailure(f"joining the {kind} namespace {path}: {exc.strerror}", exc.errno or 0) from None
    finally:
        os.close(fd)


def join_all(
    paths: dict[str, str],
    order: tuple[str, ...] = ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount"),
) -> None:
    """Join every namespace in ``paths``, in two passes as nsenter(1) does.

    setns(2) into a namespace needs CAP_SYS_ADMIN in the user namespace that owns it. Joining the
    container's user namespace first drops the host's capabilities, after which a network
    namespace the daemon made (owned by the host's user namespace) refuses us with EPERM; joining
    it last needs capabilities the caller may only have inside it (a rootless caller). So: every
    other namespace first, the ones refused with EPERM kept for after the user namespace. All
    files are opened before the first setns (after joining the mount namespace, or the user
    namespace's, the host's /proc/<pid>/ns paths may be out of reach).
    """
    fds: list[tuple[str, int]] = []
    try:
        for kind in order:
            if kind in paths:
                try:
                    fds.append((kind, os.open(paths[kind], os.O_RDONLY | os.O_CLOEXEC)))
                except OSError as exc:
                    raise ConfigError(
                        f"linux.namespaces[{kind}].path", f"cannot open {paths[kind]}: {exc.strerror}"
                    ) from None
        later: list[tuple[str, int]] = []
        for kind, fd in fds:
            if kind == "user":
                continue
            try:
                sc.setns(fd, NAMESPACE_FLAGS[kind])
            except OSError as exc:
                if exc.errno != 1 or "user" not in paths:
                    raise _join_failed(kind, paths[kind], exc) from None
                later.append((kind, fd))
        for kind, fd in fds:
            if kind == "user":
                try:
                    sc.setns(fd, NAMESPACE_FLAGS[kind])
                except OSError as exc:
                    raise _join_failed(kind, paths[kind], exc) from None
        for kind, fd in later:
            try:
                sc.setns(fd, NAMESPACE_FLAGS[kind])
            except OSError as exc:
                raise _join_failed(kind, paths[kind], exc) from None
    finally:
        for _, fd in fds:
            os.close(fd)


def _join_failed(kind: str, path: str, exc: OSError) -> SystemFailure:
    return SystemFailure(f"joining the {kind} namespace {path}: {exc.strerror}", exc.errno or 0)


def write_id_maps(pid: int, linux: dict[str, Any]) -> None:
    """Write uid_map/gid_map of ``pid``'s new user namespace from the parent (which has the caps)."""
    for key, fname in (("uidMappings", "uid_map"), ("gidMappings", "gid_map")):
        maps = linux.get(key) or []
        if not maps:
            continue
        text = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in maps)
        try:
            with open(f"/proc/{pid}/{fname}", "w") as f:
                f.write(text)
        except OSError as exc:
            raise ConfigError(
                f"linux.{key}", f"the kernel refused the mapping ({exc.strerror}): {text.strip()!r}"
            ) from None


def loopback_up() -> None:
    """Bring "lo" up in a fresh network namespace (runc's "loopback" network does the same)."""
    import fcntl
    import sys

    fd = sc.socket_fd(2, 2)  # AF_INET, SOCK_DGRAM: any socket serves for interface ioctls
    try:
        SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
        # struct ifreq (40 bytes): the name in 16, then a union whose first short is ifr_flags.
        name = b"lo".ljust(16, b"\0")
        res = fcntl.ioctl(fd, SIOCGIFFLAGS, name + bytes(24))
        flags = int.from_bytes(res[16:18], sys.byteorder, signed=True)
        up = (flags | IFF_UP).to_bytes(2, sys.byteorder, signed=True)
        fcntl.ioctl(fd, SIOCSIFFLAGS, name + up + bytes(22))
    finally:
        os.close(fd)


def same_namespace(kind: str, pid: int) -> bool:
    """True when ``pid`` is in the caller's namespace of ``kind`` (nothing to join)."""
    proc = NAMESPACE_PROC[kind]
    try:
        return os.stat(f"/proc/{pid}/ns/{proc}").st_ino == os.stat(f"/proc/self/ns/{proc}").st_ino
    except FileNotFoundError:
        return True
