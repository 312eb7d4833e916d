"""``start``: release a created container's init from the exec fifo, then poststart hooks."""

from __future__ import annotations

import os
import select

from dockyard.errors import Conflict, SystemFailure
from dockyard.runtime import hooks
from dockyard.runtime.state import State, StateDir, oci_state, process_start_time, status


def start(root: str, container_id: str) -> list[str]:
    sd = StateDir(root, container_id)
    state = sd.load()
    st = status(state, sd)
    if st != "created":
        raise Conflict(f"cannot start container {container_id!r}: it is {st}, not created")
    release(state, sd)
    return hooks.run_hooks("poststart", state.hooks, oci_state(state, "running"))


def release(state: State, sd: StateDir) -> None:
    # O_NONBLOCK: opening the read side never waits, and it unblocks the init's open(O_WRONLY).
    # We then wait for its byte while watching that the init is still alive: a dead init would
    # otherwise leave us waiting forever.
    try:
        fd = os.open(sd.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise Conflict(f"container {state.id!r} was already started") from None
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            if poller.poll(100):
                data = os.read(fd, 1)
                if data:
                    break
            if process_start_time(state.pid) != state.pid_start:
                raise SystemFailure(f"container {state.id!r} init exited before it could start")
    finally:
        os.close(fd)
    try:
        os.unlink(sd.fifo)
    except FileNotFoundError:
        pass  # a concurrent start removed it first
