"""The v1, v2 and hybrid managers on fake cgroupfs trees in temp folders.

The host has no cgroup v2 memory/cpu/pids/io controllers to show, and no v1 host without swap
accounting: a fake tree stands in. Its "kernel" is ``fs.write_raw`` patched to record every
control-file write (relative path, value) and to refuse writes to files that do not exist, as
cgroupfs does; reads go to the files, which hold the last value written.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dockyard.errors import ConfigError, SystemFailure, Unsupported
from dockyard.runtime.cgroups import fs, v2
from dockyard.runtime.cgroups.hybrid import HybridManager
from dockyard.runtime.cgroups.v1 import V1Manager
from dockyard.runtime.cgroups.v2 import V2Manager, blkio_to_io_weight, shares_to_weight


class FakeKernel:
    def __init__(self, top: str) -> None:
        self.top = top
        self.writes: list[tuple[str, str]] = []
        # (relative path, value) -> errno to fail with; value None matches any value.
        self.failures: dict[tuple[str, str | None], int] = {}
        self.after_write: dict[str, Callable[[str], str]] = {}

    def touch(self, folder: str, **files: str) -> None:
        os.makedirs(folder, exist_ok=True)
        for name, text in files.items():
            with open(os.path.join(folder, name.replace("__", ".")), "w") as f:
                f.write(text)

    def write_raw(self, folder: str, name: str, value: str) -> None:
        path = os.path.join(folder, name)
        rel = os.path.relpath(path, self.top)
        for key in ((rel, value), (rel, None)):
            if key in self.failures:
                self.writes.append((rel, value + " !"))
                code = self.failures.pop(key)
                raise OSError(code, os.strerror(code), path)
        if not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        self.writes.append((rel, value))
        hook = self.after_write.get(name)
        stored = hook(value) if hook is not None else value
        if name == "cgroup.subtree_control":
            # The kernel applies "+a -b" to the enabled set and shows plain names.
            with open(path) as f:
                enabled = f.read().split()
            for word in value.split():
                name_ = word[1:]
                if word[0] == "+" and name_ not in enabled:
                    enabled.append(name_)
                elif word[0] == "-" and name_ in enabled:
                    enabled.remove(name_)
            stored = " ".join(enabled)
        with open(path, "w") as f:
            f.write(stored + "\n")

    def read(self, rel: str) -> str:
        with open(os.path.join(self.top, rel)) as f:
            return f.read().strip()


@pytest.fixture
def kernel(tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKernel]:
    k = FakeKernel(os.fspath(tmp_path))
    monkeypatch.setattr(fs, "write_raw", k.write_raw)
    monkeypatch.setattr(fs, "hugepage_sizes", lambda sysfs="": ["2MB", "1GB"])
    yield k


# ---------------------------------------------------------------- cgroup v2

V2_FILES = {
    "cgroup.procs": "",
    "cgroup.freeze": "0",
    "cgroup.events": "populated 0\nfrozen 0\n",
    "cgroup.kill": "",
    "memory.max": "max",
    "memory.swap.max": "max",
    "memory.low": "0",
    "memory.high": "max",
    "pids.max": "max",
    "cpu.weight": "100",
    "cpu.max": "max 100000",
    "cpu.max.burst": "0",
    "cpu.idle": "0",
    "io.weight": "default 100",
    "io.max": "",
    "cpuset.cpus": "",
    "cpuset.mems": "",
    "hugetlb__2MB__max": "max",
    "hugetlb__2MB__rsvd__max": "max",
    "rdma.max": "",
}


def v2_tree(k: FakeKernel, controllers: str = "cpuset cpu io memory hugetlb pids rdma") -> V2Manager:
    root = os.path.join(k.top, "cg")
    k.touch(root, cgroup__controllers=controllers, cgroup__subtree_control="")
    k.touch(os.path.join(root, "a"), cgroup__subtree_control="")
    return V2Manager(os.path.join(root, "a", "ctr"), root)


def test_v2_create_enables_every_controller_in_the_ancestors(kernel: FakeKernel) -> None:
    mgr = v2_tree(kernel)
    mgr.create()
    assert os.path.isdir(mgr.folder)
    everything = "+cpuset +cpu +io +memory +hugetlb +pids +rdma"
    assert kernel.writes == [
        ("cg/cgroup.subtree_control", everything),
        ("cg/a/cgroup.subtree_control", everything),
    ]
    kernel.writes.clear()
    mgr.create()  # idempotent: enabled already, nothing rewritten
    assert kernel.writes == []
    assert mgr.paths() == {"unified": mgr.folder}
    assert mgr.exists()


def test_v2_enable_falls_back_one_by_one(kernel: FakeKernel) -> None:
    mgr = v2_tree(kernel, "cpu memory")
    kernel.failures[("cg/cgroup.subtree_control", "+cpu +memory")] = errno.ENOENT
    kernel.failures[("cg/cgroup.subtree_control", "+cpu")] = errno.EBUSY
    mgr.create()
    assert kernel.writes[:3] == [
        ("cg/cgroup.subtree_control", "+cpu +memory !"),
        ("cg/cgroup.subtree_control", "+cpu !"),
        ("cg/cgroup.subtree_control", "+memory"),
    ]


def test_v2_resources_land_in_runcs_files(kernel: FakeKernel) -> None:
    mgr = v2_tree(kernel)
    mgr.create()
    kernel.touch(mgr.folder, **V2_FILES)
    kernel.writes.clear()
    mgr.set_resources(
        {
            "pids": {"limit": 100},
            "memory": {"limit": 256 << 20, "swap": 512 << 20, "reservation": 128 << 20, "swappiness": 10},
            "blockIO": {
                "weight": 500,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 200}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}],
            },
            "cpu": {
                "shares": 1024,
                "quota": 50000,
                "period": 100000,
                "burst": 1000,
                "idle": 1,
                "cpus": "0",
                "mems": "0",
            },
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
            "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
            "network": {"classID": 5},  # no v2 counterpart: ignored, as runc's fs2 does
            "unified": {"memory.high": "200000000"},
        }
    )
    c = "cg/a/ctr/"
    assert kernel.writes == [
        (c + "pids.max", "100"),
        (c + "memory.swap.max", str(256 << 20)),  # v2 swap excludes memory: 512M - 256M
        (c + "memory.max", str(256 << 20)),
        (c + "memory.low", str(128 << 20)),
        (c + "io.weight", str(blkio_to_io_weight(500))),  # no BFQ here: converted, per-device dropped
        (c + "io.max", "8:0 rbps=1048576"),
        (c + "io.max", "8:16 wiops=100"),
        (c + "cpu.weight", "39"),
        (c + "cpu.max", "50000 100000"),
        (c + "cpu.max.burst", "1000"),
        (c + "cpu.idle", "1"),
        (c + "cpuset.cpus", "0"),
        (c + "cpuset.mems", "0"),
        (c + "hugetlb.2MB.max", "4194304"),
        (c + "hugetlb.2MB.rsvd.max", "4194304"),
        (c + "rdma.max", "mlx5_1 hca_handle=3 hca_object=10000"),
        (c + "memory.high", "200000000"),
    ]


def test_v2_conversions() -> None:
    # runc: 1 + ((shares - 2) * 9999) / 262142, and 1 + (weight - 10) * 9999 / 990.
    assert [shares_to_weight(s) for s in (0, 2, 1024, 262144)] == [0, 1, 39, 10000]
    assert [blkio_to_io_weight(w) for w in (0, 10, 500, 1000)] == [0, 1, 4950, 10000]


@pytest.mark.parametrize(
    ("memory", "swap_max", "memory_max"),
    [
        ({"limit": -1}, "max", "max"),  # unlimited memory, swap unset: both unlimited
        ({"limit": 100 << 20, "swap": -1}, "max", str(100 << 20)),
        ({"limit": 100 << 20, "swap": 100 << 20}, "0", str(100 << 20)),  # equal: no swap at all
        ({"limit": 100 << 20}, None, str(100 << 20)),
    ],
)
def test_v2_swap_conversion(
    kernel: FakeKernel, memory: dict[str, int], swap_max: str | None, memory_max: str
) -> None:
    mgr = v2_tree(kernel)
    kernel.touch(mgr.folder, **V2_FILES)
    mgr.set_resources({"memory": memory})
    written = dict(kernel.writes)
    assert written.get("cg/a/ctr/memory.swap.max") == swap_max
    assert written["cg/a/ctr/memory.max"] == memory_max


def test_v2_swap_update_alone_uses_the_limit_in_force(kernel: FakeKernel) -> None:
    mgr = v2_tree(kernel)
    kernel.touch(mgr.folder, **{**V2_FILES, "memory.max": "1000"})
    mgr.set_resources({"memory": {"swap": 3000}})
    assert kernel.writes == [("cg/a/ctr/memory.swap.max", "2000")]
    kernel.touch(mgr.folder, **{"memory.max": "max"})
    with pytest.raises(ConfigError, match="without memory limit") as info:
        mgr.set_resources({"memory": {"swap": 3000}})
    assert info.value.field == "linux.resources.memory.swap"


def test_v2_without_swap_accounting(kernel: FakeKernel) -> None:
    mgr = v2_tree(kernel)
    files = {k: v for k, v in V2_FILES.items() if k != "memory.swap.max"}
    kernel.touch(mgr.folder, **files)
    # Asking for no restriction passes silently (runc fs2: "silently ignore setting to max or
    # disabling it")...
    mgr.set_resources({"memory": {"limit": 1 << 20, "swap": -1}})
    mgr.set_resources({"memory": {"limit": 1 << 20, "swap": 1 << 20}})
    mgr.set_resources({"memory": {"limit": -1}})
    # ...a real swap limit cannot be enforced: an error naming the field.
    with pytest.raises(Unsupported, match=r"linux\.resources\.memory\.swap: .*swap accounting"):
        mgr.set_resources({"memory": {"limit": 1 << 20, "swap": 2 << 20}})


def test_v2_cpu_period_alone_keeps_the_quota(kernel: FakeKernel) -> None:
    mgr = v2_tree(kernel)
    kernel.touch(mgr.folder, **{**V2_FILES, "cpu.max": "20000 100000"})
    mgr.set_resources({"cpu": {"period": 50000}})
    mgr.set_resources({"cpu": {"quota": -1}})
    assert kernel.writes == [("cg/a/ctr/cpu.max", "20000 50000"), ("cg/a/ctr/cpu.max", "max")]


def test_v2_bfq_weights(kernel: FakeKernel) -> None:
    mgr = v2_tree(kernel)
    kernel.touch(mgr.folder, **V2_FILES, io__bfq__weight="default 100")
    mgr.set_resources({"blockIO": {"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 50}]}})
    assert kernel.writes == [("cg/a/ctr/io.bfq.weight", "300"), ("cg/a/ctr/io.bfq.weight", "8:0 50")]


def test_v2_unified_errors_name_the_key(kernel: FakeKernel) -> None:
    mgr = v2_tree(kernel, "cpu memory")
    kernel.touch(mgr.folder, **V2_FILES)
    with pytest.raises(ConfigError) as info:
        mgr.set_resources({"unified": {"memory.nosuchfile": "1"}})
    assert info.value.field == "linux.resources.unified.memory.nosuchfile"
    assert "does not exist" in str(info.value)
    with pytest.raises(ConfigError, match="controller 'io' is not available") as info:
        mgr.set_resources({"unified": {"io.latency": "8:0 target=10"}})
    assert info.value.field == "linux.resources.unified.io.latency"
    kernel.failures[("cg/a/ctr/memory.high", None)] = errno.EINVAL
    with pytest.raises(ConfigError, match="rejected 'lots'"):
        mgr.set_resources({"unified": {"memory.high": "lots"}})


def test_v2_missing_controller_names_the_field(kernel: FakeKernel) -> None:
    mgr = v2_tree(kernel, "cpu")
    kernel.touch(mgr.folder, cgroup__procs="")
    with pytest.raises(Unsupported, match=r"linux\.resources\.pids\.limit: .*pids\.max does not exist"):
        mgr.set_resources({"pids": {"limit": 0}})
    with pytest.raises(ConfigError, match=r"has no hugetlb\.2MB\.max") as info:
        mgr.set_resources({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]})
    assert info.value.field == "linux.resources.hugepageLimits[0].pageSize"


def test_v2_pids_zero_and_negative_mean_max(kernel: FakeKernel) -> None:
    mgr = v2_tree(kernel)
    kernel.touch(mgr.folder, **V2_FILES)
    for limit in (0, -1, 7):
        mgr.set_resources({"pids": {"limit": limit}})
    assert [v for _, v in kernel.writes] == ["max", "max", "7"]


def test_v2_freezer(kernel: FakeKernel, monkeypatch: pytest.MonkeyPatch) -> None:
    mgr = v2_tree(kernel)
    kernel.touch(mgr.folder, **{**V2_FILES, "cgroup.events": "populated 1\nfrozen 1\n"})
    assert not mgr.frozen()
    mgr.freeze()
    assert mgr.frozen()
    mgr.thaw()
    assert not mgr.frozen()
    assert kernel.writes == [("cg/a/ctr/cgroup.freeze", "1"), ("cg/a/ctr/cgroup.freeze", "0")]
    # The kernel never reports "frozen 1": a clear timeout, not a hang.
    kernel.touch(mgr.folder, cgroup__events="populated 1\nfrozen 0\n")
    monkeypatch.setattr(v2, "FREEZE_TIMEOUT", 0.05)
    with pytest.raises(SystemFailure, match=r"waiting for .* to freeze"):
        mgr.freeze()
    os.unlink(os.path.join(mgr.folder, "cgroup.freeze"))
    with pytest.raises(Unsupported, match=r"5\.2"):
        mgr.freeze()


def test_v2_kill_all(kernel: FakeKernel) -> None:
    mgr = v2_tree(kernel)
    kernel.touch(mgr.folder, **{**V2_FILES, "cgroup.events": "populated 1\nfrozen 1\n"})
    mgr.kill_all(signal.SIGKILL)
    assert kernel.writes == [("cg/a/ctr/cgroup.kill", "1")]
    kernel.writes.clear()
    # Another signal: freeze, signal each process listed, thaw.
    child = subprocess.Popen(["sleep", "30"])
    try:
        kernel.touch(mgr.folder, cgroup__procs=f"{child.pid}\n")
        os.makedirs(os.path.join(mgr.folder, "sub"))
        kernel.touch(os.path.join(mgr.folder, "sub"), cgroup__procs="999999999\n")  # gone already
        mgr.kill_all(signal.SIGTERM)
        assert child.wait(5) == -signal.SIGTERM
        assert kernel.writes == [("cg/a/ctr/cgroup.freeze", "1"), ("cg/a/ctr/cgroup.freeze", "0")]
        assert sorted(mgr.pids()) == sorted([child.pid, 999999999])
    finally:
        child.kill()
        child.wait()


def test_v2_stats_shape(kernel: FakeKernel) -> None:
    mgr = v2_tree(kernel)
    kernel.touch(
        mgr.folder,
        cpu__stat=(
            "usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\n"
            "nr_periods 7\nnr_throttled 2\nthrottled_usec 40\n"
        ),
        memory__stat="anon 4096\nfile 8192\nkernel 0\n",
        memory__current="12288",
        memory__max="max",
        memory__swap__current="4096",
        memory__swap__max="max",
        memory__events="low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
        pids__current="3",
        pids__max="max",
        io__stat="8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
        hugetlb__2MB__current="2097152",
        hugetlb__2MB__events="max 4\n",
        hugetlb__1GB__current="0",
        hugetlb__1GB__events="max 0\n",
    )
    assert mgr.stats() == {
        "cpu": {
            "usage": {"total": 5000000, "kernel": 2000000, "user": 3000000},
            "throttling": {"periods": 7, "throttledPeriods": 2, "throttledTime": 40000},
        },
        "cpuset": {
            "cpu_exclusive": 0,
            "mem_hardwall": 0,
            "mem_exclusive": 0,
            "memory_migrate": 0,
            "memory_spread_page": 0,
            "memory_spread_slab": 0,
            "memory_pressure": 0,
            "sched_load_balance": 0,
            "sched_relax_domain_level": 0,
        },
        "memory": {
            "cache": 8192,
            "usage": {"limit": 2**64 - 1, "usage": 12288, "failcnt": 0},
            "swap": {"limit": 2**64 - 1, "usage": 16384, "failcnt": 0},
            "kernel": {"limit": 0, "failcnt": 0},
            "kernelTCP": {"limit": 0, "failcnt": 0},
            "raw": {"anon": 4096, "file": 8192, "kernel": 0},
        },
        "pids": {"current": 3},
        "blkio": {
            "ioServiceBytesRecursive": [
                {"major": 8, "op": "Read", "value": 4096},
                {"major": 8, "op": "Write"},
            ],
            "ioServicedRecursive": [{"major": 8, "op": "Read", "value": 1}, {"major": 8, "op": "Write"}],
        },
        "hugetlb": {"2MB": {"usage": 2097152, "failcnt": 4}, "1GB": {"failcnt": 0}},
        "intel_rdt": {},
        "network_interfaces": None,
    }
    assert mgr.oom_kill_count() == 1


def test_v2_destroy(kernel: FakeKernel) -> None:
    mgr = v2_tree(kernel)
    mgr.create()
    os.makedirs(os.path.join(mgr.folder, "child", "grandchild"))
    mgr.destroy()
    assert not mgr.exists()
    mgr.destroy()  # already gone: fine


# ---------------------------------------------------------------- cgroup v1


def v1_tree(k: FakeKernel, *, memsw: bool = True, blkio_weight: str | None = "blkio.bfq.weight") -> V1Manager:
    dirs = {}
    for name in ("memory", "cpu", "cpuacct", "pids", "blkio", "devices", "freezer"):
        dirs[name] = os.path.join(k.top, name, "ctr")
    mem = {
        "memory.limit_in_bytes": "9223372036854771712",
        "memory.soft_limit_in_bytes": "9223372036854771712",
        "memory.usage_in_bytes": "5000",
        "memory.max_usage_in_bytes": "6000",
        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        "memory.swappiness": "60",
    }
    if memsw:
        mem["memory.memsw.limit_in_bytes"] = "9223372036854771712"
    k.touch(dirs["memory"], **{n.replace(".", "__"): v for n, v in mem.items()})
    k.touch(
        dirs["cpu"],
        cpu__shares="1024",
        cpu__cfs_period_us="100000",
        cpu__cfs_quota_us="-1",
        cpu__rt_period_us="1000000",
        cpu__rt_runtime_us="0",
        cpu__cfs_burst_us="0",
        cpu__idle="0",
    )
    k.touch(dirs["pids"], pids__max="max")
    blk = {
        "blkio.throttle.read_bps_device": "",
        "blkio.throttle.write_iops_device": "",
        "blkio.leaf_weight": "",
        "blkio.leaf_weight_device": "",
    }
    if blkio_weight:
        blk[blkio_weight] = "100"
        blk[blkio_weight.replace("weight", "weight_device")] = ""
    k.touch(dirs["blkio"], **{n.replace(".", "__"): v for n, v in blk.items()})
    k.touch(dirs["devices"], devices__allow="", devices__deny="")
    k.touch(dirs["freezer"], freezer__state="THAWED", freezer__self_freezing="0")
    k.touch(dirs["cpuacct"])
    return V1Manager(dirs)


def test_v1_memory_write_order(kernel: FakeKernel) -> None:
    mgr = v1_tree(kernel)
    assert mgr.oom_kill_count() == 2
    # The current limit is above the new memsw: memory first, then memory+swap.
    mgr.set_resources({"memory": {"limit": 100 << 20, "swap": 200 << 20}})
    assert kernel.writes == [
        ("memory/ctr/memory.limit_in_bytes", str(100 << 20)),
        ("memory/ctr/memory.memsw.limit_in_bytes", str(200 << 20)),
    ]
    kernel.writes.clear()
    # Raising both above the current limit: memory+swap must grow first.
    mgr.set_resources({"memory": {"limit": 300 << 20, "swap": 600 << 20}})
    assert [f for f, _ in kernel.writes] == [
        "memory/ctr/memory.memsw.limit_in_bytes",
        "memory/ctr/memory.limit_in_bytes",
    ]
    kernel.writes.clear()
    # limit -1 with swap unset lifts both (memsw first).
    mgr.set_resources({"memory": {"limit": -1}})
    assert kernel.writes == [
        ("memory/ctr/memory.memsw.limit_in_bytes", "-1"),
        ("memory/ctr/memory.limit_in_bytes", "-1"),
    ]
    kernel.writes.clear()
    mgr.set_resources(
        {
            "memory": {
                "reservation": 1 << 20,
                "disableOOMKiller": True,
                "swappiness": 0,
                "kernel": 5,
                "kernelTCP": 5,
            }
        }
    )
    assert kernel.writes == [
        ("memory/ctr/memory.soft_limit_in_bytes", str(1 << 20)),
        ("memory/ctr/memory.oom_control", "1"),
        ("memory/ctr/memory.swappiness", "0"),
    ]


def test_v1_without_swap_accounting(kernel: FakeKernel) -> None:
    mgr = v1_tree(kernel, memsw=False)
    mgr.set_resources({"memory": {"limit": 1 << 20, "swap": -1}})
    mgr.set_resources({"memory": {"limit": 1 << 20, "swap": 1 << 20}})
    mgr.set_resources({"memory": {"limit": -1}})
    assert [f for f, _ in kernel.writes] == ["memory/ctr/memory.limit_in_bytes"] * 3
    with pytest.raises(Unsupported, match=r"memory\.swap: .*memory\.memsw\.limit_in_bytes does not exist"):
        mgr.set_resources({"memory": {"limit": 1 << 20, "swap": 2 << 20}})


def test_v1_memory_limit_below_usage(kernel: FakeKernel) -> None:
    mgr = v1_tree(kernel)
    kernel.failures[("memory/ctr/memory.limit_in_bytes", "4096")] = errno.EBUSY
    with pytest.raises(
        ConfigError, match=r"unable to set memory limit to 4096 \(current usage: 5000, peak usage: 6000\)"
    ):
        mgr.set_resources({"memory": {"limit": 4096}})


def test_v1_cpu(kernel: FakeKernel) -> None:
    mgr = v1_tree(kernel)
    mgr.set_resources({"cpu": {"shares": 512, "quota": 50000, "period": 200000, "burst": 10, "idle": 0}})
    assert kernel.writes == [
        ("cpu/ctr/cpu.shares", "512"),
        ("cpu/ctr/cpu.cfs_period_us", "200000"),
        ("cpu/ctr/cpu.cfs_quota_us", "50000"),
        ("cpu/ctr/cpu.cfs_burst_us", "10"),
        ("cpu/ctr/cpu.idle", "0"),
    ]
    kernel.writes.clear()
    # The kernel refuses the new period until the quota fits it: quota first, then period again.
    kernel.failures[("cpu/ctr/cpu.cfs_period_us", "10000")] = errno.EINVAL
    mgr.set_resources(
        {"cpu": {"quota": 5000, "period": 10000, "realtimePeriod": 500000, "realtimeRuntime": 1000}}
    )
    assert kernel.writes == [
        ("cpu/ctr/cpu.cfs_period_us", "10000 !"),
        ("cpu/ctr/cpu.cfs_quota_us", "5000"),
        ("cpu/ctr/cpu.cfs_period_us", "10000"),
        ("cpu/ctr/cpu.rt_period_us", "500000"),
        ("cpu/ctr/cpu.rt_runtime_us", "1000"),
    ]


def test_v1_cpu_shares_clamped_by_the_kernel(kernel: FakeKernel) -> None:
    mgr = v1_tree(kernel)
    kernel.after_write["cpu.shares"] = lambda v: str(min(max(int(v), 2), 262144))
    with pytest.raises(ConfigError, match="minimum allowed cpu-shares is 2") as info:
        mgr.set_resources({"cpu": {"shares": 1}})
    assert info.value.field == "linux.resources.cpu.shares"
    with pytest.raises(ConfigError, match="maximum allowed cpu-shares is 262144"):
        mgr.set_resources({"cpu": {"shares": 500000}})


def test_v1_kernel_rejection_names_the_field(kernel: FakeKernel) -> None:
    mgr = v1_tree(kernel)
    kernel.failures[("cpu/ctr/cpu.rt_runtime_us", None)] = errno.EINVAL
    with pytest.raises(ConfigError, match="rejected '1000'") as info:
        mgr.set_resources({"cpu": {"realtimeRuntime": 1000}})
    assert info.value.field == "linux.resources.cpu.realtimeRuntime"


def test_v1_pids(kernel: FakeKernel) -> None:
    mgr = v1_tree(kernel)
    for limit in (0, -1, 9):
        mgr.set_resources({"pids": {"limit": limit}})
    assert [v for _, v in kernel.writes] == ["max", "max", "9"]


def test_v1_blkio(kernel: FakeKernel) -> None:
    mgr = v1_tree(kernel)
    mgr.set_resources(
        {
            "blockIO": {
                "weight": 300,
                "leafWeight": 20,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 50, "leafWeight": 60}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 10}],
            }
        }
    )
    assert kernel.writes == [
        ("blkio/ctr/blkio.bfq.weight", "300"),
        ("blkio/ctr/blkio.leaf_weight", "20"),
        ("blkio/ctr/blkio.bfq.weight_device", "8:0 50"),
        ("blkio/ctr/blkio.leaf_weight_device", "8:0 60"),
        ("blkio/ctr/blkio.throttle.read_bps_device", "8:0 1000"),
        ("blkio/ctr/blkio.throttle.write_iops_device", "8:16 10"),
    ]


def test_v1_blkio_prefers_cfq_weight(kernel: FakeKernel) -> None:
    mgr = v1_tree(kernel, blkio_weight="blkio.weight")
    mgr.set_resources({"blockIO": {"weight": 300}})
    assert kernel.writes == [("blkio/ctr/blkio.weight", "300")]


def test_v1_blkio_weight_without_a_weight_file(kernel: FakeKernel) -> None:
    mgr = v1_tree(kernel, blkio_weight=None)
    with pytest.raises(Unsupported, match=r"blockIO\.weight: neither blkio\.weight nor blkio\.bfq\.weight"):
        mgr.set_resources({"blockIO": {"weight": 300}})
    mgr.set_resources({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}]}})


def test_v1_missing_controllers(kernel: FakeKernel) -> None:
    mgr = v1_tree(kernel)
    # runc 1.1.5 on this host: "cannot set net_cls limit: container could not join or create cgroup".
    with pytest.raises(Unsupported, match=r"network\.classID: the net_cls cgroup controller is not mounted"):
        mgr.set_resources({"network": {"classID": 1}})
    with pytest.raises(Unsupported, match="hugetlb cgroup controller is not mounted"):
        mgr.set_resources({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]})
    with pytest.raises(ConfigError, match="unified"):
        mgr.set_resources({"unified": {"memory.max": "1"}})
    # Nothing asked of a missing controller: nothing to refuse.
    mgr.set_resources({"network": {"priorities": []}, "hugepageLimits": [], "cpu": {"cpus": ""}})


def test_v1_devices(kernel: FakeKernel) -> None:
    mgr = v1_tree(kernel)
    mgr.set_resources(
        {
            "devices": [
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 4, "minor": 1, "access": "rw"},
            ]
        }
    )
    assert kernel.writes[:3] == [
        ("devices/ctr/devices.deny", "a"),
        ("devices/ctr/devices.allow", "c 4:1 rw"),
        ("devices/ctr/devices.allow", "c *:* m"),
    ]
    assert ("devices/ctr/devices.allow", "c 1:3 rwm") in kernel.writes  # runc's defaults follow


def test_v1_freezer(kernel: FakeKernel) -> None:
    mgr = v1_tree(kernel)
    assert not mgr.frozen()
    mgr.freeze()
    assert kernel.read("freezer/ctr/freezer.state") == "FROZEN"
    kernel.touch(mgr.dirs["freezer"], freezer__self_freezing="1")
    assert mgr.frozen()
    # FROZEN because an ancestor is: not paused itself.
    kernel.touch(mgr.dirs["freezer"], freezer__self_freezing="0")
    assert not mgr.frozen()
    mgr.thaw()
    assert kernel.read("freezer/ctr/freezer.state") == "THAWED"


def test_v1_stats_shape(kernel: FakeKernel) -> None:
    mgr = v1_tree(kernel)
    kernel.touch(
        mgr.dirs["cpuacct"],
        cpuacct__usage="3000",
        cpuacct__usage_percpu="1000 2000 ",
        cpuacct__usage_all="cpu user system\n0 600 400\n1 0 2000\n",
        cpuacct__stat="user 2\nsystem 1\n",
    )
    kernel.touch(mgr.dirs["cpu"], cpu__stat="nr_periods 0\nnr_throttled 0\nthrottled_time 0\n")
    kernel.touch(
        mgr.dirs["memory"],
        memory__stat="cache 8192\nrss 4096\n",
        memory__failcnt="1",
        memory__memsw__usage_in_bytes="5000",
        memory__memsw__max_usage_in_bytes="6000",
        memory__memsw__failcnt="0",
    )
    kernel.touch(mgr.dirs["pids"], pids__current="2", pids__max="10")
    kernel.touch(
        mgr.dirs["blkio"],
        blkio__bfq__io_serviced_recursive="8:0 Read 5\n8:0 Write 0\nTotal 5\n",
        blkio__bfq__io_service_bytes_recursive="8:0 Read 20480\n8:0 Write 0\nTotal 20480\n",
        blkio__throttle__io_serviced="8:0 Read 99\n",
    )
    data = mgr.stats()
    assert data["cpu"] == {
        "usage": {
            "total": 3000,
            "percpu": [1000, 2000],
            "percpu_kernel": [400, 2000],
            "percpu_user": [600, 0],
            "kernel": 10000000,
            "user": 20000000,
        },
        "throttling": {},
    }
    assert data["memory"] == {
        "cache": 8192,
        "usage": {"limit": 9223372036854771712, "usage": 5000, "max": 6000, "failcnt": 1},
        "swap": {"limit": 9223372036854771712, "usage": 5000, "max": 6000, "failcnt": 0},
        "kernel": {"limit": 0, "failcnt": 0},
        "kernelTCP": {"limit": 0, "failcnt": 0},
        "raw": {"cache": 8192, "rss": 4096},
    }
    assert data["pids"] == {"current": 2, "limit": 10}
    # The BFQ group has data, so the throttle files are not used (runc's order).
    assert data["blkio"] == {
        "ioServiceBytesRecursive": [{"major": 8, "op": "Read", "value": 20480}, {"major": 8, "op": "Write"}],
        "ioServicedRecursive": [{"major": 8, "op": "Read", "value": 5}, {"major": 8, "op": "Write"}],
    }
    assert data["hugetlb"] == {} and data["intel_rdt"] == {} and data["network_interfaces"] is None
    assert list(data) == [
        "cpu",
        "cpuset",
        "memory",
        "pids",
        "blkio",
        "hugetlb",
        "intel_rdt",
        "network_interfaces",
    ]


# ---------------------------------------------------------------- hybrid


def hybrid_tree(k: FakeKernel) -> HybridManager:
    v1 = v1_tree(k)
    root = os.path.join(k.top, "unified")
    k.touch(root, cgroup__controllers="hugetlb", cgroup__subtree_control="")
    return HybridManager(v1, V2Manager(os.path.join(root, "ctr"), root, enable_all=False))


def test_hybrid_routes_each_limit_to_its_controller(kernel: FakeKernel) -> None:
    mgr = hybrid_tree(kernel)
    res: dict[str, Any] = {
        "memory": {"limit": 1 << 20},
        "cpu": {"shares": 512, "cpus": "0"},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 2 << 20}],
        "unified": {"hugetlb.1GB.max": "0"},
        "network": {"classID": 1},
    }
    to_v1, to_v2, enable = mgr.split(res)
    assert to_v1 == {
        "memory": {"limit": 1 << 20},
        "cpu": {"shares": 512, "cpus": "0"},
        "network": {"classID": 1},
    }
    assert to_v2 == {
        "hugepageLimits": [{"pageSize": "2MB", "limit": 2 << 20}],
        "unified": {"hugetlb.1GB.max": "0"},
    }
    assert enable == ["hugetlb"]
    # No v1 devices controller would send device rules to the unified hierarchy (BPF).
    del mgr.v1.dirs["devices"]
    assert "devices" in mgr.split({"devices": [{"allow": False}]})[1]


def test_hybrid_create_and_hugetlb(kernel: FakeKernel) -> None:
    mgr = hybrid_tree(kernel)
    mgr.create()
    assert kernel.writes == []  # the unified hierarchy enables nothing up front
    kernel.touch(mgr.v2.folder, hugetlb__2MB__max="max", cgroup__procs="")
    mgr.set_resources(
        {"memory": {"limit": 1 << 20}, "hugepageLimits": [{"pageSize": "2MB", "limit": 2 << 20}]}
    )
    assert kernel.writes == [
        ("memory/ctr/memory.limit_in_bytes", str(1 << 20)),
        ("unified/cgroup.subtree_control", "+hugetlb"),
        ("unified/ctr/hugetlb.2MB.max", str(2 << 20)),
    ]
    assert mgr.paths()["unified"] == mgr.v2.folder
    assert mgr.paths()["memory"] == mgr.v1.dirs["memory"]
