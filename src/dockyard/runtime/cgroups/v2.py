"""The cgroup v2 manager: one folder in the unified hierarchy, behaving as runc 1.1's ``fs2``.

Kernel interface: Documentation/admin-guide/cgroup-v2.rst. A controller's files appear in a
cgroup only when its parent lists the controller in ``cgroup.subtree_control``; a non-root cgroup
that has processes cannot enable controllers for its children ("no internal processes" rule).
"""

from __future__ import annotations

import errno
import os
import time

from dockyard.errors import ConfigError, SystemFailure, Unsupported
from dockyard.runtime.cgroups import fs
from dockyard.runtime.cgroups.base import CgroupManager, is_set
from dockyard.runtime.cgroups.v1 import (
    check_swap_without_accounting,
    device_state,
    signal_all,
    write_hugetlb,
    write_rdma,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

P = "linux.resources"
SIGKILL = 9
FREEZE_TIMEOUT = 10.0


def shares_to_weight(shares: int) -> int:
    """cpu.shares (2..262144, default 1024) -> cpu.weight (1..10000, default 100), runc's mapping."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_to_io_weight(weight: int) -> int:
    """blkio.weight (10..1000) -> io.weight (1..10000), runc's mapping."""
    if weight == 0:
        return 0
    return 1 + ((weight - 10) * 9999) // 990


class V2Manager(CgroupManager):
    """``folder``: the container's cgroup; ``mount``: the cgroup2 mount point it is below (found
    by walking up when None). ``enable_all``: on create, enable in every ancestor all the
    controllers the root offers, as runc does on a v2 host; a hybrid host's unified hierarchy
    enables only what a limit needs, when it needs it."""

    def __init__(self, folder: str, mount: str | None = None, *, enable_all: bool = True) -> None:
        self.folder = folder
        self._mount = mount
        self.enable_all = enable_all

    @property
    def mount(self) -> str:
        if self._mount is None:
            top = self.folder
            while top != "/" and not os.path.ismount(top):
                top = os.path.dirname(top)
            self._mount = top
        return self._mount

    # ------------------------------------------------------------ lifecycle

    def available(self) -> list[str]:
        """Controllers the hierarchy's root offers."""
        return (fs.read_opt(self.mount, "cgroup.controllers") or "").split()

    def create(self) -> None:
        try:
            fs.mkdir_chain(self.mount, self.folder)
        except OSError as exc:
            raise SystemFailure(
                f"cannot create cgroup {self.folder}: {os.strerror(exc.errno or 0)}", exc.errno or 0
            ) from None
        if self.enable_all:
            self.enable(self.available())

    def enable(self, controllers: list[str]) -> None:
        """Enable ``controllers`` for the container: in each ancestor's cgroup.subtree_control.

        Failures are left for the limit's own write to report (a busy ancestor with processes,
        or a controller a delegating parent withheld): runc ignores them here too.
        """
        if not controllers:
            return
        for folder in fs.chain(self.mount, self.folder)[:-1]:
            current = (fs.read_opt(folder, "cgroup.subtree_control") or "").split()
            missing = [c for c in controllers if c not in current]
            if not missing:
                continue
            try:
                fs.write_raw(folder, "cgroup.subtree_control", " ".join("+" + c for c in missing))
            except OSError:
                for c in missing:
                    try:
                        fs.write_raw(folder, "cgroup.subtree_control", "+" + c)
                    except OSError:
                        pass

    def add_process(self, pid: int) -> None:
        fs.add_pid(self.folder, pid)

    def destroy(self) -> None:
        fs.remove_cgroup(self.folder)  # (never the hierarchy's root, for cgroupsPath "/")

    def exists(self) -> bool:
        return os.path.isdir(self.folder)

    def paths(self) -> dict[str, str]:
        return {"unified": self.folder}

    def pids(self) -> list[int]:
        return fs.procs_recursive(self.folder)

    def oom_kill_count(self) -> int:
        return fs.read_keyed(self.folder, "memory.events").get("oom_kill", 0)

    # ------------------------------------------------------------ freezer

    def freeze(self) -> None:
        if fs.read_opt(self.folder, "cgroup.freeze") is None:
            raise Unsupported(
                f"cannot freeze {self.folder}: no cgroup.freeze (the v2 freezer needs Linux 5.2)"
            )
        try:
            fs.write_raw(self.folder, "cgroup.freeze", "1")
        except OSError as exc:
            raise SystemFailure(
                f"cannot freeze {self.folder}: {os.strerror(exc.errno or 0)}", exc.errno or 0
            ) from None
        # Writing cgroup.freeze only asks; "frozen 1" in cgroup.events says every task stopped.
        deadline = time.monotonic() + FREEZE_TIMEOUT
        delay = 0.0001
        while True:
            if self._events().get("frozen") == 1:
                return
            if time.monotonic() > deadline:
                raise SystemFailure(f"timeout after {FREEZE_TIMEOUT:g}s waiting for {self.folder} to freeze")
            time.sleep(delay)
            delay = min(delay * 2, 0.01)

    def thaw(self) -> None:
        try:
            fs.write_raw(self.folder, "cgroup.freeze", "0")
        except OSError as exc:
            raise SystemFailure(
                f"cannot thaw {self.folder}: {os.strerror(exc.errno or 0)}", exc.errno or 0
            ) from None

    def frozen(self) -> bool:
        state = fs.read_opt(self.folder, "cgroup.freeze")
        return state is not None and state.strip() == "1"

    def _events(self) -> dict[str, int]:
        return fs.read_keyed(self.folder, "cgroup.events")

    def kill_all(self, sig: int) -> None:
        if sig == SIGKILL and os.path.exists(os.path.join(self.folder, "cgroup.kill")):
            # cgroup.kill (Linux 5.14) kills the whole subtree atomically, new forks included,
            # and a v2-frozen task dies of SIGKILL without being thawed.
            try:
                fs.write_raw(self.folder, "cgroup.kill", "1")
                return
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    return  # the cgroup is gone: nothing left to kill
                raise
        has_freezer = fs.read_opt(self.folder, "cgroup.freeze") is not None
        was_frozen = has_freezer and self.frozen()
        use_freezer = has_freezer and not was_frozen
        if use_freezer:
            try:
                self.freeze()
            except SystemFailure:
                use_freezer = False
        try:
            signal_all(self.pids(), sig)
        finally:
            if use_freezer or (was_frozen and sig == SIGKILL):
                try:
                    self.thaw()
                except SystemFailure:
                    pass

    # ------------------------------------------------------------ resources

    def set_resources(self, resources: dict[str, Any]) -> None:
        res = resources or {}
        d = self.folder
        # runc's fs2 order: pids, memory, io, cpu, devices, cpuset, hugetlb, rdma, unified.
        # linux.resources.network has no v2 counterpart (net_cls/net_prio are v1 only): runc's
        # fs2 ignores it, so do we.
        if res.get("pids") is not None and "limit" in res["pids"]:
            limit = int(res["pids"]["limit"])
            fs.write(d, "pids.max", str(limit) if limit > 0 else "max", f"{P}.pids.limit")
        self._memory(res.get("memory") or {})
        self._io(res.get("blockIO") or {})
        self._cpu(res.get("cpu") or {})
        if res.get("devices"):
            from dockyard.runtime.cgroups import devices_bpf

            try:
                devices_bpf.apply(d, device_state(res["devices"]))
            except OSError as exc:
                raise SystemFailure(
                    f"{P}.devices: cannot install the device filter on {d}: {exc.strerror or exc}",
                    exc.errno or 0,
                ) from None
        cpu = res.get("cpu") or {}
        for key, name in (("cpus", "cpuset.cpus"), ("mems", "cpuset.mems")):
            if cpu.get(key):
                fs.write(d, name, str(cpu[key]), f"{P}.cpu.{key}")
        if res.get("hugepageLimits"):
            write_hugetlb(d, res["hugepageLimits"], ".max")
        if res.get("rdma"):
            write_rdma(d, res["rdma"])
        for key, value in (res.get("unified") or {}).items():
            self._unified(key, str(value))

    def _memory(self, mem: dict[str, Any]) -> None:
        # memory.swappiness and disableOOMKiller have no v2 file: runc 1.1's fs2 ignores them.
        f = f"{P}.memory"
        limit = int(mem.get("limit") or 0)
        swap = int(mem.get("swap") or 0)
        reservation = int(mem.get("reservation") or 0)
        if not (limit or swap or reservation):
            return
        d = self.folder
        swap_str = self._swap_max(swap, limit)
        if swap_str:
            try:
                fs.write_raw(d, "memory.swap.max", swap_str)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise fs.error(exc, d, "memory.swap.max", swap_str, f"{f}.swap") from None
                # No swap accounting (CONFIG_MEMCG_SWAP off, swapaccount=0): only a request for
                # no restriction may pass unnoticed.
                if swap_str not in ("max", "0"):
                    check_swap_without_accounting(swap, limit, "memory.swap.max")
        if limit:
            fs.write(d, "memory.max", "max" if limit == -1 else str(limit), f"{f}.limit")
        if reservation:
            fs.write(d, "memory.low", "max" if reservation == -1 else str(reservation), f"{f}.reservation")

    def _swap_max(self, swap: int, limit: int) -> str:
        """runc's ConvertMemorySwapToCgroupV2Value: v1's memory+swap becomes v2's swap alone."""
        f = f"{P}.memory.swap"
        if limit == -1 and swap == 0:
            return "max"  # unlimited memory with swap unset: swap unlimited too, as on v1
        if swap == -1:
            return "max"
        if swap == 0:
            return ""
        if limit == 0:
            # An update that changes only swap: measure it against the limit in force.
            current = fs.read_opt(self.folder, "memory.max")
            limit = -1 if current is None or current.strip() == "max" else int(current)
        if limit == -1:
            raise ConfigError(f, "unable to set swap limit without memory limit")
        if swap < limit:
            raise ConfigError(f, f"memory+swap limit {swap} should be >= memory limit {limit}")
        return str(swap - limit)

    def _io(self, bio: dict[str, Any]) -> None:
        f = f"{P}.blockIO"
        if not any(is_set(v) for v in bio.values()):
            return
        d = self.folder
        bfq = os.path.exists(os.path.join(d, "io.bfq.weight"))
        weight = int(bio.get("weight") or 0)
        if weight:
            if bfq:
                fs.write(d, "io.bfq.weight", str(weight), f"{f}.weight")
            else:
                fs.write(d, "io.weight", str(blkio_to_io_weight(weight)), f"{f}.weight")
        if bfq:
            # Per-device weights exist only with BFQ; without it runc drops them silently.
            for i, wd in enumerate(bio.get("weightDevice") or []):
                if wd.get("weight"):
                    line = f"{wd['major']}:{wd['minor']} {wd['weight']}"
                    fs.write(d, "io.bfq.weight", line, f"{f}.weightDevice[{i}].weight")
        for key, op in (
            ("throttleReadBpsDevice", "rbps"),
            ("throttleWriteBpsDevice", "wbps"),
            ("throttleReadIOPSDevice", "riops"),
            ("throttleWriteIOPSDevice", "wiops"),
        ):
            for i, td in enumerate(bio.get(key) or []):
                fs.write(d, "io.max", f"{td['major']}:{td['minor']} {op}={td['rate']}", f"{f}.{key}[{i}]")

    def _cpu(self, cpu: dict[str, Any]) -> None:
        # realtimeRuntime/realtimePeriod: cgroup v2 has no RT bandwidth files; runc's fs2 drops them.
        f = f"{P}.cpu"
        d = self.folder
        shares = int(cpu.get("shares") or 0)
        if shares:
            fs.write(d, "cpu.weight", str(shares_to_weight(shares)), f"{f}.shares")
        quota = int(cpu.get("quota") or 0)
        period = int(cpu.get("period") or 0)
        if quota or period:
            if quota == 0:
                # Only the period changes: keep the quota in force (cpu.max is "QUOTA PERIOD").
                current = (fs.read_opt(d, "cpu.max") or "max").split()
                value = current[0] if current else "max"
            else:
                value = str(quota) if quota > 0 else "max"
            if period:
                value += f" {period}"
            fs.write(d, "cpu.max", value, f"{f}.quota")
        if cpu.get("burst") is not None:
            fs.write(d, "cpu.max.burst", str(int(cpu["burst"])), f"{f}.burst")
        if cpu.get("idle") is not None:
            fs.write(d, "cpu.idle", str(int(cpu["idle"])), f"{f}.idle")

    def _unified(self, key: str, value: str) -> None:
        field = f"{P}.unified.{key}"
        if "/" in key:
            raise ConfigError(field, "must be a file name in the cgroup folder (no slashes)")
        try:
            fs.write_raw(self.folder, key, value)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.EPERM, errno.EACCES):
                controller = key.split(".", 1)[0]
                if controller != "cgroup" and controller not in self.available():
                    raise ConfigError(
                        field, f"cannot be set: controller {controller!r} is not available in {self.mount}"
                    ) from None
                if exc.errno == errno.ENOENT:
                    raise ConfigError(
                        field, f"{os.path.join(self.folder, key)} does not exist: no such cgroup v2 file here"
                    ) from None
            raise fs.error(exc, self.folder, key, value, field) from None

    # ------------------------------------------------------------ stats

    def stats(self) -> dict[str, Any]:
        from dockyard.runtime.cgroups.stats import collect_v2

        return collect_v2(self.folder)
