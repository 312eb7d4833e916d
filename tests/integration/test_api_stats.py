"""GET /containers/{id}/stats through docker-py, against the engine served in-process: the
fields the docker CLI computes CPU % and memory from, streamed and one-shot, running and not."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.engine.inproc_daemon import InprocDaemon

pytestmark = pytest.mark.root

# moby api/swagger.yaml, ContainerStatsResponse (networks only with a network namespace).
STATS_FIELDS = {
    "name", "id", "read", "preread", "pids_stats", "blkio_stats", "num_procs", "storage_stats",
    "cpu_stats", "precpu_stats", "memory_stats", "networks",
}  # fmt: skip


@pytest.fixture(scope="module")
def daemon() -> Iterator[InprocDaemon]:
    with InprocDaemon() as d:
        yield d


@pytest.fixture
def client(daemon: InprocDaemon) -> Iterator[Any]:
    c = daemon.client()
    try:
        yield c
    finally:
        c.close()


def test_stats_of_a_running_container(client: Any) -> None:
    c = client.containers.run("busybox", ["sleep", "1000"], detach=True, mem_limit="64m", name="statbox")
    try:
        doc = c.stats(stream=False)
        assert set(doc) == STATS_FIELDS
        assert doc["name"] == "/statbox" and doc["id"] == c.id
        assert doc["preread"] != "0001-01-01T00:00:00Z"  # two samples: CPU % can be computed
        cpu, pre = doc["cpu_stats"], doc["precpu_stats"]
        assert cpu["system_cpu_usage"] > pre["system_cpu_usage"] > 0
        assert cpu["cpu_usage"]["total_usage"] >= pre["cpu_usage"]["total_usage"] > 0
        assert cpu["online_cpus"] >= 1
        assert doc["memory_stats"]["limit"] == 64 * 1024 * 1024 and doc["memory_stats"]["usage"] > 0
        assert doc["pids_stats"]["current"] == 1
        assert "eth0" in doc["networks"] and doc["networks"]["eth0"]["rx_packets"] >= 0
        shot = client.api.stats(c.id, stream=False, one_shot=True)
        assert shot["preread"] == "0001-01-01T00:00:00Z"
        stream = c.stats(stream=True, decode=True)
        first, second = next(stream), next(stream)
        stream.close()
        assert second["preread"] == first["read"]
    finally:
        c.remove(force=True)


def test_stats_of_a_stopped_container(client: Any) -> None:
    c = client.containers.create("busybox", ["true"], name="statstopped")
    try:
        doc = c.stats(stream=False)
        assert doc["read"] == "0001-01-01T00:00:00Z" and doc["name"] == "/statstopped"
        assert doc["memory_stats"] == {} and doc["cpu_stats"]["cpu_usage"]["total_usage"] == 0
    finally:
        c.remove()


def test_docker_cli_stats_no_stream(daemon: InprocDaemon, client: Any) -> None:
    c = client.containers.run("busybox", ["sleep", "1000"], detach=True, name=f"clistat{os.getpid()}")
    try:
        r = subprocess.run(
            ["/usr/local/bin/docker", "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.MemUsage}}",
             c.name],
            env=dict(os.environ, DOCKER_HOST=f"unix://{daemon.socket}"),
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        name, pids, usage = r.stdout.split(" ", 2)
        assert (name, pids) == (c.name, "1") and " / " in usage
    finally:
        c.remove(force=True)
