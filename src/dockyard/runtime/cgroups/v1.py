"""The cgroup v1 manager: one folder per hierarchy, behaving as runc 1.1's ``fs`` manager.

Kernel interfaces: Documentation/admin-guide/cgroup-v1/{memory,cpusets,freezer-subsystem,
devices,blkio-controller,pids,hugetlb}.rst and kernel/sched (cpu.*).
"""

from __future__ import annotations

import errno
import os
import time

from dockyard.errors import ConfigError, SystemFailure, Unsupported
from dockyard.runtime.cgroups import fs
from dockyard.runtime.cgroups.base import CgroupManager, is_set

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.runtime.cgroups import devices

P = "linux.resources"
SIGKILL = 9

# Which hierarchy answers "the container's processes": runc uses the devices one.
_MAIN_ORDER = ("devices", "freezer", "pids", "memory", "cpu", "cpuacct", "name=systemd")


class V1Manager(CgroupManager):
    """``dirs``: hierarchy name -> the container's folder in it; ``mounts``: name -> mount point
    (unknown for a manager rebuilt from a state file, which then never creates)."""

    def __init__(self, dirs: dict[str, str], mounts: dict[str, str] | None = None) -> None:
        self.dirs = dict(dirs)
        self.mounts = dict(mounts or {})

    # ------------------------------------------------------------ lifecycle

    def _unique(self) -> list[tuple[str, str]]:
        seen: set[str] = set()
        out = []
        for name, folder in self.dirs.items():
            if folder not in seen:
                seen.add(folder)
                out.append((name, folder))
        return out

    def _main(self) -> str | None:
        for name in _MAIN_ORDER:
            if name in self.dirs:
                return self.dirs[name]
        return next(iter(self.dirs.values()), None)

    def create(self) -> None:
        for name, folder in self._unique():
            top = self.mounts.get(name)
            try:
                if top:
                    fs.mkdir_chain(top, folder)
                else:
                    os.makedirs(folder, 0o755, exist_ok=True)
                if self.dirs.get("cpuset") == folder:
                    self._cpuset_inherit(top, folder)
            except OSError as exc:
                raise SystemFailure(
                    f"cannot create cgroup {folder}: {os.strerror(exc.errno or 0)}", exc.errno or 0
                ) from None

    @staticmethod
    def _cpuset_inherit(top: str | None, folder: str) -> None:
        # A new v1 cpuset starts with empty cpuset.cpus and cpuset.mems, and the kernel refuses to
        # attach a task to it (ENOSPC) until both are set: copy them down from the first parent
        # that has them (runc's cpuset ensureParent does the same).
        if top is None:
            top = folder
            while os.path.exists(os.path.join(os.path.dirname(top), "cpuset.cpus")) and top != "/":
                top = os.path.dirname(top)
        chain = fs.chain(top, folder)
        for i in range(1, len(chain)):
            parent, child = chain[i - 1], chain[i]
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not fs.read(child, name).strip():
                    fs.write_raw(child, name, fs.read(parent, name).strip() or "\n")

    def add_process(self, pid: int) -> None:
        for _name, folder in self._unique():
            fs.add_pid(folder, pid)

    def destroy(self) -> None:
        for _name, folder in self._unique():
            fs.remove_cgroup(folder)  # (never a hierarchy's root, for cgroupsPath "/")

    def exists(self) -> bool:
        main = self._main()
        return main is not None and os.path.isdir(main)

    def paths(self) -> dict[str, str]:
        return dict(self.dirs)

    def pids(self) -> list[int]:
        main = self._main()
        return fs.procs_recursive(main) if main else []

    def oom_kill_count(self) -> int:
        folder = self.dirs.get("memory")
        if folder is None:
            return 0
        return fs.read_keyed(folder, "memory.oom_control").get("oom_kill", 0)

    # ------------------------------------------------------------ freezer

    def has_freezer(self) -> bool:
        return "freezer" in self.dirs

    def _freezer(self) -> str:
        folder = self.dirs.get("freezer")
        if folder is None:
            raise Unsupported("cannot freeze: the freezer cgroup controller is not mounted on this host")
        return folder

    def freeze(self) -> None:
        folder = self._freezer()
        # FREEZING means some task has not stopped yet; the kernel docs of old said to retry. New
        # tasks forked (or moved in) meanwhile can keep a v1 cgroup FREEZING for a while; runc's
        # recipe: rewrite FROZEN each round, sleep a little every 25 rounds, and every 50 thaw for
        # 10 ms so the stragglers can be caught again.
        try:
            for i in range(1000):
                if i % 50 == 49:
                    fs.write_raw(folder, "freezer.state", "THAWED")
                    time.sleep(0.01)
                fs.write_raw(folder, "freezer.state", "FROZEN")
                if i % 25 == 24:
                    time.sleep(0.00001)
                state = fs.read(folder, "freezer.state").strip()
                if state == "FROZEN":
                    return
                if state != "FREEZING":
                    raise SystemFailure(
                        f"unexpected freezer state {state!r} in {folder} after writing FROZEN"
                    )
        except OSError as exc:
            raise SystemFailure(
                f"cannot freeze {folder}: {os.strerror(exc.errno or 0)}", exc.errno or 0
            ) from None
        fs.write_raw(folder, "freezer.state", "THAWED")
        raise SystemFailure(f"unable to freeze {folder}: tasks kept it FREEZING")

    def thaw(self) -> None:
        folder = self._freezer()
        try:
            fs.write_raw(folder, "freezer.state", "THAWED")
        except OSError as exc:
            raise SystemFailure(
                f"cannot thaw {folder}: {os.strerror(exc.errno or 0)}", exc.errno or 0
            ) from None

    def frozen(self) -> bool:
        folder = self.dirs.get("freezer")
        if folder is None or not os.path.isdir(folder):
            return False
        for _ in range(1000):
            state = fs.read(folder, "freezer.state").strip()
            if state == "THAWED":
                return False
            if state == "FROZEN":
                # FROZEN is also shown when only an ancestor is frozen; self_freezing tells ours.
                self_freezing = fs.read_opt(folder, "freezer.self_freezing")
                return self_freezing is None or self_freezing.strip() == "1"
            time.sleep(0.001)  # FREEZING: settles within moments
        return True

    def kill_all(self, sig: int) -> None:
        # Freeze first so no process forks a child we would miss, signal everyone, then thaw:
        # a v1-frozen task acts on SIGKILL only once it runs again. A container that was paused
        # before stays paused for other signals (they are delivered when it is resumed).
        freezer = self.dirs.get("freezer")
        use_freezer = freezer is not None and os.path.isdir(freezer)
        was_frozen = use_freezer and self.frozen()
        if use_freezer and not was_frozen:
            try:
                self.freeze()
            except SystemFailure:
                use_freezer = was_frozen = False
        try:
            signal_all(self.pids(), sig)
        finally:
            if use_freezer and (sig == SIGKILL or not was_frozen):
                try:
                    self.thaw()
                except SystemFailure:
                    pass

    # ------------------------------------------------------------ resources

    def handles(self, controller: str) -> bool:
        return controller in self.dirs

    def _need(self, controller: str, field: str) -> str:
        folder = self.dirs.get(controller)
        if folder is None:
            # runc: "cannot set X limit: container could not join or create cgroup".
            raise Unsupported(
                f"{field}: the {controller} cgroup controller is not mounted on this host, "
                "so the limit cannot be applied: remove it from the config"
            )
        return folder

    def set_resources(self, resources: dict[str, Any]) -> None:
        res = resources or {}
        # Same order as runc's subsystem list: cpuset before memory (a cpuset must have cpus and
        # mems before anything else), devices early.
        self._cpuset(res.get("cpu") or {})
        if res.get("devices"):
            self._devices(res["devices"])
        self._memory(res.get("memory") or {})
        self._cpu(res.get("cpu") or {})
        if res.get("pids") is not None and "limit" in res["pids"]:
            limit = int(res["pids"]["limit"])
            folder = self._need("pids", f"{P}.pids.limit")
            # -1 (and 0, which runtime-spec 1.0 leaves as "unset") mean no limit.
            fs.write(folder, "pids.max", str(limit) if limit > 0 else "max", f"{P}.pids.limit")
        self._blkio(res.get("blockIO") or {})
        if res.get("hugepageLimits"):
            self._hugetlb(res["hugepageLimits"])
        self._network(res.get("network") or {})
        if res.get("rdma"):
            write_rdma(self._need("rdma", f"{P}.rdma"), res["rdma"])
        if res.get("unified"):
            raise ConfigError(
                f"{P}.unified", "cannot use unified on cgroup v1: this host has no cgroup2 hierarchy"
            )

    def _devices(self, rules: list[dict[str, Any]]) -> None:
        folder = self._need("devices", f"{P}.devices")
        state = device_state(rules)
        for name, line in state.v1_writes():
            fs.write(folder, name, line, f"{P}.devices")

    def _memory(self, mem: dict[str, Any]) -> None:
        f = f"{P}.memory"
        limit = int(mem.get("limit") or 0)
        swap = int(mem.get("swap") or 0)
        reservation = int(mem.get("reservation") or 0)
        swappiness = mem.get("swappiness")
        disable_oom = bool(mem.get("disableOOMKiller"))
        if not (limit or swap or reservation or swappiness is not None or disable_oom):
            return
        folder = self._need("memory", f)
        has_memsw = os.path.exists(os.path.join(folder, "memory.memsw.limit_in_bytes"))
        if limit == -1 and swap == 0 and has_memsw:
            # Unlimited memory with swap unset means both unlimited (runc: "it means unlimited
            # memory"), else the old memsw limit would still cap the container.
            swap = -1
        if swap and not has_memsw:
            swap = check_swap_without_accounting(swap, limit, "memory.memsw.limit_in_bytes")
        if limit and swap:
            # The kernel keeps memsw >= limit at every instant: raise whichever must grow first.
            current = fs.read_uint(folder, "memory.limit_in_bytes")
            if swap == -1 or current < swap:
                self._set_swap(folder, swap)
                self._set_limit(folder, limit)
            else:
                self._set_limit(folder, limit)
                self._set_swap(folder, swap)
        else:
            if limit:
                self._set_limit(folder, limit)
            if swap:
                self._set_swap(folder, swap)
        if reservation:
            fs.write(folder, "memory.soft_limit_in_bytes", str(reservation), f"{f}.reservation")
        if disable_oom:
            fs.write(folder, "memory.oom_control", "1", f"{f}.disableOOMKiller")
        if swappiness is not None:
            fs.write(folder, "memory.swappiness", str(int(swappiness)), f"{f}.swappiness")

    @staticmethod
    def _set_limit(folder: str, limit: int) -> None:
        try:
            fs.write_raw(folder, "memory.limit_in_bytes", str(limit))
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                # The kernel could not reclaim enough to fit below the new limit.
                usage = fs.read_uint(folder, "memory.usage_in_bytes")
                peak = fs.read_uint(folder, "memory.max_usage_in_bytes")
                raise ConfigError(
                    f"{P}.memory.limit",
                    f"unable to set memory limit to {limit} (current usage: {usage}, peak usage: {peak})",
                ) from None
            raise fs.error(exc, folder, "memory.limit_in_bytes", str(limit), f"{P}.memory.limit") from None

    @staticmethod
    def _set_swap(folder: str, swap: int) -> None:
        fs.write(folder, "memory.memsw.limit_in_bytes", str(swap), f"{P}.memory.swap")

    def _cpu(self, cpu: dict[str, Any]) -> None:
        f = f"{P}.cpu"
        shares = int(cpu.get("shares") or 0)
        quota = int(cpu.get("quota") or 0)
        period = int(cpu.get("period") or 0)
        rt_runtime = int(cpu.get("realtimeRuntime") or 0)
        rt_period = int(cpu.get("realtimePeriod") or 0)
        burst = cpu.get("burst")
        idle = cpu.get("idle")
        if not (
            shares or quota or period or rt_runtime or rt_period or burst is not None or idle is not None
        ):
            return
        folder = self._need("cpu", f)
        if shares:
            fs.write(folder, "cpu.shares", str(shares), f"{f}.shares")
            # The kernel clamps cpu.shares into [2, 262144] silently: read back to tell the user.
            got = fs.read_uint(folder, "cpu.shares")
            if shares > got:
                raise ConfigError(f"{f}.shares", f"the maximum allowed cpu-shares is {got}")
            if shares < got:
                raise ConfigError(f"{f}.shares", f"the minimum allowed cpu-shares is {got}")
        set_pair(folder, "cpu.cfs_period_us", period, "cpu.cfs_quota_us", quota, f"{f}.period", f"{f}.quota")
        if burst is not None:
            fs.write(folder, "cpu.cfs_burst_us", str(int(burst)), f"{f}.burst")
        if idle is not None:
            fs.write(folder, "cpu.idle", str(int(idle)), f"{f}.idle")
        set_pair(
            folder,
            "cpu.rt_period_us",
            rt_period,
            "cpu.rt_runtime_us",
            rt_runtime,
            f"{f}.realtimePeriod",
            f"{f}.realtimeRuntime",
        )

    def _cpuset(self, cpu: dict[str, Any]) -> None:
        for key, name in (("cpus", "cpuset.cpus"), ("mems", "cpuset.mems")):
            if cpu.get(key):
                folder = self._need("cpuset", f"{P}.cpu.{key}")
                fs.write(folder, name, str(cpu[key]), f"{P}.cpu.{key}")

    def _blkio(self, bio: dict[str, Any]) -> None:
        f = f"{P}.blockIO"
        if not any(is_set(v) for v in bio.values()):
            return
        folder = self._need("blkio", f)
        # CFQ gave blkio.weight; with CFQ gone (kernel 5.0) only BFQ's blkio.bfq.weight can
        # exist, and only in non-root cgroups while some disk uses the bfq scheduler.
        if os.path.exists(os.path.join(folder, "blkio.weight")):
            weight_file, weight_dev_file = "blkio.weight", "blkio.weight_device"
        else:
            weight_file, weight_dev_file = "blkio.bfq.weight", "blkio.bfq.weight_device"
        weight = int(bio.get("weight") or 0)
        if weight:
            if not os.path.exists(os.path.join(folder, weight_file)):
                raise Unsupported(
                    f"{f}.weight: neither blkio.weight nor blkio.bfq.weight exists in {folder}: "
                    "this host's block devices have no proportional I/O weights (no CFQ, no BFQ "
                    "scheduler); remove blockIO.weight or switch a disk to bfq"
                )
            fs.write(folder, weight_file, str(weight), f"{f}.weight")
        leaf = int(bio.get("leafWeight") or 0)
        if leaf:
            fs.write(folder, "blkio.leaf_weight", str(leaf), f"{f}.leafWeight")
        for i, wd in enumerate(bio.get("weightDevice") or []):
            dev = f"{wd['major']}:{wd['minor']}"
            if wd.get("weight"):
                fs.write(folder, weight_dev_file, f"{dev} {wd['weight']}", f"{f}.weightDevice[{i}].weight")
            if wd.get("leafWeight"):
                fs.write(
                    folder,
                    "blkio.leaf_weight_device",
                    f"{dev} {wd['leafWeight']}",
                    f"{f}.weightDevice[{i}].leafWeight",
                )
        for key, name in (
            ("throttleReadBpsDevice", "blkio.throttle.read_bps_device"),
            ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device"),
            ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device"),
            ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"),
        ):
            for i, td in enumerate(bio.get(key) or []):
                fs.write(folder, name, f"{td['major']}:{td['minor']} {td['rate']}", f"{f}.{key}[{i}]")

    def _hugetlb(self, limits: list[dict[str, Any]]) -> None:
        folder = self._need("hugetlb", f"{P}.hugepageLimits")
        write_hugetlb(folder, limits, ".limit_in_bytes")

    def _network(self, net: dict[str, Any]) -> None:
        f = f"{P}.network"
        if net.get("classID"):
            folder = self._need("net_cls", f"{f}.classID")
            fs.write(folder, "net_cls.classid", str(int(net["classID"])), f"{f}.classID")
        for i, prio in enumerate(net.get("priorities") or []):
            folder = self._need("net_prio", f"{f}.priorities")
            fs.write(
                folder,
                "net_prio.ifpriomap",
                f"{prio['name']} {int(prio['priority'])}",
                f"{f}.priorities[{i}]",
            )

    # ------------------------------------------------------------ stats

    def stats(self) -> dict[str, Any]:
        from dockyard.runtime.cgroups.stats import collect_v1

        return collect_v1(self.dirs)


# ---------------------------------------------------------------- shared with v2 / hybrid


def device_state(rules: list[dict[str, Any]]) -> devices.DeviceState:
    """The device policy of ``rules`` plus runc's default allow-list, from deny-all like runc."""
    from dockyard.runtime.cgroups import devices

    return devices.emulate([devices.from_oci(r) for r in devices.runc_device_rules(rules)])


def check_swap_without_accounting(swap: int, limit: int, missing: str) -> int:
    """The swap value to write when the kernel does no swap accounting (``missing`` is absent).

    Nothing can be enforced then. Like runc (fs2 setMemory: "If swap is not enabled, silently
    ignore setting to max or disabling it"), a value that asks for no extra restriction is
    dropped (-1: unlimited; equal to the memory limit: no swap on top); any other value is an
    error, since the container would get more swap than the config allows.
    """
    if swap == -1 or swap == limit:
        return 0
    raise Unsupported(
        f"{P}.memory.swap: this kernel does no swap accounting ({missing} does not exist; boot "
        f"with swapaccount=1), so the memory+swap limit {swap} cannot be enforced: leave swap unset, "
        "set it to -1, or equal to memory.limit"
    )


def set_pair(
    folder: str,
    period_file: str,
    period: int,
    value_file: str,
    value: int,
    period_field: str,
    value_field: str,
) -> None:
    """Write a period and the quota (or runtime) measured against it, in an order that works.

    The kernel checks quota/period against the parent's on every write, so a new period can be
    refused (EINVAL) until the new quota is in: runc then writes the quota and retries the
    period, and we do the same.
    """
    pending = ""
    if period:
        try:
            fs.write_raw(folder, period_file, str(period))
        except OSError as exc:
            if exc.errno != errno.EINVAL or not value:
                raise fs.error(exc, folder, period_file, str(period), period_field) from None
            pending = str(period)
    if value:
        fs.write(folder, value_file, str(value), value_field)
        if pending:
            fs.write(folder, period_file, pending, period_field)


def write_hugetlb(folder: str, limits: list[dict[str, Any]], suffix: str) -> None:
    f = f"{P}.hugepageLimits"
    for i, h in enumerate(limits):
        size = h["pageSize"]
        name = f"hugetlb.{size}{suffix}"
        if not os.path.exists(os.path.join(folder, name)):
            sizes = ", ".join(fs.hugepage_sizes()) or "none"
            raise ConfigError(
                f"{f}[{i}].pageSize",
                f"{folder} has no {name}: this host's huge page sizes are {sizes}",
            )
        fs.write(folder, name, str(int(h["limit"])), f"{f}[{i}].limit")
        # The reservation limit (kernel 5.7) counts pages reserved by mmap, not only faulted
        # ones; runc sets both when it can, so a reservation cannot dodge the limit.
        rsvd = f"hugetlb.{size}.rsvd{suffix}"
        if os.path.exists(os.path.join(folder, rsvd)):
            fs.write(folder, rsvd, str(int(h["limit"])), f"{f}[{i}].limit")


def write_rdma(folder: str, rdma: dict[str, Any]) -> None:
    for name, limit in rdma.items():
        parts = [name]
        if limit.get("hcaHandles") is not None:
            parts.append(f"hca_handle={int(limit['hcaHandles'])}")
        if limit.get("hcaObjects") is not None:
            parts.append(f"hca_object={int(limit['hcaObjects'])}")
        if len(parts) > 1:
            fs.write(folder, "rdma.max", " ".join(parts), f"{P}.rdma.{name}")


def signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass  # exited since the list was read
