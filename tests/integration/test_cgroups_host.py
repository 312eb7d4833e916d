"""The cgroup managers on this host's real kernel (root): v1 hierarchies, the cgroup2 hierarchy at
/sys/fs/cgroup/unified (hybrid mode), the BPF device filter, and runc's stats shape.

Every cgroup made here is named ``dockyard-test-<random>`` and removed in ``finally``; the one
host-wide change (enabling hugetlb in the unified root's subtree_control) is undone too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dockyard.errors import ConfigError
from dockyard.runtime import cgroups
from dockyard.runtime.cgroups import devices_bpf, fs
from dockyard.runtime.cgroups.devices import WILDCARD, Rule, emulate
from dockyard.runtime.cgroups.hybrid import HybridManager
from dockyard.runtime.cgroups.v2 import V2Manager
from tests.conftest import BundleFactory

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("cgroup tests need root", allow_module_level=True)

LAYOUT = cgroups.detect_layout()
NEEDS_V1 = pytest.mark.skipif(
    not {"memory", "cpu", "pids", "freezer"} <= set(LAYOUT.v1), reason="needs v1 memory, cpu, pids, freezer"
)
NEEDS_UNIFIED = pytest.mark.skipif(LAYOUT.unified is None, reason="needs a cgroup2 hierarchy")


def _hierarchy_roots() -> list[str]:
    roots = sorted(set(LAYOUT.v1.values()))
    if LAYOUT.unified:
        roots.append(LAYOUT.unified)
    return roots


def _sweep(name: str) -> None:
    """Remove ``/<name>`` from every hierarchy: the net under the managers' own cleanup."""
    for root in _hierarchy_roots():
        folder = os.path.join(root, name)
        if os.path.isdir(folder):
            for pid in fs.procs_recursive(folder):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            fs.remove_cgroup(folder)


@pytest.fixture
def name() -> Iterator[str]:
    cg = f"dockyard-test-{uuid.uuid4().hex[:10]}"
    try:
        yield cg
    finally:
        _sweep(cg)


@pytest.fixture
def children() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(*args: str, gated: bool = False) -> subprocess.Popen[bytes]:
        """A child; ``gated``: its stdin is a pipe, for a script that waits with ``read``."""
        stdin = subprocess.PIPE if gated else subprocess.DEVNULL
        p = subprocess.Popen(list(args), stdin=stdin, stdout=subprocess.DEVNULL)
        procs.append(p)
        return p

    try:
        yield spawn
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            if p.stdin is not None:
                p.stdin.close()


@pytest.fixture
def unified_hugetlb() -> Iterator[None]:
    """Leave the unified root's subtree_control as found (a test may enable hugetlb in it)."""
    assert LAYOUT.unified is not None
    before = fs.read(LAYOUT.unified, "cgroup.subtree_control").split()
    try:
        yield
    finally:
        after = fs.read(LAYOUT.unified, "cgroup.subtree_control").split()
        for ctrl in after:
            if ctrl not in before:
                try:
                    fs.write_raw(LAYOUT.unified, "cgroup.subtree_control", "-" + ctrl)
                except OSError:
                    pass  # a cgroup of someone else's now uses it: leave it on


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    return data[data.rfind(b")") + 2 :].split()[0].decode()


def _cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    fields = data[data.rfind(b")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


# ---------------------------------------------------------------- v1


@NEEDS_V1
def test_v1_creates_a_folder_in_every_hierarchy_and_applies_limits(name: str) -> None:
    mgr = cgroups.new_manager(f"/{name}", name, layout=LAYOUT)
    mgr.create()
    mgr.create()  # idempotent
    paths = mgr.paths()
    for ctrl, mountpoint in LAYOUT.v1.items():
        if ctrl in cgroups.V1_HIERARCHIES:
            assert paths[ctrl] == os.path.join(mountpoint, name)
            assert os.path.isdir(paths[ctrl])
    if "cpuset" in paths:
        # Copied down from the parent: a task could not join with empty cpus/mems.
        assert fs.read(paths["cpuset"], "cpuset.cpus").strip()
        assert fs.read(paths["cpuset"], "cpuset.mems").strip()
    res: dict[str, Any] = {
        "memory": {"limit": 64 << 20, "reservation": 32 << 20, "swappiness": 10},
        "pids": {"limit": 10},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000},
    }
    has_memsw = os.path.exists(os.path.join(paths["memory"], "memory.memsw.limit_in_bytes"))
    if has_memsw:
        res["memory"]["swap"] = 128 << 20
    cgroups.validate_resources(res, LAYOUT)
    mgr.set_resources(res)
    assert fs.read_uint(paths["memory"], "memory.limit_in_bytes") == 64 << 20
    assert fs.read_uint(paths["memory"], "memory.soft_limit_in_bytes") == 32 << 20
    assert fs.read_uint(paths["memory"], "memory.swappiness") == 10
    if has_memsw:
        assert fs.read_uint(paths["memory"], "memory.memsw.limit_in_bytes") == 128 << 20
    assert fs.read(paths["pids"], "pids.max").strip() == "10"
    assert fs.read_uint(paths["cpu"], "cpu.cfs_quota_us") == 50000
    assert fs.read_uint(paths["cpu"], "cpu.cfs_period_us") == 100000
    assert fs.read_uint(paths["cpu"], "cpu.shares") == 512
    # An update with only part of the resources leaves the rest alone.
    mgr.set_resources({"pids": {"limit": -1}})
    assert fs.read(paths["pids"], "pids.max").strip() == "max"
    assert fs.read_uint(paths["memory"], "memory.limit_in_bytes") == 64 << 20
    mgr.destroy()
    assert not mgr.exists()
    assert not any(os.path.exists(p) for p in paths.values())
    mgr.destroy()  # already gone: fine


@NEEDS_V1
def test_v1_kernel_refusals_name_the_field(
    name: str, children: Callable[..., subprocess.Popen[bytes]]
) -> None:
    with open("/proc/meminfo") as f:
        if any(line.split()[:2] != ["SwapTotal:", "0"] for line in f if line.startswith("SwapTotal:")):
            pytest.skip("with swap the kernel can always make room")
    mgr = cgroups.new_manager(f"/{name}", name, layout=LAYOUT)
    mgr.create()
    # v1 charges memory to the cgroup a page was touched in: allocate after joining.
    p = children(sys.executable, "-S", "-c", "input(); b = bytearray(16 << 20); input()", gated=True)
    mgr.add_process(p.pid)
    assert p.stdin is not None
    p.stdin.write(b"\n")
    p.stdin.flush()
    deadline = time.monotonic() + 5
    while (
        fs.read_uint(mgr.paths()["memory"], "memory.usage_in_bytes") < 16 << 20
        and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    # Below what the process uses, with nothing to reclaim (anonymous memory, no swap): EBUSY.
    with pytest.raises(ConfigError, match=r"unable to set memory limit to 4096 \(current usage: \d+") as info:
        mgr.set_resources({"memory": {"limit": 4096}})
    assert info.value.field == "linux.resources.memory.limit"
    # RT bandwidth: the root has a budget to share, a new cgroup below ours has none, so the
    # kernel refuses a runtime there (runc 1.1.5 fails the same way for "/a/b" here).
    rt = {"cpu": {"realtimeRuntime": 1000, "realtimePeriod": 100000}}
    nested = cgroups.new_manager(f"/{name}/nested", name, layout=LAYOUT)
    nested.create()
    with pytest.raises(ConfigError, match="rejected '1000'") as info:
        nested.set_resources(rt)
    assert info.value.field == "linux.resources.cpu.realtimeRuntime"
    nested.destroy()
    mgr.set_resources(rt)
    assert fs.read_uint(mgr.paths()["cpu"], "cpu.rt_runtime_us") == 1000


@NEEDS_V1
def test_v1_blkio_weight_uses_bfq_when_cfq_is_gone(name: str) -> None:
    if "blkio" not in LAYOUT.v1:
        pytest.skip("no v1 blkio hierarchy")
    mgr = cgroups.new_manager(f"/{name}", name, layout=LAYOUT)
    mgr.create()
    folder = mgr.paths()["blkio"]
    if os.path.exists(os.path.join(folder, "blkio.weight")):
        expect = "blkio.weight"
    elif os.path.exists(os.path.join(folder, "blkio.bfq.weight")):
        expect = "blkio.bfq.weight"
    else:
        pytest.skip("no proportional blkio weight on this host")
    mgr.set_resources({"blockIO": {"weight": 500}})
    assert fs.read(folder, expect).split()[-1] == "500"


@NEEDS_V1
def test_v1_freeze_thaw_and_kill_all(name: str, children: Callable[..., subprocess.Popen[bytes]]) -> None:
    mgr = cgroups.new_manager(f"/{name}", name, layout=LAYOUT)
    mgr.create()
    spinner = children("sh", "-c", "while :; do :; done")
    sleeper = children("sh", "-c", "read x; sleep 30 & sleep 30 & wait", gated=True)
    mgr.add_process(spinner.pid)
    mgr.add_process(sleeper.pid)
    with open(f"/proc/{spinner.pid}/cgroup") as f:
        lines = f.read().splitlines()
    assert all(line.endswith(f":/{name}") for line in lines)
    assert sleeper.stdin is not None
    sleeper.stdin.write(b"go\n")  # the sleepers fork after joining: they are in the cgroup too
    sleeper.stdin.flush()
    deadline = time.monotonic() + 5
    while len(mgr.pids()) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert {spinner.pid, sleeper.pid} <= set(mgr.pids()) and len(mgr.pids()) == 4

    freezer = mgr.paths()["freezer"]
    mgr.freeze()
    assert fs.read(freezer, "freezer.state").strip() == "FROZEN"
    assert mgr.frozen()
    assert _state(spinner.pid) == "D"  # v1's refrigerator shows as uninterruptible sleep
    before = _cpu_ticks(spinner.pid)
    time.sleep(0.2)
    assert _cpu_ticks(spinner.pid) == before  # stopped: no CPU time while frozen
    mgr.thaw()
    assert not mgr.frozen()
    assert fs.read(freezer, "freezer.state").strip() == "THAWED"
    time.sleep(0.1)
    assert _cpu_ticks(spinner.pid) > before

    # A frozen cgroup still gets its SIGKILL delivered.
    mgr.freeze()
    mgr.kill_all(signal.SIGKILL)
    assert spinner.wait(5) == -signal.SIGKILL
    assert sleeper.wait(5) == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while mgr.pids() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert mgr.pids() == []
    assert not mgr.frozen()
    mgr.destroy()
    assert not any(os.path.exists(p) for p in mgr.paths().values())


@NEEDS_V1
def test_v1_kill_all_other_signals_keep_a_paused_container_paused(
    name: str, children: Callable[..., subprocess.Popen[bytes]]
) -> None:
    mgr = cgroups.new_manager(f"/{name}", name, layout=LAYOUT)
    mgr.create()
    p = children("sleep", "30")
    mgr.add_process(p.pid)
    mgr.freeze()
    mgr.kill_all(signal.SIGTERM)
    assert mgr.frozen() and p.poll() is None  # delivered on resume
    mgr.thaw()
    assert p.wait(5) == -signal.SIGTERM


@NEEDS_V1
def test_add_process_zero_moves_the_caller(name: str) -> None:
    mgr = cgroups.new_manager(f"/{name}", name, layout=LAYOUT)
    mgr.create()
    code = (
        "import json, sys\n"
        "from dockyard.runtime.cgroups import manager_from_paths\n"
        "manager_from_paths(json.loads(sys.argv[1])).add_process(0)\n"
        "print(open('/proc/self/cgroup').read())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(mgr.paths())], capture_output=True, text=True, check=True
    ).stdout
    assert all(line.endswith(f":/{name}") for line in out.split())


# ---------------------------------------------------------------- cgroup2 (the unified hierarchy)


@NEEDS_UNIFIED
def test_v2_freeze_events_and_cgroup_kill(
    name: str, children: Callable[..., subprocess.Popen[bytes]]
) -> None:
    assert LAYOUT.unified is not None
    mgr = V2Manager(os.path.join(LAYOUT.unified, name), LAYOUT.unified, enable_all=False)
    mgr.create()
    assert os.path.isdir(mgr.folder)
    assert fs.read_keyed(mgr.folder, "cgroup.events")["populated"] == 0
    p = children("sleep", "30")
    mgr.add_process(p.pid)
    assert mgr.pids() == [p.pid]
    assert fs.read_keyed(mgr.folder, "cgroup.events")["populated"] == 1
    mgr.freeze()
    assert fs.read_keyed(mgr.folder, "cgroup.events")["frozen"] == 1
    assert mgr.frozen()
    mgr.thaw()
    assert fs.read_keyed(mgr.folder, "cgroup.events")["frozen"] == 0
    assert not mgr.frozen()
    if not os.path.exists(os.path.join(mgr.folder, "cgroup.kill")):
        pytest.skip("no cgroup.kill (Linux < 5.14)")
    mgr.freeze()
    mgr.kill_all(signal.SIGKILL)  # through cgroup.kill, frozen and all
    assert p.wait(5) == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while fs.read_keyed(mgr.folder, "cgroup.events")["populated"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fs.read_keyed(mgr.folder, "cgroup.events")["populated"] == 0
    mgr.destroy()
    assert not mgr.exists()


PROBE = """\
import json, os, sys
with open(sys.argv[1] + "/cgroup.procs", "w") as f:
    f.write("0")
out = {}
for dev in sys.argv[2:]:
    try:
        os.close(os.open(dev, os.O_RDONLY))
        out[dev] = "ok"
    except OSError as exc:
        out[dev] = os.strerror(exc.errno)
print(json.dumps(out))
"""


def _probe(folder: str, *devs: str) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-S", "-c", PROBE, folder, *devs], capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, str] = json.loads(out)
    return result


@NEEDS_UNIFIED
def test_bpf_device_filter_denies_dev_null(name: str) -> None:
    assert LAYOUT.unified is not None
    mgr = V2Manager(os.path.join(LAYOUT.unified, name), LAYOUT.unified, enable_all=False)
    mgr.create()
    deny_null = emulate([Rule(True, "a", WILDCARD, WILDCARD, "rwm"), Rule(False, "c", 1, 3, "rwm")])
    devices_bpf.apply(mgr.folder, deny_null)
    assert _probe(mgr.folder, "/dev/null", "/dev/zero") == {
        "/dev/null": os.strerror(1),  # EPERM
        "/dev/zero": "ok",
    }
    # An update replaces the program instead of stacking a second one.
    devices_bpf.apply(mgr.folder, deny_null)
    fd = os.open(mgr.folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert len(devices_bpf.query(fd)) == 1
    finally:
        os.close(fd)
    # Through set_resources: runc's semantics, deny-all plus runc's default allow-list.
    mgr.set_resources({"devices": [{"allow": False, "access": "rwm"}]})
    assert _probe(mgr.folder, "/dev/null", "/dev/zero", "/dev/kmsg") == {
        "/dev/null": "ok",
        "/dev/zero": "ok",
        "/dev/kmsg": os.strerror(1),
    }


@NEEDS_UNIFIED
@NEEDS_V1
def test_hybrid_uses_v1_controllers_and_unified_for_hugetlb(
    name: str, children: Callable[..., subprocess.Popen[bytes]], unified_hugetlb: None
) -> None:
    assert LAYOUT.unified is not None
    mgr = cgroups.new_manager(f"/{name}", name, layout=LAYOUT)
    assert isinstance(mgr, HybridManager)
    mgr.create()
    unified = mgr.paths()["unified"]
    assert unified == os.path.join(LAYOUT.unified, name)
    p = children("sleep", "30")
    mgr.add_process(p.pid)
    with open(f"/proc/{p.pid}/cgroup") as f:
        lines = f.read().splitlines()
    assert f"0::/{name}" in lines
    assert f"memory:/{name}" in [line.split(":", 1)[1] for line in lines]
    res: dict[str, Any] = {"memory": {"limit": 32 << 20}}
    if "hugetlb" in LAYOUT.unified_controllers() and "hugetlb" not in LAYOUT.v1:
        res["hugepageLimits"] = [{"pageSize": "2MB", "limit": 4 << 20}]
    mgr.set_resources(res)
    assert fs.read_uint(mgr.paths()["memory"], "memory.limit_in_bytes") == 32 << 20
    if "hugepageLimits" in res:
        assert fs.read(unified, "hugetlb.2MB.max").strip() == str(4 << 20)
        assert "2MB" in mgr.stats()["hugetlb"]
    assert sorted(mgr.pids()) == [p.pid]
    mgr.kill_all(signal.SIGKILL)
    p.wait(5)
    mgr.destroy()
    assert not any(os.path.exists(d) for d in mgr.paths().values())


# ---------------------------------------------------------------- runc's stats shape


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


@NEEDS_V1
def test_stats_have_runcs_shape(name: str, bundle: BundleFactory) -> None:
    runc = shutil.which("runc")
    if runc is None:
        pytest.skip("runc is not installed")
    res = {"memory": {"limit": 64 << 20}, "pids": {"limit": 50}, "cpu": {"quota": 50000, "period": 100000}}
    path = bundle(["sleep", "30"], linux={"cgroupsPath": f"/{name}", "resources": res})
    root = tempfile.mkdtemp(prefix="dockyard-runc-root-")
    cid = name
    try:
        # The container inherits runc's stdio: a pipe would keep run waiting for its EOF.
        with tempfile.TemporaryFile() as err:
            done = subprocess.run(
                [runc, "--root", root, "run", "-d", "--bundle", path, cid],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                timeout=30,
            )
            err.seek(0)
            assert done.returncode == 0, err.read().decode()
        ours = cgroups.manager_from_paths(
            cgroups.new_manager(f"/{name}", name, layout=LAYOUT).paths()
        ).stats()
        theirs = json.loads(
            subprocess.run(
                [runc, "--root", root, "events", "--stats", cid],
                capture_output=True,
                text=True,
                check=True,
                timeout=30,
            ).stdout
        )["data"]
        # Counters move between the two reads (and a zero one is left out, Go's omitempty): only
        # the keys that never depend on a counter are compared as a whole.
        for d in (ours, theirs):
            d["memory"].pop("raw", None)
            cpu = d.pop("cpu")
            assert set(cpu) == {"usage", "throttling"}
            assert (
                {"kernel", "user"}
                <= set(cpu["usage"])
                <= {"total", "percpu", "percpu_kernel", "percpu_user", "kernel", "user"}
            )
            assert set(cpu["throttling"]) <= {"periods", "throttledPeriods", "throttledTime"}
        for entry in ("usage", "swap", "kernel", "kernelTCP"):
            for d in (ours, theirs):
                d["memory"][entry] = {
                    k: v for k, v in d["memory"][entry].items() if k in ("limit", "failcnt")
                }
        assert _shape(ours) == _shape(theirs)
        assert ours["memory"]["usage"]["limit"] == theirs["memory"]["usage"]["limit"] == 64 << 20
        assert ours["pids"] == theirs["pids"]
        assert ours["cpuset"] == theirs["cpuset"]
        assert ours["hugetlb"] == theirs["hugetlb"]
    finally:
        subprocess.run([runc, "--root", root, "delete", "-f", cid], capture_output=True, timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def test_remove_cgroup_never_touches_a_hierarchy_root(tmp_path: Any) -> None:
    """cgroupsPath "/" makes a hierarchy's root the container's "cgroup": deleting the container
    must leave it and every cgroup below it (other containers') alone. A tmpfs mount stands in
    for the hierarchy: rmdir(2) answers a mount point with EBUSY whatever the filesystem."""
    top = tmp_path / "hierarchy"
    top.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "dockyard-test", str(top)], check=True)
    try:
        (top / "other-container").mkdir()
        fs.remove_cgroup(str(top))
        assert (top / "other-container").is_dir()
        assert os.path.ismount(top)
    finally:
        subprocess.run(["umount", str(top)], check=True)
