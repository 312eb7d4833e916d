"""Container stats: Docker's ``StatsJSON`` from the cgroups and network namespace of the init.

The container's cgroups are found from ``/proc/<pid>/cgroup`` (so any OCI runtime's layout
works) and read with the runtime's own readers (:mod:`dockyard.runtime.cgroups.stats`, runc's
numbers); this module turns them into what dockerd reports (daemon/stats_unix.go):

- cgroup v1: cpu total/percpu/kernel/user, memory usage, max_usage, failcnt, memory.stat raw;
- cgroup v2: cpu total/kernel/user (no per-cpu numbers), memory usage and memory.stat raw,
  blkio ops lower-cased ("read"), as dockerd does for v2;
- a memory limit above the host's memory (no limit) reads as the host's memory;
- ``system_cpu_usage`` is the host's /proc/stat "cpu" line in nanoseconds (USER_HZ is 100),
  the denominator the docker CLI uses for CPU %;
- ``networks`` lists the interfaces of the container's network namespace but lo, from
  /proc/<pid>/net/dev; a container in the host's namespace has none, as with dockerd.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from dockyard.runtime.cgroups import stats as cgstats
from dockyard.runtime.cgroups.layout import CgroupLayout, detect_layout

ZERO_TIME = "0001-01-01T00:00:00Z"
_NANOS_PER_TICK = 10_000_000  # the kernel ABI fixes USER_HZ at 100
_BLKIO_KEYS = (
    ("ioServiceBytesRecursive", "io_service_bytes_recursive"),
    ("ioServicedRecursive", "io_serviced_recursive"),
    ("ioQueueRecursive", "io_queue_recursive"),
    ("ioServiceTimeRecursive", "io_service_time_recursive"),
    ("ioWaitTimeRecursive", "io_wait_time_recursive"),
    ("ioMergedRecursive", "io_merged_recursive"),
    ("ioTimeRecursive", "io_time_recursive"),
    ("sectorsRecursive", "sectors_recursive"),
)
_NET_FIELDS = (
    "rx_bytes", "rx_packets", "rx_errors", "rx_dropped", None, None, None, None,
    "tx_bytes", "tx_packets", "tx_errors", "tx_dropped",
)  # fmt: skip
_layout: CgroupLayout | None = None


def _host_layout() -> CgroupLayout:
    global _layout
    if _layout is None:
        _layout = detect_layout()
    return _layout


def go_time_now() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}000Z"


def machine_memory() -> int:
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def system_cpu_usage() -> int:
    """Nanoseconds of CPU time the host has spent (busy or idle), as dockerd computes it."""
    with open("/proc/stat", encoding="ascii") as f:
        for line in f:
            if line.startswith("cpu "):
                return sum(int(x) for x in line.split()[1:8]) * _NANOS_PER_TICK
    return 0


def online_cpus() -> int:
    return int(os.sysconf("SC_NPROCESSORS_ONLN"))


def cgroup_dirs(pid: int, layout: CgroupLayout | None = None) -> tuple[str, dict[str, str]]:
    """("v1", {controller: folder}) or ("v2", {"": folder}) for the cgroups of ``pid``."""
    lay = layout or _host_layout()
    own: dict[str, str] = {}
    with open(f"/proc/{pid}/cgroup", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            parts = line.rstrip("\n").split(":", 2)
            if len(parts) != 3:
                continue
            for name in parts[1].split(",") if parts[1] else [""]:
                own[name] = parts[2]

    def folder(mountpoint: str, path: str) -> str:
        root = lay.roots.get(mountpoint, "/")
        if root not in ("", "/") and (path == root or path.startswith(root.rstrip("/") + "/")):
            path = path[len(root.rstrip("/")) :] or "/"
        return os.path.normpath(mountpoint + path) if path != "/" else mountpoint

    v1 = {name: folder(point, own[name]) for name, point in lay.v1.items() if name in own}
    if "memory" in v1 or "cpuacct" in v1:
        return "v1", v1
    if lay.unified is not None and "" in own:
        return "v2", {"": folder(lay.unified, own[""])}
    return "v1", v1


def network_stats(pid: int) -> dict[str, dict[str, int]] | None:
    """Counters of the interfaces in ``pid``'s network namespace but lo; None in the host's."""
    try:
        if os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat("/proc/self/ns/net").st_ino:
            return None
        with open(f"/proc/{pid}/net/dev", encoding="ascii") as f:
            lines = f.read().splitlines()[2:]
    except OSError:
        return None
    out: dict[str, dict[str, int]] = {}
    for line in lines:
        name, _, rest = line.partition(":")
        name = name.strip()
        if not name or name == "lo":
            continue
        values = rest.split()
        out[name] = {key: int(values[i]) for i, key in enumerate(_NET_FIELDS) if key and i < len(values)}
    return out


def _zero_cpu() -> dict[str, Any]:
    return {
        "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    }


def blank_stats(container_id: str, name: str) -> dict[str, Any]:
    """What dockerd sends for a container that is not running."""
    return {
        "read": ZERO_TIME,
        "preread": ZERO_TIME,
        "pids_stats": {},
        "blkio_stats": {key: None for _, key in _BLKIO_KEYS},
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": _zero_cpu(),
        "precpu_stats": _zero_cpu(),
        "memory_stats": {},
        "name": name if name.startswith("/") else "/" + name,
        "id": container_id,
    }


def _cpu_stats(data: dict[str, Any], v2: bool) -> dict[str, Any]:
    usage = data["cpu"].get("usage", {})
    throttling = data["cpu"].get("throttling", {})
    cpu_usage: dict[str, Any] = {"total_usage": usage.get("total", 0)}
    if not v2 and usage.get("percpu"):
        cpu_usage["percpu_usage"] = usage["percpu"]
    cpu_usage["usage_in_kernelmode"] = usage.get("kernel", 0)
    cpu_usage["usage_in_usermode"] = usage.get("user", 0)
    out: dict[str, Any] = {
        "cpu_usage": cpu_usage,
        "system_cpu_usage": system_cpu_usage(),
        "online_cpus": online_cpus(),
        "throttling_data": {
            "periods": throttling.get("periods", 0),
            "throttled_periods": throttling.get("throttledPeriods", 0),
            "throttled_time": throttling.get("throttledTime", 0),
        },
    }
    return out


def _memory_stats(data: dict[str, Any], v2: bool) -> dict[str, Any]:
    mem = data["memory"]
    usage = mem.get("usage", {})
    limit = usage.get("limit", 0)
    host = machine_memory()
    if host and limit > host:
        limit = host  # no limit: dockerd reports the machine's memory
    out: dict[str, Any] = {"usage": usage.get("usage", 0)}
    if not v2:
        out["max_usage"] = usage.get("max", 0)
    out["stats"] = dict(mem.get("raw", {}))
    if not v2:
        out["failcnt"] = usage.get("failcnt", 0)
    out["limit"] = limit
    return out


def _blkio_stats(data: dict[str, Any], v2: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for runc_key, key in _BLKIO_KEYS:
        entries = data["blkio"].get(runc_key)
        if not entries:
            out[key] = None
            continue
        out[key] = [
            {
                "major": e.get("major", 0),
                "minor": e.get("minor", 0),
                "op": e.get("op", "").lower() if v2 else e.get("op", ""),
                "value": e.get("value", 0),
            }
            for e in entries
        ]
    return out


def read_stats(
    pid: int | None,
    previous: dict[str, Any] | None,
    *,
    container_id: str,
    name: str,
) -> dict[str, Any]:
    """One stats sample of the container whose init is ``pid``; ``previous`` (the last sample)
    gives ``precpu_stats`` and ``preread``. A ``pid`` of None (or one that is gone) gives the
    blank sample of a stopped container."""
    if not pid:
        return blank_stats(container_id, name)
    try:
        version, dirs = cgroup_dirs(pid)
    except (FileNotFoundError, ProcessLookupError):
        return blank_stats(container_id, name)
    doc = stats_from_cgroups(version, dirs, previous, container_id=container_id, name=name)
    nets = network_stats(pid)
    if nets:
        doc["networks"] = nets  # omitted when empty (Go's omitempty): --network none or host
    return doc


def stats_from_cgroups(
    version: str,
    dirs: dict[str, str],
    previous: dict[str, Any] | None,
    *,
    container_id: str,
    name: str,
) -> dict[str, Any]:
    """The sample from cgroup folders: ``("v1", {controller: folder})`` or ``("v2", {"": folder})``."""
    v2 = version == "v2"
    data = cgstats.collect_v2(dirs[""]) if v2 else cgstats.collect_v1(dirs)
    pids = data["pids"]
    pids_stats: dict[str, Any] = {"current": pids.get("current", 0)}
    if pids.get("limit"):
        pids_stats["limit"] = pids["limit"]  # omitted when unlimited (Go's omitempty)
    return {
        "read": go_time_now(),
        "preread": previous["read"] if previous else ZERO_TIME,
        "pids_stats": pids_stats,
        "blkio_stats": _blkio_stats(data, v2),
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": _cpu_stats(data, v2),
        "precpu_stats": previous["cpu_stats"] if previous else _zero_cpu(),
        "memory_stats": _memory_stats(data, v2),
        "name": name if name.startswith("/") else "/" + name,
        "id": container_id,
    }


async def stream_stats(
    get_pid: Callable[[], int | None],
    *,
    container_id: str,
    name: str,
    stream: bool,
    one_shot: bool = False,
    interval: float = 1.0,
) -> AsyncIterator[dict[str, Any]]:
    """Samples as GET /containers/{id}/stats sends them.

    ``stream``: one per ``interval`` until the client leaves (or the container stops: the last
    sample is then the blank one). Not streaming: one sample, taken after a first one an
    ``interval`` earlier so that precpu_stats is filled (what the docker CLI's ``--no-stream``
    relies on for CPU %), or at once with ``one_shot`` (API >= 1.41).
    """
    loop = asyncio.get_running_loop()

    def sample(prev: dict[str, Any] | None) -> dict[str, Any]:
        return read_stats(get_pid(), prev, container_id=container_id, name=name)

    prev: dict[str, Any] | None = None
    if not stream:
        if one_shot or not get_pid():
            yield await loop.run_in_executor(None, sample, None)
            return
        prev = await loop.run_in_executor(None, sample, None)
        await asyncio.sleep(interval)
        yield await loop.run_in_executor(None, sample, prev)
        return
    while True:
        current = await loop.run_in_executor(None, sample, prev)
        yield current
        if current["read"] == ZERO_TIME:
            return
        prev = current
        await asyncio.sleep(interval)
