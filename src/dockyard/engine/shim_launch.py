"""How a shim process comes to be: forked by the zygote (the default), or exec'd on its own.

Both hand the shim its spec and the "sync" socket it reports on (see shim_main.py), and both
leave the shim reparented to init, outside the daemon's process tree.

:class:`Zygote` (daemon side) starts the zygote lazily, with the daemon's own interpreter and
``-S`` (no site: the zygote needs only the standard library and this package, whose folder is
put on sys.path by hand), in its own session so a Ctrl-C at the daemon's terminal does not reach
it. A zygote that died is started again on the next request.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: The folder that holds the ``dockyard`` package (src/ of a checkout, or site-packages).
_PKG_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _python(module: str, func: str) -> list[str]:
    code = f"import sys; sys.path.insert(0, {_PKG_PARENT!r}); from {module} import {func}; sys.exit({func}())"
    return [sys.executable, "-S", "-c", code]


class Zygote:
    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def start(self, wait: bool = False) -> None:
        """Start the zygote if it is not running; with ``wait``, until it has loaded the shim."""
        if self.pid is not None:
            return
        self.stop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(
                [*_python("dockyard.engine.shim_zygote", "main"), str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
                cwd="/",
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._sock = ours
        if wait:
            ours.settimeout(30)
            try:
                if ours.recv(16) != b"ready":
                    raise OSError("the shim zygote exited while it loaded")
            finally:
                ours.settimeout(None)

    def spawn(self, spec: dict[str, Any], sync: socket.socket, ctl: socket.socket | None = None) -> None:
        """Ask the zygote for a shim process; it reports on ``sync`` and takes more on ``ctl``."""
        from dockyard.oci import fastjson

        msg = fastjson.dumps(spec).encode()
        fds = [sync.fileno()] + ([ctl.fileno()] if ctl is not None else [])
        for attempt in (1, 2):
            self.start()
            assert self._sock is not None
            try:
                socket.send_fds(self._sock, [msg], fds)
                return
            except OSError:
                if attempt == 2:
                    raise
                self.stop()  # it died (killed, or a bug): a new one gets the request

    def stop(self) -> None:
        """Close our end (the zygote exits on EOF) and reap it; running shims are unaffected."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None


def spawn_exec(spec: dict[str, Any], sync: socket.socket, ctl: socket.socket | None = None) -> None:
    """A shim as its own interpreter (``python -S``), design (c) of bench/shim_memory.py.

    The process forks at once and its first half exits; it is reaped here, so it blocks for the
    interpreter's start (tens of milliseconds): this launcher is for comparison, not for the
    daemon's hot path.
    """
    from dockyard.oci import fastjson

    fds = [sync.fileno()] + ([ctl.fileno()] if ctl is not None else [])
    proc = subprocess.Popen(
        [*_python("dockyard.engine.shim_main", "main"), fastjson.dumps(spec), *map(str, fds)],
        pass_fds=fds,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
        cwd="/",
    )
    proc.wait()


class Group:
    """One shim process that takes more containers over its control socket (shim_main.Host)."""

    __slots__ = ("active", "assigned", "ctl", "seen")

    def __init__(self, ctl: socket.socket) -> None:
        self.ctl = ctl
        self.active = 1  # its first container, until its first report
        self.assigned = 0  # the last seq sent
        self.seen = 0  # the last seq it reported taken

    @property
    def load(self) -> int:
        """Containers it monitors, counting requests sent but not yet reported."""
        return self.active + (self.assigned - self.seen)

    def drain(self) -> bool:
        """Take in the reports waiting on the socket; False when the process is gone."""
        from dockyard.oci import fastjson

        while True:
            try:
                msg = self.ctl.recv(4096)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False
            if not msg:
                return False
            try:
                doc = fastjson.loads(msg)
                self.active, self.seen = int(doc["active"]), int(doc["seen"])
            except (ValueError, KeyError, TypeError):
                continue


class Pool:
    """Places containers in shim processes holding up to ``group_size`` containers each.

    ``group_size`` 1 is one shim per container (design a of bench/shim_memory.py); a large
    one is a single monitor for everything (design b). New processes are forked by the zygote
    (``launcher`` "zygote") or started as interpreters ("exec", design c). A process whose
    containers all exited is retired (its control socket closed: it exits), except one kept
    as the warm spare. After a daemon restart the new daemon's pool starts new processes; the
    old ones keep their containers (reached through each container's shim.sock) and exit
    with the last of them.
    """

    def __init__(self, group_size: int = 1, launcher: str = "zygote") -> None:
        from dockyard.errors import InvalidArgument

        if group_size < 1:
            raise InvalidArgument(f"shim group size {group_size}: must be at least 1")
        if launcher not in ("zygote", "exec"):
            raise InvalidArgument(f"shim launcher {launcher!r}: use zygote or exec")
        self.group_size = group_size
        self.launcher = launcher
        self.zygote = Zygote()
        self.groups: list[Group] = []

    def spawn(self, spec: dict[str, Any], sync: socket.socket) -> None:
        """Hand ``spec`` to a shim process; it reports on ``sync`` (our copy may be closed after)."""
        from dockyard.oci import fastjson

        self.tidy()
        for g in list(self.groups):
            if g.load >= self.group_size:
                continue
            g.assigned += 1
            try:
                socket.send_fds(
                    g.ctl, [fastjson.dumps({"seq": g.assigned, "spec": spec}).encode()], [sync.fileno()]
                )
                return
            except OSError:
                self._retire(g)  # it died: a new process takes the container
        if self.group_size == 1:
            self._launch(spec, sync, None)
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._launch(spec, sync, theirs)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self.groups.append(Group(ours))

    def _launch(self, spec: dict[str, Any], sync: socket.socket, ctl: socket.socket | None) -> None:
        if self.launcher == "exec":
            spawn_exec(spec, sync, ctl)
        else:
            self.zygote.spawn(spec, sync, ctl)

    def tidy(self) -> None:
        """Take in the processes' reports; retire the empty ones but one spare."""
        spare = False
        for g in list(self.groups):
            if not g.drain():
                self._retire(g)
            elif g.load == 0:
                if spare:
                    self._retire(g)
                spare = True

    def _retire(self, g: Group) -> None:
        g.ctl.close()
        self.groups.remove(g)

    def close(self) -> None:
        """Retire every process (each exits once its containers did) and stop the zygote."""
        for g in list(self.groups):
            self._retire(g)
        self.zygote.stop()
