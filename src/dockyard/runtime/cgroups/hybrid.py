"""Hybrid hosts: v1 hierarchies for most controllers plus a cgroup2 hierarchy for the rest.

runc 1.1 puts the container in the unified hierarchy too on such hosts ("cgroup v1 controllers
now support hybrid hierarchy", 1.1.0-rc.1), but sets nothing there: a hugepageLimits on a host
whose hugetlb controller sits on cgroup2 fails with "cannot set hugetlb limit: container could
not join or create cgroup" (runc 1.1.5 on this host). We go one step further: each limit goes
to the hierarchy that holds its controller, so hugetlb limits land in ``hugetlb.<size>.max`` of
the unified folder, and device rules become a BPF filter there when no v1 devices controller is
mounted.
"""

from __future__ import annotations

from dockyard.runtime.cgroups.base import CgroupManager, is_set
from dockyard.runtime.cgroups.v1 import V1Manager
from dockyard.runtime.cgroups.v2 import V2Manager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# OCI resources section -> (v1 controller, v2 controller). None: no controller is involved.
_SECTIONS: dict[str, tuple[str, str | None]] = {
    "memory": ("memory", "memory"),
    "pids": ("pids", "pids"),
    "blockIO": ("blkio", "io"),
    "hugepageLimits": ("hugetlb", "hugetlb"),
    "rdma": ("rdma", "rdma"),
    "devices": ("devices", None),
}
_CPUSET_KEYS = ("cpus", "mems")


class HybridManager(CgroupManager):
    def __init__(self, v1: V1Manager, v2: V2Manager) -> None:
        self.v1 = v1
        self.v2 = v2

    def create(self) -> None:
        self.v1.create()
        self.v2.create()

    def add_process(self, pid: int) -> None:
        self.v1.add_process(pid)
        self.v2.add_process(pid)

    def split(self, resources: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        """(v1 part, v2 part, v2 controllers to enable) of ``resources``.

        A section goes to v2 only when no v1 hierarchy has its controller and the unified root
        offers it (devices: always possible there, as a BPF program); otherwise it stays with v1,
        which reports a missing controller naming the field.
        """
        available = set(self.v2.available())
        to_v1: dict[str, Any] = {}
        to_v2: dict[str, Any] = {}
        enable: list[str] = []
        for key, value in resources.items():
            if key == "unified":
                to_v2[key] = value
                continue
            if key == "cpu" and isinstance(value, dict):
                for ctrl, keys in (
                    ("cpu", [k for k in value if k not in _CPUSET_KEYS]),
                    ("cpuset", _CPUSET_KEYS),
                ):
                    part = {k: value[k] for k in keys if k in value}
                    if not part:
                        continue
                    if (
                        self.v1.handles(ctrl)
                        or ctrl not in available
                        or not any(is_set(v) for v in part.values())
                    ):
                        to_v1.setdefault("cpu", {}).update(part)
                    else:
                        to_v2.setdefault("cpu", {}).update(part)
                        enable.append(ctrl)
                continue
            v1_ctrl, v2_ctrl = _SECTIONS.get(key, (key, None))
            if (
                key in _SECTIONS
                and not self.v1.handles(v1_ctrl)
                and (v2_ctrl is None or v2_ctrl in available)
            ):
                to_v2[key] = value
                if v2_ctrl is not None and is_set(value):
                    enable.append(v2_ctrl)
            else:
                to_v1[key] = value
        return to_v1, to_v2, enable

    def set_resources(self, resources: dict[str, Any]) -> None:
        to_v1, to_v2, enable = self.split(resources or {})
        self.v1.set_resources(to_v1)
        if to_v2:
            self.v2.enable(enable)
            self.v2.set_resources(to_v2)

    def _freezer(self) -> CgroupManager:
        return self.v1 if self.v1.has_freezer() else self.v2

    def freeze(self) -> None:
        self._freezer().freeze()

    def thaw(self) -> None:
        self._freezer().thaw()

    def frozen(self) -> bool:
        return self._freezer().frozen()

    def pids(self) -> list[int]:
        return self.v1.pids() if self.v1.dirs else self.v2.pids()

    def kill_all(self, sig: int) -> None:
        self._freezer().kill_all(sig)

    def stats(self) -> dict[str, Any]:
        from dockyard.runtime.cgroups import stats

        data = self.v1.stats()
        available = set(self.v2.available())
        if not self.v1.handles("hugetlb") and "hugetlb" in available:
            data["hugetlb"] = stats.v2_hugetlb(self.v2.folder)
        if not self.v1.handles("memory") and "memory" in available:
            data["memory"] = stats.v2_memory(self.v2.folder)
        if not self.v1.handles("pids") and "pids" in available:
            data["pids"] = stats.v2_pids(self.v2.folder)
        if not self.v1.handles("blkio") and "io" in available:
            data["blkio"] = stats.v2_io(self.v2.folder)
        if not self.v1.handles("cpu") and not self.v1.handles("cpuacct"):
            data["cpu"] = stats.v2_cpu(self.v2.folder)
        return data

    def destroy(self) -> None:
        # Both must go; the first failure is reported once the other was tried too.
        failure: OSError | None = None
        for mgr in (self.v1, self.v2):
            try:
                mgr.destroy()
            except OSError as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    def exists(self) -> bool:
        return self.v1.exists() or self.v2.exists()

    def paths(self) -> dict[str, str]:
        return {**self.v1.paths(), **self.v2.paths()}

    def oom_kill_count(self) -> int:
        return self.v1.oom_kill_count() if self.v1.handles("memory") else self.v2.oom_kill_count()
