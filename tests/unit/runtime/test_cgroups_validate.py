"""validate_resources: pure checks of OCI linux.resources, each error naming its field."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.errors import ConfigError
from dockyard.runtime.cgroups import CgroupLayout, validate_resources

V1 = CgroupLayout("v1", {"memory": "/sys/fs/cgroup/memory"})
V2 = CgroupLayout("v2", {}, "/sys/fs/cgroup")
HYBRID = CgroupLayout("hybrid", {"memory": "/sys/fs/cgroup/memory"}, "/sys/fs/cgroup/unified")


def test_a_full_valid_config_passes() -> None:
    res: dict[str, Any] = {
        "devices": [
            {"allow": False, "access": "rwm"},
            {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"},
            {"allow": True, "type": "b", "major": -1, "minor": -1, "access": "m"},
        ],
        "memory": {
            "limit": 1 << 30,
            "reservation": 1 << 29,
            "swap": 2 << 30,
            "kernel": -1,
            "kernelTCP": 1 << 20,
            "swappiness": 0,
            "disableOOMKiller": False,
        },
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1,3", "mems": "0", "idle": 0},
        "pids": {"limit": -1},
        "blockIO": {
            "weight": 500,
            "leafWeight": 10,
            "weightDevice": [{"major": 8, "minor": 0, "weight": 1000}],
            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1 << 20}],
        },
        "hugepageLimits": [{"pageSize": "2MB", "limit": 1 << 22}, {"pageSize": "1GB", "limit": 0}],
        "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]},
        "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
        "unified": {"memory.high": "1073741824", "cgroup.max.depth": "3"},
    }
    validate_resources(res, V2)
    validate_resources({k: v for k, v in res.items() if k != "unified"}, V1)


def test_quota_without_period_is_valid_as_with_runc() -> None:
    # runc 1.1.5 here: cfs_quota_us=50000 with the default cfs_period_us=100000.
    validate_resources({"cpu": {"quota": 50000}}, V1)
    validate_resources({"cpu": {"quota": -1}}, V2)
    validate_resources({"cpu": {"period": 50000}}, V2)


@pytest.mark.parametrize(
    ("res", "field", "words"),
    [
        ({"memory": {"limit": -5}}, "linux.resources.memory.limit", "out of range"),
        ({"memory": {"limit": "1g"}}, "linux.resources.memory.limit", "not a byte count"),
        ({"memory": {"limit": True}}, "linux.resources.memory.limit", "not a byte count"),
        ({"memory": {"reservation": -2}}, "linux.resources.memory.reservation", "out of range"),
        ({"memory": {"limit": 100, "swap": 50}}, "linux.resources.memory.swap", "below the memory limit"),
        ({"memory": {"limit": -1, "swap": 50}}, "linux.resources.memory.swap", "needs a memory limit"),
        ({"memory": {"swappiness": 101}}, "linux.resources.memory.swappiness", "0 to 100"),
        ({"memory": {"disableOOMKiller": 1}}, "linux.resources.memory.disableOOMKiller", "true or false"),
        ({"memory": []}, "linux.resources.memory", "JSON object"),
        ({"cpu": {"shares": 1}}, "linux.resources.cpu.shares", "2 to 262144"),
        ({"cpu": {"shares": 300000}}, "linux.resources.cpu.shares", "2 to 262144"),
        ({"cpu": {"quota": 500}}, "linux.resources.cpu.quota", "minimum of 1000"),
        ({"cpu": {"period": 100}}, "linux.resources.cpu.period", "1000 to 1000000"),
        ({"cpu": {"period": -1}}, "linux.resources.cpu.period", "out of range"),
        ({"cpu": {"cpus": "0-"}}, "linux.resources.cpu.cpus", "invalid list"),
        ({"cpu": {"mems": "3-1"}}, "linux.resources.cpu.mems", "invalid list"),
        ({"cpu": {"cpus": 3}}, "linux.resources.cpu.cpus", "not a string"),
        ({"cpu": {"idle": 2}}, "linux.resources.cpu.idle", "0 or 1"),
        ({"pids": {}}, "linux.resources.pids.limit", "required"),
        ({"pids": {"limit": 1.5}}, "linux.resources.pids.limit", "not an integer"),
        ({"blockIO": {"weight": 5}}, "linux.resources.blockIO.weight", "10 to 1000"),
        ({"blockIO": {"weight": 5000}}, "linux.resources.blockIO.weight", "out of range"),
        (
            {"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0}]}},
            "linux.resources.blockIO.throttleReadBpsDevice[0].rate",
            "not a rate",
        ),
        (
            {"blockIO": {"weightDevice": [{"major": -8, "minor": 0, "weight": 100}]}},
            "linux.resources.blockIO.weightDevice[0].major",
            "out of range",
        ),
        (
            {"hugepageLimits": [{"pageSize": "2M", "limit": 1}]},
            "linux.resources.hugepageLimits[0].pageSize",
            '"2MB"',
        ),
        (
            {"hugepageLimits": [{"pageSize": "../2MB", "limit": 1}]},
            "linux.resources.hugepageLimits[0].pageSize",
            "huge page size",
        ),
        (
            {"hugepageLimits": [{"pageSize": "2MB", "limit": -1}]},
            "linux.resources.hugepageLimits[0].limit",
            "range",
        ),
        ({"devices": [{"access": "rwm"}]}, "linux.resources.devices[0].allow", "required"),
        ({"devices": [{"allow": True, "type": "u"}]}, "linux.resources.devices[0].type", "device type"),
        ({"devices": [{"allow": True, "access": "rx"}]}, "linux.resources.devices[0].access", "r, w and m"),
        ({"devices": [{"allow": True, "major": -2}]}, "linux.resources.devices[0].major", "out of range"),
        ({"devices": {}}, "linux.resources.devices", "JSON array"),
        ({"network": {"classID": -1}}, "linux.resources.network.classID", "out of range"),
        (
            {"network": {"priorities": [{"name": "a b", "priority": 1}]}},
            "linux.resources.network.priorities[0].name",
            "",
        ),
        ({"rdma": {"mlx": {"hcaHandles": -1}}}, "linux.resources.rdma.mlx.hcaHandles", "out of range"),
        (
            {"unified": {"../memory.max": "1"}},
            "linux.resources.unified.../memory.max",
            "CONTROLLER.PARAMETER",
        ),
        ({"unified": {"memorymax": "1"}}, "linux.resources.unified.memorymax", "CONTROLLER.PARAMETER"),
        ({"unified": {"memory.max": 5}}, "linux.resources.unified.memory.max", "not a string"),
    ],
)
def test_errors_name_the_field(res: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_resources(res, V2)
    assert info.value.field == field
    assert words in str(info.value)


def test_unified_needs_cgroup2() -> None:
    with pytest.raises(ConfigError) as info:
        validate_resources({"unified": {"memory.high": "1"}}, V1)
    assert info.value.field == "linux.resources.unified"
    assert "cgroup v1" in str(info.value)
    # A hybrid host has a cgroup2 hierarchy: its files may be named.
    validate_resources({"unified": {"hugetlb.2MB.max": "0"}}, HYBRID)
    validate_resources({"unified": {}}, V1)


def test_not_an_object() -> None:
    with pytest.raises(ConfigError, match="JSON object"):
        validate_resources([], V2)  # type: ignore[arg-type]
