"""Background probes of a scenario: the victim's HTTP latency and the daemon's /_ping latency.

``Recorder`` runs one thread that repeats a timed request every ``interval`` seconds and keeps
every latency (or the error) with the phase it was taken in ("idle", "attack", ...), so a
scenario switches phases while the thread keeps going and reads percentiles per phase after.

The victim is busybox httpd listening on 127.0.0.1:8080 in a container with ``--network none``:
its thread enters the container's network namespace with setns(2), which moves only the calling
thread, so the test process itself stays in the host's.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dockyard.util import syscalls

VICTIM_PORT = 8080
#: busybox httpd serving /etc: GET /hostname answers with the container's hostname file.
VICTIM_COMMAND = ("httpd", "-f", "-p", f"127.0.0.1:{VICTIM_PORT}", "-h", "/etc")


def http_get(port: int = VICTIM_PORT, path: str = "/hostname", timeout: float = 5.0) -> float:
    """Seconds for one HTTP/1.0 GET on a new connection to 127.0.0.1 (of the thread's netns)."""
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    if not answer.startswith(b"HTTP/1.") or b" 200 " not in answer.split(b"\r\n", 1)[0]:
        raise OSError(f"victim answered {answer[:100]!r}")
    return time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank, of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class Samples:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) if self.latencies else float("nan")

    def summary(self) -> str:
        if not self.latencies:
            return f"no samples, {len(self.errors)} errors"
        return (
            f"n={len(self.latencies)} p50={self.p(50) * 1000:.2f}ms p99={self.p(99) * 1000:.2f}ms "
            f"max={max(self.latencies) * 1000:.2f}ms errors={len(self.errors)}"
        )


class Recorder:
    """Repeats ``request`` every ``interval`` s on a thread; samples grouped by phase."""

    def __init__(self, request: Callable[[], float], interval: float, netns_pid: int | None = None) -> None:
        self.request = request
        self.interval = interval
        self.netns_pid = netns_pid
        self.phase = "idle"
        self.phases: dict[str, Samples] = {}
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Recorder:
        self._thread.start()
        self._ready.wait(10)
        if self._failure is not None:
            raise self._failure
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def switch(self, phase: str) -> None:
        self.phase = phase

    def samples(self, phase: str) -> Samples:
        return self.phases.get(phase, Samples())

    def wait_samples(self, phase: str, count: int, timeout: float = 60) -> Samples:
        deadline = time.monotonic() + timeout
        while len(self.samples(phase).latencies) < count and time.monotonic() < deadline:
            time.sleep(self.interval)
        return self.samples(phase)

    def _loop(self) -> None:
        try:
            if self.netns_pid is not None:
                fd = os.open(f"/proc/{self.netns_pid}/ns/net", os.O_RDONLY)
                try:
                    syscalls.setns(fd, syscalls.CLONE_NEWNET)
                finally:
                    os.close(fd)
        except BaseException as exc:  # reported by __enter__
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        while not self._stop.is_set():
            samples = self.phases.setdefault(self.phase, Samples())
            try:
                samples.latencies.append(self.request())
            except OSError as exc:
                samples.errors.append(str(exc))
            self._stop.wait(self.interval)
