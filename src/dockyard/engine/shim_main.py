"""The shim process: it monitors up to a group's worth of containers and outlives the daemon.

It is forked from the zygote (shim_zygote.py: the shim code is loaded there once and shared
copy-on-write) or, for comparison, started as its own interpreter::

    python -S -m dockyard.engine.shim_main SPEC_JSON SYNC_FD [CTL_FD]

Either way :func:`run` makes the process a shim: its own session (no terminal's signals reach
it), the child subreaper (PR_SET_CHILD_SUBREAPER: a container's init becomes our child once the
runtime's ``create`` exited, so we reap it and learn its exit status), stdio on /dev/null (it
must not hold the daemon's stdout or stderr open), and the working directory "/" (it must not
pin a mount). Each container is one :class:`~dockyard.engine.shim_monitor.Monitor` in the
process's event loop. For each, the shim reports on that container's sync socket, one JSON line
each::

    {"pid": N}                                     at once
    {"ok": true, "pid": ..., "init_pid": ...}      ``create`` succeeded (the shim.pid document)
    {"ok": false, "error": "exec: \\"nope\\": ..."}   it failed, with the runtime's own message

and then closes it. More containers come over the control socket (:class:`Host`); the process
exits when the daemon closed that socket and the last container's exit.json is written (at
once after its only container, without one).
"""

from __future__ import annotations

import os
import sys

from dockyard.engine.shim_loop import IN, Loop
from dockyard.engine.shim_monitor import Monitor

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def run(spec: dict[str, Any] | None, sync_fd: int, ctl_fd: int = -1) -> int:
    """Be a shim process until its containers exited; returns the process exit code.

    ``spec``/``sync_fd``: the first container. ``ctl_fd``: the daemon's control socket (a
    SOCK_SEQPACKET end) over which more containers come, see :class:`Host`; -1 for a shim of
    exactly one container.
    """
    import signal

    from dockyard.util import syscalls as sc

    try:
        os.setsid()
    except PermissionError:
        pass  # already a session leader (started with start_new_session)
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    sc.set_name("dockyard-shim")
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    os.chdir("/")
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    loop = Loop()
    host = Host(loop, ctl_fd)
    loop.on_error = host.crash
    if spec is not None:
        host.add(spec, sync_fd)
    elif ctl_fd < 0:
        return 0
    try:
        loop.run()
    except BaseException as exc:
        host.crash(exc)
        return 1
    return 0


class Host:
    """The containers of one shim process, and its control socket to the daemon.

    Control messages (SOCK_SEQPACKET, one JSON document each):

        daemon -> shim   {"seq": n, "spec": {...}}  with the container's sync socket as
                         SCM_RIGHTS: one more container for this process
        shim -> daemon   {"active": k, "seen": n}   after every change: k containers are
                         monitored, requests up to seq n were taken in

    The shim exits when the daemon closed the control socket (stopped, killed, or it retired
    this process) and its last container is done. A report that does not fit the socket buffer
    waits for EPOLLOUT; only the latest count matters, so one pending report is enough.
    """

    def __init__(self, loop: Loop, ctl_fd: int) -> None:
        import socket

        self.loop = loop
        self.monitors: dict[int, Monitor] = {}
        self.seen = 0
        self.pending = False
        self.ctl: socket.socket | None = None
        if ctl_fd >= 0:
            self.ctl = socket.socket(fileno=ctl_fd)
            self.ctl.setblocking(False)
            loop.add(ctl_fd, IN, self._on_ctl)

    def add(self, spec: dict[str, Any], sync_fd: int) -> None:
        from dockyard.oci import fastjson

        fd = sync_fd

        def report(doc: dict[str, Any]) -> None:
            nonlocal fd
            if fd < 0:
                return
            try:
                os.write(fd, (fastjson.dumps(doc) + "\n").encode())
            except OSError:
                pass  # the daemon is gone: the state files tell its successor
            if "ok" in doc:
                os.close(fd)
                fd = -1

        report({"pid": os.getpid()})
        monitor = Monitor(self.loop, spec, report, lambda: self._done(monitor))
        self.monitors[id(monitor)] = monitor
        try:
            monitor.start()
        except Exception as exc:
            monitor.abort(f"{type(exc).__name__}: {exc}" if not _is_ours(exc) else str(exc))

    def _done(self, monitor: Monitor) -> None:
        self.monitors.pop(id(monitor), None)
        self._report()
        if not self.monitors and self.ctl is None:
            self.loop.running = False

    def _on_ctl(self, events: int) -> None:
        import socket

        from dockyard.engine.shim_loop import OUT

        assert self.ctl is not None
        if events & OUT:
            self._report()
        while self.ctl is not None:
            try:
                msg, fds, _flags, _addr = socket.recv_fds(self.ctl, 1 << 20, 2)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                msg, fds = b"", []
            if not msg:
                self._ctl_closed()
                return
            from dockyard.oci import fastjson

            try:
                doc = fastjson.loads(msg)
                self.seen = max(self.seen, int(doc.get("seq", 0)))
                spec = doc["spec"]
            except (ValueError, KeyError, TypeError):
                for fd in fds:
                    os.close(fd)
                continue
            for extra in fds[1:]:
                os.close(extra)
            self.add(spec, fds[0] if fds else -1)
            self._report()

    def _ctl_closed(self) -> None:
        if self.ctl is not None:
            self.loop.remove(self.ctl.fileno())
            self.ctl.close()
            self.ctl = None
        if not self.monitors:
            self.loop.running = False

    def _report(self) -> None:
        from dockyard.engine.shim_loop import OUT
        from dockyard.oci import fastjson

        if self.ctl is None:
            return
        try:
            self.ctl.send(fastjson.dumps({"active": len(self.monitors), "seen": self.seen}).encode())
            if self.pending:
                self.pending = False
                self.loop.modify(self.ctl.fileno(), IN)
        except (BlockingIOError, InterruptedError):
            if not self.pending:
                self.pending = True
                self.loop.modify(self.ctl.fileno(), IN | OUT)
        except OSError:
            self._ctl_closed()

    def crash(self, exc: BaseException) -> None:
        """A bug of ours (or a kernel refusal we did not foresee): the traceback beside each state."""
        import traceback

        from dockyard.engine.shim_state import CRASH_LOG

        text = "".join(traceback.format_exception(exc))
        for monitor in list(self.monitors.values()):
            try:
                with open(os.path.join(monitor.state_dir, CRASH_LOG), "a", encoding="utf-8") as f:
                    f.write(text)
            except OSError:
                pass  # nowhere to write it


def _is_ours(exc: BaseException) -> bool:
    from dockyard.errors import DockyardError

    return isinstance(exc, DockyardError)


def preload() -> None:
    """Import everything a shim may need later, so forked shims share it (see shim_zygote.py)."""
    import fcntl  # noqa: F401  resize
    import socket  # noqa: F401
    import struct  # noqa: F401
    import termios  # noqa: F401
    import traceback  # noqa: F401  crash log

    import dockyard.engine.logs
    import dockyard.engine.shim_attach
    import dockyard.engine.shim_loop
    import dockyard.engine.shim_monitor
    import dockyard.engine.shim_state
    import dockyard.engine.stdcopy
    import dockyard.errors
    import dockyard.oci.fastjson
    import dockyard.util.atomic
    import dockyard.util.syscalls  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    """``python -S -m dockyard.engine.shim_main SPEC_JSON SYNC_FD [CTL_FD]``: the shim as its own program.

    The first process exits at once (its parent, the daemon, reaps it); the shim goes on in a
    child reparented to init, as a zygote-forked shim is.
    """
    from dockyard.oci import fastjson

    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3):
        sys.stderr.write("usage: python -m dockyard.engine.shim_main SPEC_JSON SYNC_FD [CTL_FD]\n")
        return 2
    spec = fastjson.loads(args[0])
    fds = [int(a) for a in args[1:]]
    for fd in fds:
        os.set_inheritable(fd, False)
    if os.fork() != 0:
        os._exit(0)
    code = 1
    try:
        code = run(spec, fds[0], fds[1] if len(fds) > 1 else -1)
    finally:
        os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
