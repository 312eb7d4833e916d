"""Fork the two stages that turn the runtime into a container process.

Stage A (a child of the runtime, still in the host's pid namespace) joins the container's cgroup,
joins namespaces by path, creates the user namespace (the runtime writes its id maps), then
creates the other namespaces and forks stage B. Because unshare(CLONE_NEWPID) and setns into a pid
namespace only affect children, B is the process that lives in the container (pid 1 of a new pid
namespace). A reports B's host pid and exits, so B is reparented to the nearest subreaper: the
engine's shim, or the runtime itself for ``run`` and foreground ``exec``.

Both stages report failures through the channel; the runtime turns them back into the same error
classes, so the message names the field that was wrong.
"""

from __future__ import annotations

import os
import sys

from dockyard import errors
from dockyard.runtime.channel import Channel, pair
from dockyard.runtime.namespaces import NamespacePlan, join_all

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def report_and_exit(ch: Channel, exc: BaseException) -> None:
    try:
        if isinstance(exc, errors.DockyardError):
            ch.send({"type": "error", "msg": exc.message, "kind": type(exc).__name__})
        elif isinstance(exc, OSError):
            ch.send(
                {
                    "type": "error",
                    "msg": f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""),
                    "kind": "SystemFailure",
                }
            )
        else:
            ch.send({"type": "error", "msg": f"{type(exc).__name__}: {exc}", "kind": "DockyardError"})
    except BaseException:
        try:
            os.write(2, f"dockyard-runtime: {exc}\n".encode())
        except OSError:
            pass
    os._exit(1)


def raise_remote(msg: dict[str, Any]) -> None:
    kind = msg.get("kind", "")
    found = getattr(errors, kind, None)
    exc: errors.DockyardError
    if kind == "ConfigError":
        # The message already names the field; rebuild without prefixing it again.
        exc = errors.InvalidArgument(msg["msg"])
    elif isinstance(found, type) and issubclass(found, errors.DockyardError) and kind != "SystemFailure":
        exc = found(msg["msg"])
    elif kind == "SystemFailure":
        exc = errors.SystemFailure(msg["msg"])
    else:
        exc = errors.DockyardError(msg["msg"])
    raise exc


class Launch:
    """Parent side of a launch: the forked stage A, then B's host pid."""

    def __init__(self, ch: Channel, pid_a: int) -> None:
        self.ch = ch
        self.pid_a = pid_a
        self.pid_b = 0

    def reap_a(self) -> None:
        if self.pid_a:
            try:
                os.waitpid(self.pid_a, 0)
            except ChildProcessError:
                pass
            self.pid_a = 0


def start_stages(
    plan: NamespacePlan,
    join_paths: dict[str, str],
    join_cgroup: Callable[[], None],
    stage_b: Callable[[Channel], None],
) -> Launch:
    """Fork stage A; it sets up namespaces and runs ``stage_b`` in the forked container process."""
    parent_ch, child_ch = pair()
    sys.stdout.flush()
    sys.stderr.flush()
    pid_a = os.fork()
    if pid_a == 0:  # stage A
        parent_ch.close()
        try:
            _stage_a(child_ch, plan, join_paths, join_cgroup, stage_b)
        except BaseException as exc:
            report_and_exit(child_ch, exc)
        os._exit(0)
    child_ch.close()
    return Launch(parent_ch, pid_a)


def _stage_a(
    ch: Channel,
    plan: NamespacePlan,
    join_paths: dict[str, str],
    join_cgroup: Callable[[], None],
    stage_b: Callable[[Channel], None],
) -> None:
    from dockyard.util import syscalls as sc

    # Join the cgroup before creating a cgroup namespace: the namespace's root is the cgroup the
    # process is in at unshare time, which must be the container's own.
    join_cgroup()
    join_all(join_paths)
    if plan.new_userns:
        sc.unshare(sc.CLONE_NEWUSER)
        ch.send({"type": "userns"})
        reply = ch.recv()
        if not reply or reply.get("type") != "maps_done":
            os._exit(1)
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    flags = plan.unshare_flags(exclude=("user",))
    if flags:
        sc.unshare(flags)
    pid_b = os.fork()
    if pid_b == 0:  # stage B
        try:
            stage_b(ch)
        except BaseException as exc:
            report_and_exit(ch, exc)
        os._exit(0)
    ch.send({"type": "pid", "pid": pid_b})
    os._exit(0)
