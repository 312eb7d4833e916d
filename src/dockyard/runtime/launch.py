"""Fork the processes that turn the runtime into a container process.

Two ways, one result: the container init (stage B, pid 1 of its pid namespace) reporting to the
runtime over a channel.

``start_init`` (create, without a user or time namespace): the runtime forks the init itself.
unshare(CLONE_NEWPID) and setns into a pid namespace only change the namespace of the caller's
*children*, so the runtime enters the container's pid namespace for the one fork and returns to
its own right after (setns back into one's own active pid namespace is allowed); the init then
joins or creates the other namespaces. The runtime makes the cgroup and moves the init into it
while the init builds its rootfs (see ``init.run_init``'s "cgroup" message); one fork and one
process hand-over fewer than the two-stage way.

``start_stages`` (a user namespace, a time namespace, and exec): stage A (a child of the runtime,
still in the host's pid namespace) joins the container's cgroup, joins namespaces by path, creates
the user namespace (the runtime writes its id maps), then creates the other namespaces and forks
stage B. A reports B's host pid and exits, so B is reparented to the nearest subreaper: the
engine's shim, or the runtime itself for ``run`` and foreground ``exec``. A user namespace must
exist before the other namespaces are created (it owns them), and its id maps can only be written
from outside, which is why those go through A.

Both ways report failures through the channel; the runtime turns them back into the same error
classes, so the message names the field that was wrong.
"""

from __future__ import annotations

import os
import sys

from dockyard import errors
from dockyard.runtime.channel import Channel, pair
from dockyard.runtime.namespaces import NamespacePlan, join, join_all

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
    """Parent side of a launch: the forked stage A (0 without one), then B's host pid."""

    def __init__(self, ch: Channel, pid_a: int, pid_b: int = 0) -> None:
        self.ch = ch
        self.pid_a = pid_a
        self.pid_b = pid_b
        self.direct = pid_a == 0 and pid_b != 0  # forked by start_init: our child

    def reap_direct_b(self) -> None:
        """Reap an init forked by start_init (our own child) that was killed or failed."""
        if self.pid_b and self.direct:
            try:
                os.waitpid(self.pid_b, 0)
            except ChildProcessError:
                pass

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


#: Namespaces start_init cannot handle: a user namespace (see the module doc) and a time
#: namespace (like pid, it applies to children only, and is rare enough to leave to stage A).
TWO_STAGE_NAMESPACES = ("user", "time")


def needs_two_stages(plan: NamespacePlan) -> bool:
    return any(kind in plan.new or kind in plan.join for kind in TWO_STAGE_NAMESPACES)


def start_init(plan: NamespacePlan, join_paths: dict[str, str], stage_b: Callable[[Channel], None]) -> Launch:
    """Fork the container init directly (``plan`` without a user or time namespace).

    The init creates every new namespace but pid (entered here for the fork) and cgroup: a new
    cgroup namespace takes the cgroup the init is in as its root, so ``stage_b`` creates it only
    once the runtime has moved it into the container's cgroup.
    """
    from dockyard.util import syscalls as sc

    parent_ch, child_ch = pair()
    sys.stdout.flush()
    sys.stderr.flush()
    own_pidns = -1
    try:
        if "pid" in plan.new or "pid" in join_paths:
            own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
            if "pid" in join_paths:
                join("pid", join_paths["pid"])
            else:
                sc.unshare(sc.CLONE_NEWPID)
        pid = os.fork()
    except BaseException:
        _leave_pidns(own_pidns)
        parent_ch.close()
        child_ch.close()
        raise
    if pid == 0:  # the container init
        parent_ch.close()
        try:
            join_all({k: v for k, v in join_paths.items() if k != "pid"})
            flags = plan.unshare_flags(exclude=("pid", "cgroup"))
            if flags:
                sc.unshare(flags)
            stage_b(child_ch)
        except BaseException as exc:
            report_and_exit(child_ch, exc)
        os._exit(0)
    child_ch.close()
    try:
        _leave_pidns(own_pidns)
    except BaseException:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        parent_ch.close()
        raise
    return Launch(parent_ch, 0, pid)


def _leave_pidns(own_pidns: int) -> None:
    """Fork into our own pid namespace again (hooks, later launches)."""
    if own_pidns < 0:
        return
    from dockyard.util import syscalls as sc

    try:
        sc.setns(own_pidns, sc.CLONE_NEWPID)
    except OSError as exc:
        raise errors.SystemFailure(
            f"cannot return to the runtime's own pid namespace: {exc.strerror}", exc.errno or 0
        ) from None
    finally:
        os.close(own_pidns)
