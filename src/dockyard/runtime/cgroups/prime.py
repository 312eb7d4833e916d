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

#: The verbs that move a process into a container's cgroup: create and run (the init), exec.
VERBS = ("create", "run", "exec")


def _open_own_procs() -> int | None:
    """cgroup.procs of the caller's own cgroup in one hierarchy, opened for writing."""
    try:
        fd = os.open("/proc/self/cgroup", os.O_RDONLY | os.O_CLOEXEC)
        try:
            lines = os.read(fd, 65536).decode().splitlines()
        finally:
            os.close(fd)
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
                return os.open(candidate, os.O_WRONLY | os.O_CLOEXEC)
            except OSError:
                continue
    return None


def _kick(fd: int, started: _thread.LockType) -> None:
    started.release()
    try:
        os.write(fd, b"0")
    except OSError:
        pass  # priming is an optimisation only: a refusal changes nothing
    finally:
        os.close(fd)


def prime_for(argv: list[str]) -> None:
    """Prime when the command line names a verb of VERBS (a stray argument that looks like one
    only costs a harmless no-op write)."""
    if any(verb in argv for verb in VERBS):
        prime_migration()


def prime_migration() -> None:
    global _started
    if _started:
        return
    # Opened here: after started.release() the thread goes straight into write(2), which lets go
    # of the GIL; any call before it that released the GIL too (an open) would make the thread
    # wait for the busy main thread to hand the GIL back, up to the 5 ms switch interval, before
    # it could even issue the write.
    fd = _open_own_procs()
    if fd is None:
        return
    _started = True
    started = _thread.allocate_lock()
    started.acquire()
    try:
        _thread.start_new_thread(_kick, (fd, started))
    except RuntimeError:  # no thread to be had: the container start merely waits longer
        os.close(fd)
        return
    # Wait (GIL released) until the thread runs: a new thread needs the GIL to start, and the
    # busy main thread would otherwise hand it over only after the 5 ms switch interval, so late.
    started.acquire()
