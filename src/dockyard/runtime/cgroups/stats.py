"""The shape of ``runc events --stats`` ``data`` (runc 1.1 types/events.go), built from dicts.

runc marshals Go structs whose fields carry ``omitempty``: a zero number, an empty list or map is
left out, a nested struct never is. These helpers drop exactly the fields runc drops, so a
consumer comparing our JSON with runc's (containerd, tests) sees the same keys. The layout was
read back from runc 1.1.5's own output on this host.
"""

from __future__ import annotations

import os

from dockyard.runtime.cgroups import fs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _omit(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    """``d`` without those of ``keys`` whose value is Go's zero value."""
    return {k: v for k, v in d.items() if k not in keys or v not in (0, "", None, [], {})}


def cpu(
    total: int = 0,
    percpu: list[int] | None = None,
    percpu_kernel: list[int] | None = None,
    percpu_user: list[int] | None = None,
    kernel: int = 0,
    user: int = 0,
    periods: int = 0,
    throttled_periods: int = 0,
    throttled_time: int = 0,
) -> dict[str, Any]:
    usage = _omit(
        {
            "total": total,
            "percpu": percpu or [],
            "percpu_kernel": percpu_kernel or [],
            "percpu_user": percpu_user or [],
            "kernel": kernel,
            "user": user,
        },
        "total",
        "percpu",
        "percpu_kernel",
        "percpu_user",
    )
    throttling = _omit(
        {"periods": periods, "throttledPeriods": throttled_periods, "throttledTime": throttled_time},
        "periods",
        "throttledPeriods",
        "throttledTime",
    )
    return {"usage": usage, "throttling": throttling}


CPUSET_FIELDS = (
    ("cpu_exclusive", "cpuset.cpu_exclusive"),
    ("mem_hardwall", "cpuset.mem_hardwall"),
    ("mem_exclusive", "cpuset.mem_exclusive"),
    ("memory_migrate", "cpuset.memory_migrate"),
    ("memory_spread_page", "cpuset.memory_spread_page"),
    ("memory_spread_slab", "cpuset.memory_spread_slab"),
    ("memory_pressure", "cpuset.memory_pressure"),
    ("sched_load_balance", "cpuset.sched_load_balance"),
    ("sched_relax_domain_level", "cpuset.sched_relax_domain_level"),
)


def cpuset(cpus: list[int] | None = None, mems: list[int] | None = None, **values: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if cpus:
        out["cpus"] = cpus
    out["cpu_exclusive"] = values.get("cpu_exclusive", 0)
    if mems:
        out["mems"] = mems
    for key, _file in CPUSET_FIELDS[1:]:
        out[key] = values.get(key, 0)
    return out


def memory_entry(limit: int = 0, usage: int = 0, max_usage: int = 0, failcnt: int = 0) -> dict[str, Any]:
    return _omit({"limit": limit, "usage": usage, "max": max_usage, "failcnt": failcnt}, "usage", "max")


def memory(
    cache: int = 0,
    usage: dict[str, Any] | None = None,
    swap: dict[str, Any] | None = None,
    kernel: dict[str, Any] | None = None,
    kernel_tcp: dict[str, Any] | None = None,
    raw: dict[str, int] | None = None,
) -> dict[str, Any]:
    return _omit(
        {
            "cache": cache,
            "usage": usage or memory_entry(),
            "swap": swap or memory_entry(),
            "kernel": kernel or memory_entry(),
            "kernelTCP": kernel_tcp or memory_entry(),
            "raw": dict(sorted((raw or {}).items())),
        },
        "cache",
        "raw",
    )


def pids(current: int = 0, limit: int = 0) -> dict[str, Any]:
    return _omit({"current": current, "limit": limit}, "current", "limit")


def blkio_entry(major: int, minor: int, op: str, value: int) -> dict[str, Any]:
    return _omit({"major": major, "minor": minor, "op": op, "value": value}, "major", "minor", "op", "value")


BLKIO_KEYS = (
    "ioServiceBytesRecursive",
    "ioServicedRecursive",
    "ioQueueRecursive",
    "ioServiceTimeRecursive",
    "ioWaitTimeRecursive",
    "ioMergedRecursive",
    "ioTimeRecursive",
    "sectorsRecursive",
)


def blkio(lists: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {k: lists[k] for k in BLKIO_KEYS if lists.get(k)}


def hugetlb_entry(usage: int = 0, max_usage: int = 0, failcnt: int = 0) -> dict[str, Any]:
    return _omit({"usage": usage, "max": max_usage, "failcnt": failcnt}, "usage", "max")


def data(
    cpu_: dict[str, Any] | None = None,
    cpuset_: dict[str, Any] | None = None,
    memory_: dict[str, Any] | None = None,
    pids_: dict[str, Any] | None = None,
    blkio_: dict[str, Any] | None = None,
    hugetlb_: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "cpu": cpu_ or cpu(),
        "cpuset": cpuset_ or cpuset(),
        "memory": memory_ or memory(),
        "pids": pids_ or pids(),
        "blkio": blkio_ or {},
        "hugetlb": hugetlb_ or {},
        "intel_rdt": {},
        "network_interfaces": None,
    }


# ---------------------------------------------------------------- cgroup v1


def collect_v1(dirs: dict[str, str]) -> dict[str, Any]:
    """Stats of a v1 container whose hierarchy folders are ``dirs`` (name -> folder)."""

    def folder(name: str) -> str | None:
        d = dirs.get(name)
        return d if d and os.path.isdir(d) else None

    return data(
        v1_cpu(folder("cpuacct"), folder("cpu")),
        v1_cpuset(folder("cpuset")),
        v1_memory(folder("memory")),
        v1_pids(folder("pids")),
        v1_blkio(folder("blkio")),
        v1_hugetlb(folder("hugetlb")),
    )


def v1_cpu(acct: str | None, cpu_dir: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if acct:
        values["total"] = fs.read_uint(acct, "cpuacct.usage")
        values["percpu"] = [
            fs.parse_uint(x) for x in (fs.read_opt(acct, "cpuacct.usage_percpu") or "").split()
        ]
        kernel_pc: list[int] = []
        user_pc: list[int] = []
        for line in (fs.read_opt(acct, "cpuacct.usage_all") or "").splitlines()[1:]:
            parts = line.split()  # "cpu user system", times in ns
            if len(parts) == 3:
                user_pc.append(fs.parse_uint(parts[1]))
                kernel_pc.append(fs.parse_uint(parts[2]))
        values["percpu_kernel"] = kernel_pc
        values["percpu_user"] = user_pc
        # cpuacct.stat counts USER_HZ ticks, which the kernel ABI fixes at 100 per second.
        ticks = fs.read_keyed(acct, "cpuacct.stat")
        values["user"] = ticks.get("user", 0) * 10_000_000
        values["kernel"] = ticks.get("system", 0) * 10_000_000
    if cpu_dir:
        st = fs.read_keyed(cpu_dir, "cpu.stat")
        values["periods"] = st.get("nr_periods", 0)
        values["throttled_periods"] = st.get("nr_throttled", 0)
        values["throttled_time"] = st.get("throttled_time", 0)
    return cpu(**values)


def v1_cpuset(folder: str | None) -> dict[str, Any]:
    if not folder:
        return cpuset()
    values = {}
    for key, name in CPUSET_FIELDS:
        text = fs.read_opt(folder, name)
        try:
            values[key] = int(text.strip()) if text else 0
        except ValueError:
            values[key] = 0
    return cpuset(
        fs.parse_list(fs.read_opt(folder, "cpuset.cpus") or ""),
        fs.parse_list(fs.read_opt(folder, "cpuset.mems") or ""),
        **values,
    )


def v1_memory(folder: str | None) -> dict[str, Any]:
    if not folder:
        return memory()
    raw = fs.read_keyed(folder, "memory.stat")

    def entry(prefix: str) -> dict[str, Any]:
        # memory.memsw.* is missing without swap accounting and memory.kmem.limit_in_bytes since
        # Linux 6.1: a missing file reads as 0, as runc (1.1.10) reports it.
        return memory_entry(
            fs.read_uint(folder, f"{prefix}.limit_in_bytes"),
            fs.read_uint(folder, f"{prefix}.usage_in_bytes"),
            fs.read_uint(folder, f"{prefix}.max_usage_in_bytes"),
            fs.read_uint(folder, f"{prefix}.failcnt"),
        )

    return memory(
        raw.get("cache", 0),
        entry("memory"),
        entry("memory.memsw"),
        entry("memory.kmem"),
        entry("memory.kmem.tcp"),
        raw,
    )


def v1_pids(folder: str | None) -> dict[str, Any]:
    if not folder:
        return pids()
    limit = fs.read_uint(folder, "pids.max")
    return pids(fs.read_uint(folder, "pids.current"), 0 if limit == fs.MAX_UINT64 else limit)


def v1_hugetlb(folder: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not folder:
        return out
    for size in fs.hugepage_sizes():
        prefix = f"hugetlb.{size}"
        if fs.read_opt(folder, f"{prefix}.usage_in_bytes") is None:
            continue
        out[size] = hugetlb_entry(
            fs.read_uint(folder, f"{prefix}.usage_in_bytes"),
            fs.read_uint(folder, f"{prefix}.max_usage_in_bytes"),
            fs.read_uint(folder, f"{prefix}.failcnt"),
        )
    return out


def _blkio_file(folder: str, name: str) -> list[dict[str, Any]] | None:
    """Entries of a blkio stat file ("8:0 Read 1282048" or "8:0 1234"); None if absent or empty."""
    text = fs.read_opt(folder, name)
    if text is None:
        return None
    out = []
    for line in text.splitlines():
        fields = line.replace(":", " ").split()
        if len(fields) < 3:
            continue  # "Total N"
        try:
            major, minor = int(fields[0]), int(fields[1])
            op, value = ("", int(fields[2])) if len(fields) == 3 else (fields[2], int(fields[3]))
        except ValueError:
            continue
        out.append(blkio_entry(major, minor, op, value))
    return out or None


# runc's order of blkio stat sources (BFQ with debug stats, BFQ, CFQ, throttle recursive,
# throttle): the first group whose first file has data is used.
_BLKIO_GROUPS: tuple[tuple[tuple[str, str], ...], ...] = (
    (
        ("blkio.bfq.sectors_recursive", "sectorsRecursive"),
        ("blkio.bfq.io_service_time_recursive", "ioServiceTimeRecursive"),
        ("blkio.bfq.io_wait_time_recursive", "ioWaitTimeRecursive"),
        ("blkio.bfq.io_merged_recursive", "ioMergedRecursive"),
        ("blkio.bfq.io_queued_recursive", "ioQueueRecursive"),
        ("blkio.bfq.time_recursive", "ioTimeRecursive"),
        ("blkio.bfq.io_serviced_recursive", "ioServicedRecursive"),
        ("blkio.bfq.io_service_bytes_recursive", "ioServiceBytesRecursive"),
    ),
    (
        ("blkio.bfq.io_serviced_recursive", "ioServicedRecursive"),
        ("blkio.bfq.io_service_bytes_recursive", "ioServiceBytesRecursive"),
    ),
    (
        ("blkio.sectors_recursive", "sectorsRecursive"),
        ("blkio.io_service_time_recursive", "ioServiceTimeRecursive"),
        ("blkio.io_wait_time_recursive", "ioWaitTimeRecursive"),
        ("blkio.io_merged_recursive", "ioMergedRecursive"),
        ("blkio.io_queued_recursive", "ioQueueRecursive"),
        ("blkio.time_recursive", "ioTimeRecursive"),
        ("blkio.io_serviced_recursive", "ioServicedRecursive"),
        ("blkio.io_service_bytes_recursive", "ioServiceBytesRecursive"),
    ),
    (
        ("blkio.throttle.io_serviced_recursive", "ioServicedRecursive"),
        ("blkio.throttle.io_service_bytes_recursive", "ioServiceBytesRecursive"),
    ),
    (
        ("blkio.throttle.io_serviced", "ioServicedRecursive"),
        ("blkio.throttle.io_service_bytes", "ioServiceBytesRecursive"),
    ),
)


def v1_blkio(folder: str | None) -> dict[str, Any]:
    out: dict[str, list[dict[str, Any]]] = {}
    if not folder:
        return {}
    for group in _BLKIO_GROUPS:
        for i, (name, key) in enumerate(group):
            entries = _blkio_file(folder, name)
            if entries is None:
                if i == 0:
                    break  # this source does not exist here: try the next one
                return blkio(out)
            out[key] = entries
            if i == len(group) - 1:
                return blkio(out)
    return blkio(out)


# ---------------------------------------------------------------- cgroup v2


def collect_v2(folder: str) -> dict[str, Any]:
    """Stats of a v2 cgroup, as runc 1.1's fs2 reports them (no cpuset part)."""
    return data(v2_cpu(folder), None, v2_memory(folder), v2_pids(folder), v2_io(folder), v2_hugetlb(folder))


def v2_cpu(folder: str) -> dict[str, Any]:
    st = fs.read_keyed(folder, "cpu.stat")
    return cpu(
        total=st.get("usage_usec", 0) * 1000,
        user=st.get("user_usec", 0) * 1000,
        kernel=st.get("system_usec", 0) * 1000,
        periods=st.get("nr_periods", 0),
        throttled_periods=st.get("nr_throttled", 0),
        throttled_time=st.get("throttled_usec", 0) * 1000,
    )


def v2_memory(folder: str) -> dict[str, Any]:
    if fs.read_opt(folder, "memory.stat") is None:
        return memory()  # the memory controller is not enabled for this cgroup
    raw = fs.read_keyed(folder, "memory.stat")
    usage = fs.read_uint(folder, "memory.current")
    limit = fs.read_uint(folder, "memory.max")
    swap_usage = fs.read_uint(folder, "memory.swap.current")
    swap_limit = fs.read_uint(folder, "memory.swap.max")
    # v1 reports swap as memory+swap; runc adds memory to v2's swap-only numbers to match.
    swap_usage += usage
    if swap_limit != fs.MAX_UINT64:
        swap_limit = min(swap_limit + limit, fs.MAX_UINT64)
    return memory(
        raw.get("file", 0),
        memory_entry(limit, usage),
        memory_entry(swap_limit, swap_usage),
        None,
        None,
        raw,
    )


def v2_pids(folder: str) -> dict[str, Any]:
    if fs.read_opt(folder, "pids.current") is None:
        # Without the pids controller runc counts cgroup.procs and reports no limit.
        return pids(len(fs.procs(folder)), 0)
    limit = fs.read_uint(folder, "pids.max")
    return pids(fs.read_uint(folder, "pids.current"), 0 if limit == fs.MAX_UINT64 else limit)


_IO_KEYS = {
    "rbytes": ("ioServiceBytesRecursive", "Read"),
    "wbytes": ("ioServiceBytesRecursive", "Write"),
    "rios": ("ioServicedRecursive", "Read"),
    "wios": ("ioServicedRecursive", "Write"),
}


def v2_io(folder: str) -> dict[str, Any]:
    text = fs.read_opt(folder, "io.stat")
    if not text:
        return {}
    lists: dict[str, list[dict[str, Any]]] = {"ioServiceBytesRecursive": [], "ioServicedRecursive": []}
    for line in text.splitlines():
        # "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0"
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major_s, _, minor_s = parts[0].partition(":")
        try:
            major, minor = int(major_s), int(minor_s)
        except ValueError:
            continue
        for item in parts[1:]:
            key, _, value = item.partition("=")
            target = _IO_KEYS.get(key)
            if target is None or not value.isdigit():
                continue
            lists[target[0]].append(blkio_entry(major, minor, target[1], int(value)))
    return blkio(lists)


def v2_hugetlb(folder: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for size in fs.hugepage_sizes():
        prefix = f"hugetlb.{size}"
        if fs.read_opt(folder, f"{prefix}.current") is None:
            return {}  # the hugetlb controller is not enabled here (runc: stats stay empty)
        out[size] = hugetlb_entry(
            fs.read_uint(folder, f"{prefix}.current"),
            0,
            fs.read_keyed(folder, f"{prefix}.events").get("max", 0),
        )
    return out
