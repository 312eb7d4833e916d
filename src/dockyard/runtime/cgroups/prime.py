"""Start the kernel's slow first step of a cgroup migration early, on a thread.

Moving a task into a cgroup takes ``cgroup_threadgroup_rwsem`` for writing. That percpu rwsem
makes its first writer after a quiet spell wait for an RCU grace period (rcu_sync_enter): about
10 ms on this kind of host, more than half of runc's whole ``run``. Writers that follow within a
grace period pass straight through. So the runtime, as soon as it knows it will create a
container, moves itself into the cgroup it is already in (a no-op for the process) on a
background thread; by the time stage A joins the container's cgroup, the grace period has passed
and the join takes well under a millisecond. Hosts mounted with ``favordynmods`` never wait at
all; there the write is merely cheap.
"""

from __future__ import annotations

import _thread

_done = _thread.allocate_lock()
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


def _kick(procs: str) -> None:
    try:
        with open(procs, "w") as f:
            f.write("0")
    except OSError:
        pass  # priming is an optimisation only: a refusal changes nothing
    finally:
        _done.release()


def prime_migration() -> None:
    global _started
    procs = _own_procs_file()
    if procs is None or _started:
        return
    _started = True
    _done.acquire()
    _thread.start_new_thread(_kick, (procs,))


def wait() -> None:
    """Block until the priming write returned: forking must not race a running thread."""
    if _started:
        _done.acquire()
        _done.release()
