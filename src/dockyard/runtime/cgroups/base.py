"""The one interface every cgroup manager (v1, v2, hybrid) offers to the runtime's verbs.

A plain base class rather than a ``typing.Protocol``: the runtime's start path imports neither
``typing`` nor ``abc``.

Errors: ``create``, ``add_process``, ``set_resources``, ``freeze`` and ``thaw`` raise
dockyard errors naming what failed (ConfigError names the OCI field the kernel refused);
``destroy``, ``kill_all``, ``pids``, ``frozen`` and ``stats`` let OSError through, so callers
can retry a cgroup that is still busy.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class CgroupManager:
    def create(self) -> None:
        """Make the container's cgroup in every hierarchy; fine if it exists already."""
        raise NotImplementedError

    def add_process(self, pid: int) -> None:
        """Move ``pid`` (0: the calling process) into the cgroup of every hierarchy."""
        raise NotImplementedError

    def set_resources(self, resources: dict[str, Any]) -> None:
        """Apply OCI ``linux.resources``; absent keys leave the current values alone.

        A non-empty ``devices`` list is enforced as runc 1.1 does: starting from deny-all, the
        rules in order, then runc's default allow-list (/dev/null, zero, full, random, urandom,
        tty, ptmx, pts, tun, mknod of anything), so a default device can never be denied.
        """
        raise NotImplementedError

    def freeze(self) -> None:
        """Freeze every process of the cgroup; returns once the kernel reports them frozen."""
        raise NotImplementedError

    def thaw(self) -> None:
        raise NotImplementedError

    def frozen(self) -> bool:
        """Whether the container's cgroup itself was frozen (a frozen ancestor does not count)."""
        raise NotImplementedError

    def pids(self) -> list[int]:
        """Every process in the cgroup and the cgroups below it."""
        raise NotImplementedError

    def kill_all(self, sig: int) -> None:
        """Send ``sig`` to every process of the cgroup tree, frozen ones included."""
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        """The ``data`` of ``runc events --stats`` (runc 1.1's types/events.go Stats)."""
        raise NotImplementedError

    def destroy(self) -> None:
        """Remove the container's cgroup (and any below it); fine if already gone."""
        raise NotImplementedError

    def exists(self) -> bool:
        raise NotImplementedError

    def paths(self) -> dict[str, str]:
        """Hierarchy name -> folder: v1 controllers, "name=systemd", and "unified" for cgroup2."""
        raise NotImplementedError

    def oom_kill_count(self) -> int:
        """How many processes the kernel's OOM killer killed in this cgroup."""
        raise NotImplementedError


def is_set(value: Any) -> bool:
    """runc writes a value only when it differs from Go's zero value (0, "", false, empty)."""
    return value not in (None, 0, False, "") and value != [] and value != {}
