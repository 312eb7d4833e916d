"""Which cgroup mounts wait until the device nodes are made (rootfs._trailing_cgroup_mounts)."""

from __future__ import annotations

from typing import Any

from dockyard.runtime.rootfs import _trailing_cgroup_mounts
from dockyard.runtime.spec import default_spec


def _numbered(mounts: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    return list(enumerate(mounts))


def test_the_default_specs_cgroup_mount_goes_last() -> None:
    mounts = _numbered(default_spec()["mounts"])
    last = _trailing_cgroup_mounts(mounts, [])
    assert [m["destination"] for _, m in last] == ["/sys/fs/cgroup"]
    assert last[0][0] == len(mounts) - 1  # errors still name mounts[i] by its place in config.json


def test_only_cgroup_mounts_that_end_the_list() -> None:
    cg = {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"}
    tmp = {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}
    assert _trailing_cgroup_mounts(_numbered([cg, tmp]), []) == []
    assert _trailing_cgroup_mounts(_numbered([tmp, cg]), []) == [(1, cg)]


def test_not_when_devices_and_cgroup_mounts_could_overlap() -> None:
    under_dev = {"destination": "/dev/cgroup", "type": "cgroup", "source": "cgroup"}
    assert _trailing_cgroup_mounts(_numbered([under_dev]), []) == []
    cg = {"destination": "sys/fs/cgroup/", "type": "cgroup", "source": "cgroup"}
    device = {"path": "/sys/fs/cgroup/odd", "type": "c", "major": 1, "minor": 3}
    assert _trailing_cgroup_mounts(_numbered([cg]), [device]) == []
    assert _trailing_cgroup_mounts(_numbered([cg]), [{"path": "/dev/fuse"}]) == [(0, cg)]
