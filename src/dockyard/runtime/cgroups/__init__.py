"""Control groups of ``dockyard-runtime``: one manager interface over cgroup v1, v2 and hybrid hosts.

    detect_layout()                  which hierarchies this host mounts, from /proc/self/mountinfo
    validate_resources(res, layout)  pure checks of OCI linux.resources, before anything exists
    new_manager(path, id, ...)       the manager for a new container (create verb)
    manager_from_paths(paths)        the manager of an existing one, from its state file
    runc_device_rules(res, devs)     the device rules runc 1.1 would enforce for a config

Behaviour follows runc 1.1 (the ``fs``/``fs2`` managers): where the container's cgroup goes
(cgroupsPath), which file each OCI field lands in, the conversions to v2 values, what is refused
and what is silently ignored. Module map: ``layout`` (mounts, paths), ``resources``
(validation), ``v1``/``v2``/``hybrid`` (managers), ``devices`` + ``devices_bpf`` (device rules;
a BPF program on v2), ``stats`` (the ``runc events --stats`` shape), ``fs`` (control files).

Only ``layout`` and ``base`` load with the package: the managers are imported by the factories.
"""

from __future__ import annotations

import os

from dockyard.runtime.cgroups.base import CgroupManager
from dockyard.runtime.cgroups.layout import (
    CgroupLayout,
    cgroup_dir,
    clean_path,
    detect_layout,
    own_cgroups,
    systemd_path,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "CgroupLayout",
    "CgroupManager",
    "detect_layout",
    "manager_from_paths",
    "new_manager",
    "runc_device_rules",
    "validate_resources",
]

#: The v1 hierarchies a container joins (runc 1.1's subsystem list plus its named ones);
#: any other named hierarchy on the host is left alone.
V1_HIERARCHIES = (
    "cpuset",
    "devices",
    "memory",
    "cpu",
    "cpuacct",
    "pids",
    "blkio",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "freezer",
    "rdma",
    "misc",
    "name=systemd",
)


def validate_resources(resources: dict[str, Any], layout: CgroupLayout) -> None:
    """Raise ConfigError naming the first wrong field of OCI ``linux.resources``; touches nothing."""
    from dockyard.runtime.cgroups.resources import validate_resources as check

    check(resources, layout)


def runc_device_rules(
    resources_devices: list[dict[str, Any]] | None, linux_devices: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """``linux.resources.devices`` followed by runc's default allow-list (see devices.py)."""
    from dockyard.runtime.cgroups.devices import runc_device_rules as rules

    return rules(resources_devices, linux_devices)


def new_manager(
    cgroups_path: str | None,
    container_id: str,
    *,
    systemd: bool = False,
    layout: CgroupLayout | None = None,
    root: str = "/sys/fs/cgroup",
) -> CgroupManager:
    """The manager of a new container's cgroup (nothing is created until ``create()``).

    cgroupsPath as runc reads it: absolute ("/a/b") is below each hierarchy's root; relative
    ("a/b") below the caller's own cgroup in each hierarchy, and can never climb out of it;
    empty means the container id, relative (runc's cgroup Name). With ``systemd`` the path is
    runc's "slice:prefix:name", placed where systemd would put that scope; no D-Bus is spoken,
    so systemd itself must be running (/run/systemd/system) for its tree to be the right one.
    ``root`` is where the host mounts its hierarchies (used to detect the layout when none is
    given: mounts at or below it win over other mounts of the same hierarchy).
    """
    from dockyard.errors import Unsupported
    from dockyard.runtime.cgroups import layout as layout_mod

    if systemd:
        if not os.path.isdir(layout_mod.SYSTEMD_RUN_DIR):
            raise Unsupported(
                f"--systemd-cgroup needs systemd as the init system, but {layout_mod.SYSTEMD_RUN_DIR} "
                "does not exist on this host: run without --systemd-cgroup (cgroupfs driver) and give "
                'linux.cgroupsPath as a path such as "/docker/<id>"'
            )
        inner = systemd_path(cgroups_path, container_id)
    else:
        inner = clean_path(cgroups_path or "") or container_id
    if layout is None:
        layout = detect_layout(root=root)
    own = own_cgroups() if not inner.startswith("/") else {}

    def folder(mountpoint: str, key: str) -> str:
        return cgroup_dir(mountpoint, layout.roots.get(mountpoint, "/"), own.get(key), inner)

    dirs: dict[str, str] = {}
    mounts: dict[str, str] = {}
    if layout.mode != "v2":
        for name in V1_HIERARCHIES:
            mountpoint = layout.v1.get(name)
            if mountpoint is not None:
                dirs[name] = folder(mountpoint, name)
                mounts[name] = mountpoint
    if layout.mode == "v1":
        if not dirs:
            raise Unsupported(
                "no cgroup hierarchy is mounted on this host (see /proc/self/mountinfo): "
                "mount cgroup2 on /sys/fs/cgroup"
            )
        from dockyard.runtime.cgroups.v1 import V1Manager

        return V1Manager(dirs, mounts)
    assert layout.unified is not None
    from dockyard.runtime.cgroups.v2 import V2Manager

    unified = V2Manager(folder(layout.unified, ""), layout.unified, enable_all=layout.mode == "v2")
    if layout.mode == "v2":
        return unified
    from dockyard.runtime.cgroups.hybrid import HybridManager
    from dockyard.runtime.cgroups.v1 import V1Manager

    return HybridManager(V1Manager(dirs, mounts), unified)


def manager_from_paths(paths: dict[str, str]) -> CgroupManager:
    """The manager of an existing container, from the ``paths()`` its state file recorded."""
    v1 = {k: v for k, v in paths.items() if k not in ("unified", "")}
    unified = paths.get("unified") or paths.get("")
    if unified is not None:
        from dockyard.runtime.cgroups.v2 import V2Manager

        v2 = V2Manager(unified, None, enable_all=not v1)
        if not v1:
            return v2
        from dockyard.runtime.cgroups.hybrid import HybridManager
        from dockyard.runtime.cgroups.v1 import V1Manager

        return HybridManager(V1Manager(v1), v2)
    from dockyard.runtime.cgroups.v1 import V1Manager

    return V1Manager(v1)
