"""``delete``: remove a stopped (or, with --force, any) container: processes, cgroup, state."""

from __future__ import annotations

import os
import time

from dockyard.errors import Conflict, NotFound
from dockyard.runtime import hooks
from dockyard.runtime.state import StateDir, oci_state, process_start_time, status

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.runtime.cgroups import CgroupManager


def delete(root: str, container_id: str, force: bool = False) -> list[str]:
    sd = StateDir(root, container_id)
    try:
        state = sd.load()
    except NotFound:
        if force:
            # A create that failed before writing state.json may leave the folder: --force cleans
            # it up and succeeds, as runc does.
            sd.remove()
            return []
        raise
    st = status(state, sd)
    if st in ("running", "paused") and not force:
        raise Conflict(f"cannot delete container {container_id!r} that is {st}: stop it first or use --force")
    mgr = None
    if state.cgroup_paths:
        from dockyard.runtime.cgroups import manager_from_paths

        mgr = manager_from_paths(state.cgroup_paths)
    if st != "stopped":
        from dockyard.runtime.kill import signal_pid

        signal_pid(state, 9)
        if mgr is not None and mgr.exists():
            mgr.kill_all(9)
            if st == "paused":
                mgr.thaw()
        _wait_gone(state.pid, state.pid_start)
    warnings: list[str] = []
    if mgr is not None and mgr.exists():
        # Processes forked by the init may outlive it (the init was not pid 1 of a pid namespace,
        # or died first): they must not keep the cgroup alive.
        if mgr.pids():
            mgr.kill_all(9)
        destroy_cgroup(mgr)
    if state.hooks.get("poststop"):
        warnings = hooks.run_hooks("poststop", state.hooks, oci_state(state, "stopped"))
    sd.remove()
    return warnings


def destroy_cgroup(mgr: CgroupManager, tries: int = 200) -> None:
    """Remove the cgroup, retrying while the kernel still counts tasks that were just killed
    (rmdir fails with EBUSY until their exit completes); the last failure is raised."""
    for _ in range(tries - 1):
        try:
            mgr.destroy()
            return
        except OSError:
            time.sleep(0.01)
    mgr.destroy()


def _wait_gone(pid: int, start: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while process_start_time(pid) == start:
        try:
            os.waitpid(pid, os.WNOHANG)  # reap it when it is our child (run --detach)
        except ChildProcessError:
            pass
        if time.monotonic() > deadline:
            return
        time.sleep(0.002)
