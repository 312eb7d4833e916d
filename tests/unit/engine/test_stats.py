"""Container stats from a real cgroup and network namespace of a busybox container."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from dockyard.engine.stats import (
    ZERO_TIME,
    blank_stats,
    cgroup_dirs,
    machine_memory,
    read_stats,
    stats_from_cgroups,
    stream_stats,
)
from tests.conftest import BundleFactory, Runtime
from tests.unit.engine.test_exec import start_box

# A busy loop for a moment, then a file of 8 MiB in a tmpfs: CPU time and memory to see.
WORKLOAD = ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; "
            "head -c 8388608 /dev/zero > /dev/shm/fill; sleep 1000 & wait"]  # fmt: skip
LIMITS = {"linux": {"resources": {"memory": {"limit": 256 * 1024 * 1024}, "pids": {"limit": 50}}}}


def _wait_for(pred: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.mark.parametrize("runtime", ["dockyard", "runc"], indirect=True)
def test_stats_of_a_running_container(runtime: Runtime, bundle: BundleFactory) -> None:
    box = start_box(runtime, bundle, WORKLOAD, **LIMITS)
    # A link in the container's own network namespace, so there is an interface to count.
    subprocess.run(
        [
            "nsenter",
            "-t",
            str(box.pid),
            "-n",
            "ip",
            "link",
            "add",
            "dy0",
            "type",
            "veth",
            "peer",
            "name",
            "dy1",
        ],
        check=True,
        timeout=10,
    )
    version, dirs = cgroup_dirs(box.pid)
    assert version == "v1" and "memory" in dirs

    def memory_used() -> bool:
        usage: int = read_stats(box.pid, None, container_id=box.cid, name="box")["memory_stats"]["usage"]
        return usage > 8 << 20

    _wait_for(memory_used)
    first = read_stats(box.pid, None, container_id=box.cid, name="box")
    second = read_stats(box.pid, first, container_id=box.cid, name="box")
    assert second["name"] == "/box" and second["id"] == box.cid
    assert second["preread"] == first["read"] and second["read"] >= first["read"]
    assert second["precpu_stats"] == first["cpu_stats"]
    cpu = second["cpu_stats"]
    assert cpu["cpu_usage"]["total_usage"] > 0
    assert sum(cpu["cpu_usage"]["percpu_usage"]) == cpu["cpu_usage"]["total_usage"]
    assert cpu["system_cpu_usage"] > 0 and cpu["online_cpus"] >= 1
    assert set(cpu["throttling_data"]) == {"periods", "throttled_periods", "throttled_time"}
    mem = second["memory_stats"]
    assert mem["limit"] == 256 * 1024 * 1024
    assert mem["usage"] > 8 << 20 and mem["max_usage"] >= mem["usage"]
    assert "cache" in mem["stats"] and "failcnt" in mem
    assert second["pids_stats"] == {"current": 2, "limit": 50}
    # Both ends live (and die) in the container's namespace; lo is left out, as dockerd does.
    assert set(second["networks"]) == {"dy0", "dy1"}
    assert second["networks"]["dy0"] == {
        "rx_bytes": 0, "rx_packets": 0, "rx_errors": 0, "rx_dropped": 0,
        "tx_bytes": 0, "tx_packets": 0, "tx_errors": 0, "tx_dropped": 0,
    }  # fmt: skip
    assert set(second["blkio_stats"]) == {
        "io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
        "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
        "io_time_recursive", "sectors_recursive",
    }  # fmt: skip
    assert second["num_procs"] == 0 and second["storage_stats"] == {}


def test_stats_of_a_stopped_container() -> None:
    doc = blank_stats("abc", "box")
    assert read_stats(None, None, container_id="abc", name="box") == doc
    assert doc["read"] == ZERO_TIME and doc["name"] == "/box" and doc["memory_stats"] == {}
    assert doc["cpu_stats"]["cpu_usage"] == {
        "total_usage": 0,
        "usage_in_kernelmode": 0,
        "usage_in_usermode": 0,
    }
    # A pid that is gone reads as stopped too.
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert read_stats(proc.pid, None, container_id="abc", name="box")["read"] == ZERO_TIME


@pytest.mark.parametrize("runtime", ["dockyard"], indirect=True)
def test_stream_stats(runtime: Runtime, bundle: BundleFactory) -> None:
    box = start_box(runtime, bundle)
    pid: list[int | None] = [box.pid]

    async def main() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        def get_pid() -> int | None:
            return pid[0]

        one = [
            s async for s in stream_stats(get_pid, container_id=box.cid, name="b", stream=False, interval=0.1)
        ]
        shot = [
            s
            async for s in stream_stats(get_pid, container_id=box.cid, name="b", stream=False, one_shot=True)
        ]
        streamed: list[dict[str, Any]] = []
        async for s in stream_stats(get_pid, container_id=box.cid, name="b", stream=True, interval=0.05):
            streamed.append(s)
            if len(streamed) == 3:
                pid[0] = None  # the container stopped: one blank sample ends the stream
        return one, shot, streamed

    one, shot, streamed = asyncio.run(main())
    assert len(one) == 1 and one[0]["preread"] != ZERO_TIME  # precpu filled for CPU %
    assert len(shot) == 1 and shot[0]["preread"] == ZERO_TIME
    assert len(streamed) == 4 and streamed[-1]["read"] == ZERO_TIME
    assert streamed[2]["preread"] == streamed[1]["read"]


def test_stats_from_a_cgroup_v2_folder(tmp_path: Path) -> None:
    # This host's cgroup2 hierarchy has no controllers: a v2 container's folder, as runc's
    # fs2 reads it, is written out here.
    files = {
        "cpu.stat": "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\n"
        "throttled_usec 30\n",
        "memory.current": "10485760\n",
        "memory.max": "max\n",
        "memory.stat": "anon 4096\nfile 8192\ninactive_file 1024\n",
        "memory.swap.current": "0\n",
        "memory.swap.max": "max\n",
        "pids.current": "3\n",
        "pids.max": "64\n",
        "io.stat": "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
        "cgroup.procs": "",
    }
    for fname, text in files.items():
        (tmp_path / fname).write_text(text)
    doc = stats_from_cgroups("v2", {"": str(tmp_path)}, None, container_id="c", name="n")
    usage = doc["cpu_stats"]["cpu_usage"]
    assert usage == {"total_usage": 2_500_000, "usage_in_kernelmode": 500_000, "usage_in_usermode": 2_000_000}
    assert doc["cpu_stats"]["throttling_data"] == {
        "periods": 4,
        "throttled_periods": 1,
        "throttled_time": 30_000,
    }
    mem = doc["memory_stats"]
    assert mem["usage"] == 10485760 and mem["stats"]["inactive_file"] == 1024
    assert "max_usage" not in mem and "failcnt" not in mem  # v1-only fields, as dockerd on v2
    assert mem["limit"] == machine_memory()  # no limit: the host's memory
    assert doc["pids_stats"] == {"current": 3, "limit": 64}
    assert doc["blkio_stats"]["io_service_bytes_recursive"] == [
        {"major": 8, "minor": 0, "op": "read", "value": 100},
        {"major": 8, "minor": 0, "op": "write", "value": 200},
    ]
    assert doc["blkio_stats"]["io_serviced_recursive"] == [
        {"major": 8, "minor": 0, "op": "read", "value": 1},
        {"major": 8, "minor": 0, "op": "write", "value": 2},
    ]
