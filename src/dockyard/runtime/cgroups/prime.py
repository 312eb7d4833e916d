"""Start the kernel's slow first step of a cgroup migration early, on a thread.

Moving a task into a cgroup takes ``cgroup_threadgroup_rwsem`` for writing. That percpu rwsem
makes its first writer after a quiet spell wait for an RCU grace period (rcu_sync_enter): about
10 ms on this kind of host, more than half of runc's whole ``run``. Writers that follow within a
grace period pass straight through. So the runtime, as soon as it knows it will create a
container, moves itself into the cgroup it is already in (a no-op for the process) on a
background thread; by the time the container's init is moved into its cgroup, the grace period
has passed and the move takes well under a millisecond. Hosts mounted with ``favordynmods`` never wait at
all; there the write is merely cheap.

The runtime does not wait for the thread before it forks the container's init: the thread only
sits in one write(2), the GIL released and no lock held, so the fork is safe, and the init builds
its rootfs during the grace period while the runtime's own cgroup writes queue behind the priming
one in the kernel (it holds cgroup_mutex while it waits).
"""

from __future__ import annotations

import _thread
import os

_started = False


def _own_procs_file() -> str | None:
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        # A v1 hierarchy with a plain controller name, or the v2 one ("0::/path").
        for name in controllers.split(",") if controllers else [""]:
            if name.startswith("name="):
                continue
            candidate = f"/sys/fs/cgroup/{name}{path}".replace("//", "/").rstrip("/") + "/cgroup.procs"
            try:
                with open(candidate, "rb"):
                    return candidate
            except OSError:
                continue
    return None


def _kick(procs: str, started: _thread.LockType) -> None:
    started.release()
    try:
        fd = os.open(procs, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
    except OSError:
        pass  # priming is an optimisation only: a refusal changes nothing


def prime_migration() -> None:
    global _started
    procs = _own_procs_file()
    if procs is None or _started:
        return
    _started = True
    started = _thread.allocate_lock()
    started.acquire()
    _thread.start_new_thread(_kick, (procs, started))
    # Wait (GIL released) until the thread runs: a new thread needs the GIL to start, and the
    # busy main thread would otherwise hand it over only after the 5 ms switch interval, so late.
    started.acquire()
