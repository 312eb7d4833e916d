"""One face for the two engines the isolation scenarios run on: dockyard and Debian's dockerd.

``Engine.docker(...)`` runs the docker CLI against the engine; the rest reads the kernel's view of
a container (init pid, cgroup folders, namespaces) and of the daemon (its /_ping time, the CPU
time of its processes), the same way for both, so one scenario body measures both engines.

Every container runs with ``--network none``: the victim is reached from a thread that enters its
network namespace (setns(2) moves only the calling thread), so no traffic needs a bridge, and
the network rule holds for dockerd too (it runs with ``--bridge=none``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

CGROUP_ROOT = "/sys/fs/cgroup"
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Engine:
    """A running engine and the docker CLI pointed at it."""

    name: str  # "dockyard" or "docker"
    image: str  # busybox, as that engine names it
    socket: str  # the daemon's unix socket
    cli: list[str]  # argv prefix of the docker CLI for this engine
    daemon_pids: Callable[[], list[int]]  # the daemon's own processes (not the containers')
    log: Callable[[], str] = lambda: ""
    made: list[str] = field(default_factory=list)

    def docker(
        self, *args: str, check: bool = True, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            [*self.cli, *args], capture_output=True, text=True, timeout=timeout, input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )  # fmt: skip
        if check and res.returncode != 0:
            raise AssertionError(
                f"{self.name}: docker {' '.join(args)} exited {res.returncode}\nstdout: {res.stdout}\n"
                f"stderr: {res.stderr}\ndaemon log:\n{self.log()[-3000:]}"
            )
        return res

    def run(self, name: str, *args: str, command: Sequence[str] = ()) -> str:
        """``docker run -d --network none --name NAME ARGS IMAGE COMMAND``; remembered for clean-up."""
        self.made.append(name)
        return self.docker(
            "run", "-d", "--network", "none", "--name", name, *args, self.image, *command
        ).stdout.strip()

    def remove(self, *names: str) -> None:
        if names:
            self.docker("rm", "-f", *names, check=False, timeout=60)

    def cleanup(self) -> None:
        self.remove(*self.made)
        self.made.clear()

    def inspect(self, name: str) -> dict[str, Any]:
        data: list[dict[str, Any]] = json.loads(self.docker("inspect", name).stdout)
        return data[0]

    def pid(self, name: str) -> int:
        return int(self.inspect(name)["State"]["Pid"])

    def ping(self, timeout: float = 5.0) -> float:
        """Seconds for one GET /_ping on a new connection (what every client does first)."""
        start = time.perf_counter()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.socket)
            s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
        if not answer.startswith(b"HTTP/1.") or b" 200 " not in answer.split(b"\r\n", 1)[0]:
            raise AssertionError(f"{self.name}: /_ping answered {answer[:200]!r}")
        return time.perf_counter() - start

    def daemon_cpu_seconds(self) -> float:
        """User + system CPU time of the daemon's processes so far."""
        total = 0
        for pid in self.daemon_pids():
            try:
                with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
            except (OSError, IndexError, ValueError):
                continue
        return total / CLK_TCK


def cgroup_dir(pid: int, controller: str) -> str:
    """The host folder of ``pid``'s cgroup for a v1 controller (``memory``, ``cpuacct``, ...)."""
    with open(f"/proc/{pid}/cgroup", encoding="ascii") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if controller in controllers.split(","):
                # a controller is mounted alone here (cpu, cpuacct); elsewhere as "cpu,cpuacct"
                for mount in (controller, controllers):
                    folder = os.path.join(CGROUP_ROOT, mount) + path
                    if os.path.isdir(folder):
                        return folder
    raise AssertionError(f"no {controller} cgroup for pid {pid}")


def read_int(path: str) -> int:
    with open(path, encoding="ascii") as f:
        return int(f.read().split()[0])


def cgroup_value(folder: str, name: str) -> str:
    with open(os.path.join(folder, name), encoding="ascii") as f:
        return f.read()


def host_process_count() -> int:
    return sum(1 for e in os.listdir("/proc") if e.isdigit())


def host_oom_kills() -> int:
    with open("/proc/vmstat", encoding="ascii") as f:
        for line in f:
            if line.startswith("oom_kill "):
                return int(line.split()[1])
    return 0


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class KernelLog:
    """The kernel's log from now on (/dev/kmsg opened at its end): OOM kill reports."""

    def __init__(self) -> None:
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def read(self) -> list[str]:
        lines: list[str] = []
        while True:
            try:
                record = os.read(self.fd, 8192)
            except BlockingIOError:
                return lines
            except BrokenPipeError:  # EPIPE: records were overwritten before we read them
                continue
            lines.append(record.decode(errors="replace").split(";", 1)[-1].rstrip("\n"))

    def oom_kills(self) -> list[dict[str, str]]:
        """The ``oom-kill:constraint=...,oom_memcg=...,task=...,pid=...`` records since opened."""
        out = []
        for line in self.read():
            if line.startswith("oom-kill:"):
                out.append(dict(kv.split("=", 1) for kv in line[len("oom-kill:") :].split(",") if "=" in kv))
        return out

    def close(self) -> None:
        os.close(self.fd)


class HostCpu:
    """Cores busy on the whole host between calls of ``take()`` (from /proc/stat)."""

    def __init__(self) -> None:
        self.busy, self.total = self._read()

    @staticmethod
    def _read() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields[:8]) - idle, sum(fields[:8])

    def take(self) -> float:
        busy, total = self._read()
        cores = (busy - self.busy) / max(1, total - self.total) * (os.cpu_count() or 1)
        self.busy, self.total = busy, total
        return cores
