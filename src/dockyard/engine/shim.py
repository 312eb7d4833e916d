"""The daemon's side of the shims: start a container's shim, wait, attach, resize, reconnect.

A shim (shim_main.py, shim_monitor.py) runs ``<runtime> create``, holds the container's stdio,
writes the json-file log, serves attach on the container's ``shim.sock``, reaps the container's
init (it is the subreaper) and writes exit.json. It is not the daemon's child and outlives it: a
new daemon finds each container's shim again with :meth:`Shim.reconnect` from the files in the
container's state folder (shim_state.py); everything per container goes through that folder's
socket, whichever process serves it.

**Design: shim processes forked from a zygote, each monitoring up to 16 containers.** Chosen by
bench/shim_memory.py: 20 idle ``sleep`` containers per design, 3 interleaved rounds, the growth
of a memory cgroup holding daemon, zygote, shims and containers (user + kernel memory), per
container, against 0.38 MiB for the containers with no monitor at all ("bare"), and the start,
spawn to "created", against 58 ms for the runtime's ``create`` alone:

    design                                        per container  over bare  shims' Private_Dirty  start
    (a) a shim per container, forked from a zygote    2.88 MiB   +2.49 MiB       2.36 MiB         65 ms
        up to 16 containers per forked shim           0.64 MiB   +0.26 MiB       0.25 MiB         59 ms
    (b) one monitor for all containers                0.53 MiB   +0.15 MiB       0.13 MiB         62 ms
    (c) a ``python -S`` interpreter per container     5.82 MiB   +5.44 MiB       5.29 MiB        100 ms

(anchors.md, machine growth per container: docker +3.6 MiB, podman +2.1 MiB). A forked child of
Python 3.11 does not stay shared: refcount updates, the adaptive interpreter's writes into code
objects and fresh allocations in the old arenas copy about 2.3 MiB of its parent's pages (0.8
MiB for a child that only runs an empty event loop) -- so (a) lands between docker and podman,
and only putting several containers in one process reaches podman's figure. Between (b) and
groups of 16 the difference is 0.11 MiB per container (20 containers: two processes, one); what
it buys is that a bug, a crash or an OOM kill of a shim process loses the stdio, logs and exit
status of at most 16 containers, not all of them; that containers' output is parsed and logged
on more than one CPU; and that no process is pinned for the daemon's lifetime (a group exits
with its last container). With a 2 ms stand-in runtime the shim's own part of the start is
3.6 ms (median) for a message to an existing group, 10 ms with a fork from the zygote; (c)
adds the interpreter's start, about 40 ms, to every ``docker run``.

:func:`configure` sets the group size (1 gives design a; a huge one, design b) and the launcher.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from dockyard.engine import shim_state as st
from dockyard.engine.logs import format_time
from dockyard.errors import Conflict, SystemFailure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: How long ``<runtime> create`` may take (hooks included) before start_shim gives up.
CREATE_TIMEOUT = 120.0


@dataclass
class ShimSpec:
    cid: str
    bundle: Path
    state_dir: Path  # <exec-root>/containers/<cid>
    runtime: list[str]  # argv prefix, e.g. [path, "--root", <exec-root>/runtime]
    tty: bool
    open_stdin: bool
    stdin_once: bool
    log_path: Path | None  # None: log driver "none"
    log_max_size: int | None = None
    log_max_file: int = 1
    console_size: tuple[int, int] | None = None  # (height, width)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cid": self.cid,
            "bundle": os.fspath(self.bundle),
            "state_dir": os.path.abspath(self.state_dir),
            "runtime": [os.fspath(a) for a in self.runtime],
            "tty": self.tty,
            "open_stdin": self.open_stdin,
            "stdin_once": self.stdin_once,
            "log_path": None if self.log_path is None else os.path.abspath(self.log_path),
            "log_max_size": self.log_max_size,
            "log_max_file": self.log_max_file,
            "console_size": None if self.console_size is None else list(self.console_size),
        }


@dataclass(frozen=True)
class ExitStatus:
    code: int  # 128 + n when killed by signal n
    finished_at: str  # RFC 3339 UTC with nanoseconds, as State.FinishedAt
    oom_killed: bool = False


# ---------------------------------------------------------------- launching

#: Containers per shim process (see the module docstring).
DEFAULT_GROUP_SIZE = 16

_pool: Any = None


def _get_pool() -> Any:
    global _pool
    if _pool is None:
        from dockyard.engine.shim_launch import Pool

        _pool = Pool(DEFAULT_GROUP_SIZE)
    return _pool


def configure(group_size: int = DEFAULT_GROUP_SIZE, launcher: str = "zygote") -> None:
    """Choose how shims are placed: containers per shim process, and how processes start.

    Processes already running keep their containers; new containers go by the new settings.
    """
    global _pool
    from dockyard.engine.shim_launch import Pool

    new = Pool(group_size, launcher)
    if _pool is not None:
        _pool.close()
    _pool = new


def start_zygote() -> None:
    """Start the zygote now (at daemon start) rather than on the first container's start."""
    _get_pool().zygote.start(wait=True)


def stop_zygote() -> None:
    """At daemon shutdown (and in tests): stop the zygote, let shim processes take no more
    containers. Running containers and their shims are not affected."""
    if _pool is not None:
        _pool.close()


async def start_shim(spec: ShimSpec) -> Shim:
    """Start the container's shim; return once ``<runtime> create`` succeeded.

    Raises SystemFailure with the runtime's own message when create fails (runc's and
    dockyard-runtime's text is kept, e.g. ``exec: "nope": executable file not found in $PATH``,
    so the daemon can map it to exit codes 127/126 as dockerd does). If create takes longer than
    :data:`CREATE_TIMEOUT` or the caller is cancelled, the shim is killed; the runtime's
    half-made container is then for the caller to ``delete --force``.
    """
    spec.state_dir.mkdir(parents=True, exist_ok=True)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        _get_pool().spawn(spec.to_dict(), theirs)
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    shim_pid = 0
    try:
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        try:
            async with asyncio.timeout(CREATE_TIMEOUT):
                while True:
                    line = await reader.readline()
                    if not line:
                        raise SystemFailure(
                            f"the shim of container {spec.cid} exited before it reported the runtime's "
                            f"create (see {spec.state_dir / st.CRASH_LOG})"
                        )
                    from dockyard.oci import fastjson

                    doc = fastjson.loads(line)
                    if "ok" not in doc:
                        shim_pid = int(doc.get("pid", 0))
                        continue
                    break
        finally:
            writer.close()
    except BaseException as exc:
        if shim_pid:
            # Its process may hold other containers: ask it to end this one (it kills the
            # runtime's create, or the init if create just finished).
            _send_kill(spec.state_dir)
        if isinstance(exc, TimeoutError):
            raise SystemFailure(
                f"the OCI runtime's create of container {spec.cid} took more than {CREATE_TIMEOUT:.0f} s: "
                "look for a hook that hangs"
            ) from None
        raise
    if not doc.get("ok"):
        raise SystemFailure(f"OCI runtime create failed: {doc.get('error', 'no message')}")
    return Shim._from_doc(spec.state_dir, doc)


def _send_kill(state_dir: Path) -> bool:
    """Ask the shim of ``state_dir`` to SIGKILL its container and finish; False if it is gone.

    Blocking, but local and short: connect, one line each way (a 2 s bound).
    """
    from dockyard.oci import fastjson

    path = os.path.join(state_dir, st.SOCKET)
    dir_fd = os.open(state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) if st.needs_dir_fd(path) else None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2.0)
            sock.connect(st.unix_path(path, dir_fd))
            sock.sendall((fastjson.dumps({"kill": True}) + "\n").encode())
            sock.recv(256)
        return True
    except OSError:
        return False  # no socket (the shim is gone) or it did not answer in time
    finally:
        if dir_fd is not None:
            os.close(dir_fd)


# ---------------------------------------------------------------- a running shim


class Shim:
    """A container's shim, from :func:`start_shim` or :meth:`reconnect`."""

    def __init__(
        self,
        state_dir: Path,
        pid: int,
        start_time: int,
        init_pid: int,
        init_start_time: int,
        tty: bool,
        log_path: Path | None,
        cid: str = "",
    ) -> None:
        self.state_dir = Path(state_dir)
        self.pid = pid
        self.start_time = start_time
        self.init_pid = init_pid
        self.init_start_time = init_start_time
        self.tty = tty
        self.log_path = log_path
        self.cid = cid or self.state_dir.name
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def _from_doc(cls, state_dir: Path, doc: dict[str, Any]) -> Shim:
        log = doc.get("log_path")
        return cls(
            state_dir,
            pid=int(doc["pid"]),
            start_time=int(doc.get("start_time") or 0),
            init_pid=int(doc["init_pid"]),
            init_start_time=int(doc.get("init_start_time") or 0),
            tty=bool(doc.get("tty")),
            log_path=Path(log) if isinstance(log, str) else None,
            cid=str(doc.get("cid") or ""),
        )

    @classmethod
    def reconnect(cls, state_dir: Path) -> Shim | None:
        """The shim recorded in ``state_dir`` (after a daemon restart); None if there is none.

        A shim that has exited meanwhile is returned too: its :meth:`wait` returns at once with
        the status in exit.json (or 255 if it died without writing one). None means no shim
        ever finished a create here: the folder is gone (a reboot empties /run) or the daemon
        died during start_shim.
        """
        doc = st.read_json(os.path.join(state_dir, st.PID_FILE))
        if doc is None or "pid" not in doc or "init_pid" not in doc:
            return None
        return cls._from_doc(Path(state_dir), doc)

    # ------------------------------------------------------------ state

    @property
    def running(self) -> bool:
        """True while the shim monitors the container: its process lives and exit.json is not
        written yet (the container may be in its last milliseconds)."""
        return st.alive(self.pid, self.start_time) and not os.path.exists(
            os.path.join(self.state_dir, st.EXIT_FILE)
        )

    def exit_status(self) -> ExitStatus | None:
        """The container's exit status once the shim wrote it, else None (never blocks)."""
        doc = st.read_json(os.path.join(self.state_dir, st.EXIT_FILE))
        if doc is None:
            return None
        return ExitStatus(
            code=int(doc.get("exit_code", st.UNKNOWN_EXIT)),  # type: ignore[call-overload]
            finished_at=str(doc.get("finished_at") or format_time(time.time_ns())),
            oom_killed=bool(doc.get("oom_killed")),
        )

    async def wait(self) -> ExitStatus:
        """Wait until the container exited and its shim wrote exit.json; the exit status.

        A "wait" request on shim.sock, answered once exit.json is written (the shim's process
        may hold other containers too, so its own exit says nothing about this one). The
        connection ending without an answer means the shim process died: if it wrote no
        exit.json the status is lost, reported as code 255 and the time it was noticed, as
        dockerd reports such a container.
        """
        status = self.exit_status()
        if status is not None:
            return status
        try:
            reader, writer, _ = await self._request({"wait": True}, answer=False)
        except (Conflict, OSError):
            pass  # no socket, or reset while it closed: the shim finished (exit.json) or died
        else:
            try:
                await reader.read()
            except OSError:
                pass  # reset: the shim closed its socket (after exit.json) or died
            finally:
                writer.close()
        status = self.exit_status()
        if status is None:
            status = ExitStatus(st.UNKNOWN_EXIT, format_time(time.time_ns()), False)
        if _pool is not None:
            _pool.tidy()  # a group may have just become empty: retire it
        return status

    def kill(self) -> None:
        """End the container's monitoring: its init is SIGKILLed if it still runs, the shim
        writes exit.json and lets go of it (a shim process of one container then exits).
        Idempotent; for a container that is gone or must go (a failed start)."""
        _send_kill(self.state_dir)

    # ------------------------------------------------------------ attach and resize

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        path = os.path.join(self.state_dir, st.SOCKET)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        dir_fd = (
            os.open(self.state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            if st.needs_dir_fd(path)
            else None
        )
        try:
            await asyncio.get_running_loop().sock_connect(sock, st.unix_path(path, dir_fd))
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
            sock.close()
            raise Conflict(
                f"container {self.cid} is not running: its shim ({path}) is gone; start the container first"
            ) from None
        except BaseException:
            sock.close()
            raise
        finally:
            if dir_fd is not None:
                os.close(dir_fd)
        return await asyncio.open_unix_connection(sock=sock, limit=1 << 20)

    async def _request(
        self, req: dict[str, Any], answer: bool = True
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, dict[str, Any]]:
        from dockyard.oci import fastjson

        reader, writer = await self._connect()
        try:
            writer.write((fastjson.dumps(req) + "\n").encode())
            await writer.drain()
            if not answer:
                return reader, writer, {}
            line = await reader.readline()
            if not line:
                raise Conflict(f"container {self.cid} is not running: its shim closed the connection")
            reply = fastjson.loads(line)
            if "error" in reply:
                raise SystemFailure(f"shim of container {self.cid}: {reply['error']}")
        except BaseException:
            writer.close()
            raise
        return reader, writer, reply

    async def attach(
        self, stdin: bool, stdout: bool, stderr: bool, logs: bool = False
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A live stream of the container: output raw with a TTY, stdcopy frames without one.

        Bytes written go to the container's stdin (if it has OpenStdin and ``stdin``);
        ``write_eof()`` closes it when the container has StdinOnce and this was the first
        client to attach stdin. With ``logs`` the json-file log is replayed first, up to the
        exact point where the live stream starts.
        """
        reader, writer, reply = await self._request(
            {"stdin": stdin, "stdout": stdout, "stderr": stderr, "logs": logs}
        )
        position = reply.get("log")
        if not logs or not position or self.log_path is None:
            return reader, writer
        out = asyncio.StreamReader(limit=1 << 20)
        task = asyncio.get_running_loop().create_task(
            self._replay(reader, out, self.log_path, int(position[0]), int(position[1]), stdout, stderr)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return out, writer

    async def _replay(
        self,
        live: asyncio.StreamReader,
        out: asyncio.StreamReader,
        log_path: Path,
        inode: int,
        offset: int,
        stdout: bool,
        stderr: bool,
    ) -> None:
        from dockyard.engine.logs import read_log_until
        from dockyard.engine.stdcopy import STREAM_IDS, frame

        try:
            for n, (stream, data) in enumerate(read_log_until(log_path, inode, offset)):
                if not (stdout if stream == "stdout" else stderr):
                    continue
                out.feed_data(data if self.tty else frame(STREAM_IDS.get(stream, 1), data))
                if n % 256 == 255:
                    await asyncio.sleep(0)
            while chunk := await live.read(65536):
                out.feed_data(chunk)
        except (OSError, asyncio.IncompleteReadError):
            pass  # the connection broke: the reader sees the end of the stream
        finally:
            out.feed_eof()

    async def resize(self, height: int, width: int) -> None:
        """Set the container's terminal size (TIOCSWINSZ on the pty master); no-op without a TTY."""
        _reader, writer, _reply = await self._request({"resize": [height, width]})
        writer.close()
