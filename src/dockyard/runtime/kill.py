"""``kill``: signal the init (or, with --all, every process in the container's cgroup)."""

from __future__ import annotations

import os

from dockyard.errors import Conflict, InvalidArgument
from dockyard.runtime.state import State, StateDir, process_start_time, status

SIGNALS = {
    "HUP": 1,
    "INT": 2,
    "QUIT": 3,
    "ILL": 4,
    "TRAP": 5,
    "ABRT": 6,
    "IOT": 6,
    "BUS": 7,
    "FPE": 8,
    "KILL": 9,
    "USR1": 10,
    "SEGV": 11,
    "USR2": 12,
    "PIPE": 13,
    "ALRM": 14,
    "TERM": 15,
    "STKFLT": 16,
    "CHLD": 17,
    "CONT": 18,
    "STOP": 19,
    "TSTP": 20,
    "TTIN": 21,
    "TTOU": 22,
    "URG": 23,
    "XCPU": 24,
    "XFSZ": 25,
    "VTALRM": 26,
    "PROF": 27,
    "WINCH": 28,
    "IO": 29,
    "POLL": 29,
    "PWR": 30,
    "SYS": 31,
}


def parse_signal(text: str) -> int:
    t = text.upper()
    if t.isdigit():
        num = int(t)
        if 0 < num < 65:
            return num
    t = t.removeprefix("SIG")
    if t in SIGNALS:
        return SIGNALS[t]
    if t.startswith("RTMIN") or t.startswith("RTMAX"):
        base = 34 if t.startswith("RTMIN") else 64
        off = t[5:]
        try:
            n = base + int(off) if off else base
        except ValueError:
            n = 0
        if 34 <= n <= 64:
            return n
    raise InvalidArgument(f"unknown signal {text!r}: use a name like TERM or KILL, or a number 1-64")


def signal_pid(state: State, sig: int) -> None:
    """Signal the init through a pidfd so a pid reused after our check is never hit."""
    import _signal  # type: ignore[import-not-found]  # `signal` imports enum: slow to start

    try:
        pidfd = os.pidfd_open(state.pid)
    except ProcessLookupError:
        return
    try:
        if process_start_time(state.pid) != state.pid_start:
            return  # the pid now belongs to another process
        try:
            _signal.pidfd_send_signal(pidfd, sig)
        except ProcessLookupError:
            pass  # it exited between the check and the signal: nothing left to signal
    finally:
        os.close(pidfd)


def kill(root: str, container_id: str, sig: int, all_processes: bool = False) -> None:
    sd = StateDir(root, container_id)
    state = sd.load()
    st = status(state, sd)
    if st == "stopped" and not all_processes:
        raise Conflict(f"container {container_id!r} is not running")
    if all_processes and state.cgroup_paths:
        from dockyard.runtime.cgroups import manager_from_paths

        mgr = manager_from_paths(state.cgroup_paths)
        if mgr.exists():
            mgr.kill_all(sig)
        return
    signal_pid(state, sig)
    if sig == 9 and st == "paused" and state.cgroup_paths:
        # SIGKILL is only acted on once the frozen task runs again.
        from dockyard.runtime.cgroups import manager_from_paths

        manager_from_paths(state.cgroup_paths).thaw()
