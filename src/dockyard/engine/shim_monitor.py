"""One container, watched: its stdio, its log, its attach clients and its exit.

Life of a monitor, all inside a :class:`~dockyard.engine.shim_loop.Loop`:

1. **create**: ``<runtime> create --bundle B --pid-file P [--console-socket S] <cid>`` is spawned
   with the container's stdio as its own: without a TTY the runtime hands its fds 0-2 to the
   container process (runc's "detached, no terminal" mode; docs/runtime-internals.md), so they
   are three pipes whose other ends the shim keeps; with a TTY they are /dev/null and a pipe
   that only catches the runtime's own error text, and the pty master arrives over the console
   socket. Output during create (hooks, the runtime's error) is held back: logged once create
   succeeded, or turned into the error message when it failed.
2. **running**: output is read as soon as it arrives (the container never blocks on us), written
   to the json-file log and fanned out to attach clients; stdin from clients is queued for the
   container. The init, once the runtime exited, is our child (we are the subreaper).
3. **exit**: the init is reaped; its stdin is closed; the output is drained until every writer
   closed it (the kernel kills a pid namespace's processes with its init) or
   :data:`DRAIN_TIMEOUT` passed (processes outside one may hold a pipe forever); then the log is
   closed, attach clients get what is queued and are closed, and exit.json is written
   atomically -- the last step, so whoever sees it finds the log complete.

Standard library only (and the leaves): this module runs in the shim.
"""

from __future__ import annotations

import functools
import os
import time

from dockyard.engine import shim_state as st
from dockyard.engine.logs import JsonFileWriter, format_time
from dockyard.engine.shim_attach import AttachServer
from dockyard.engine.shim_loop import IN, OUT, Loop

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable
    from typing import Any

#: How long output may keep coming after the init exited.
DRAIN_TIMEOUT = 2.0
#: Output held back during create, at most (the rest is dropped: a hook that floods stdout).
EARLY_LIMIT = 1 << 20
#: How long the pty master may take to arrive after a successful create (it was sent before
#: "ready": only a runtime that does not follow runc's protocol lets this run out).
CONSOLE_TIMEOUT = 5.0
_READ = 65536


class Monitor:
    def __init__(
        self,
        loop: Loop,
        spec: dict[str, Any],
        on_created: Callable[[dict[str, Any]], None],
        on_done: Callable[[], None],
    ) -> None:
        self.loop = loop
        self.spec = spec
        self.on_created = on_created
        self.on_done = on_done
        self.cid: str = spec["cid"]
        self.state_dir: str = os.path.abspath(spec["state_dir"])
        self.tty: bool = bool(spec.get("tty"))
        self.stdin_once: bool = bool(spec.get("stdin_once"))
        self.dir_fd = -1
        self.attach: AttachServer | None = None
        self.log: JsonFileWriter | None = None
        self.log_errors = 0
        self.outputs: dict[int, str] = {}  # readable fd -> stream name
        self.stdin_fd = -1  # the pipe to the container's stdin, or the pty master
        self.stdin_buf = bytearray()
        self.stdin_closing = False
        self.master = -1
        self.console: socket.socket | None = None
        self.console_conn: socket.socket | None = None
        self.runtime_done = False
        self.runtime_reaped = False
        self.runtime_pid = 0
        self.init_pid = 0
        self.created = False
        self.exited = False
        self.finished = False
        self.early: list[tuple[str, bytes, int]] = []
        self.early_size = 0
        self.exit_code = 0
        self.finished_at = ""
        self.oom_file = ""

    # ------------------------------------------------------------ create

    def start(self) -> None:
        """Clear what a previous run left, listen for attach, spawn ``<runtime> create``."""
        os.makedirs(self.state_dir, 0o711, exist_ok=True)
        self.dir_fd = os.open(self.state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        for name in st.STALE:
            try:
                os.unlink(name, dir_fd=self.dir_fd)
            except FileNotFoundError:
                pass  # the usual case: a fresh folder
        self.attach = AttachServer(self.loop, os.path.join(self.state_dir, st.SOCKET), self.dir_fd, self)
        log_path = self.spec.get("log_path")
        if log_path:
            try:
                self.log = JsonFileWriter(
                    log_path, self.spec.get("log_max_size"), int(self.spec.get("log_max_file") or 1)
                )
            except OSError as exc:
                from dockyard.errors import SystemFailure

                raise SystemFailure(
                    f"cannot open the container's log file {log_path}: {exc.strerror}: "
                    "its folder must exist and be writable",
                    exc.errno or 0,
                ) from None
        child_fds: list[int] = []
        try:
            null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
            child_fds.append(null)
            if self.tty:
                cap_r, cap_w = os.pipe2(os.O_CLOEXEC)
                child_fds.append(cap_w)
                self._add_output(cap_r, "stderr")
                stdio = (null, cap_w, cap_w)
                console_path = self._listen_console()
            else:
                out_r, out_w = os.pipe2(os.O_CLOEXEC)
                child_fds.append(out_w)
                self._add_output(out_r, "stdout")
                err_r, err_w = os.pipe2(os.O_CLOEXEC)
                child_fds.append(err_w)
                self._add_output(err_r, "stderr")
                stdin_r = null
                if self.spec.get("open_stdin"):
                    stdin_r, self.stdin_fd = os.pipe2(os.O_CLOEXEC)
                    child_fds.append(stdin_r)
                    os.set_blocking(self.stdin_fd, False)
                stdio = (stdin_r, out_w, err_w)
                console_path = ""
            self.runtime_pid = self._spawn(self._create_argv(console_path), stdio)
        finally:
            for fd in child_fds:
                os.close(fd)
        self.loop.watch_child(self.runtime_pid, self._runtime_exited)

    def _create_argv(self, console_path: str) -> list[str]:
        sd = self.state_dir
        argv = [
            *self.spec["runtime"],
            "--log",
            os.path.join(sd, st.RUNTIME_LOG),
            "--log-format",
            "json",
            "create",
            "--bundle",
            os.path.abspath(self.spec["bundle"]),
            "--pid-file",
            os.path.join(sd, st.INIT_PID_FILE),
        ]
        if console_path:
            argv += ["--console-socket", console_path]
        return [*argv, self.cid]

    def _spawn(self, argv: list[str], stdio: tuple[int, int, int]) -> int:
        import signal

        actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(stdio)]
        # Python ignores SIGPIPE and SIGXFSZ, and ignored dispositions survive execve: the
        # runtime (and through it the container) must start with the defaults.
        sigdef = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD, signal.SIGINT, signal.SIGHUP)
        spawn = os.posix_spawn if "/" in argv[0] else os.posix_spawnp
        try:
            return spawn(argv[0], argv, os.environ, file_actions=actions, setsigdef=sigdef, setsigmask=())
        except OSError as exc:
            from dockyard.errors import SystemFailure

            raise SystemFailure(
                f"cannot run the OCI runtime {argv[0]!r}: {exc.strerror}: give the path of runc or "
                "dockyard-runtime",
                exc.errno or 0,
            ) from None

    def _listen_console(self) -> str:
        import socket

        from dockyard.engine.shim_state import needs_dir_fd, unix_path

        path = os.path.join(self.state_dir, st.CONSOLE_SOCKET)
        self.console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        self.console.bind(unix_path(path, self.dir_fd))
        self.console.listen(1)
        self.loop.add(self.console.fileno(), IN, self._on_console)
        if needs_dir_fd(path):
            # The runtime connects through our fd table: /proc/<shim>/fd/<dir> (root may).
            return f"/proc/{os.getpid()}/fd/{self.dir_fd}/{st.CONSOLE_SOCKET}"
        return path

    def _on_console(self, _events: int) -> None:
        """The runtime connected the console socket; the pty master follows on the connection."""
        assert self.console is not None
        try:
            conn, _ = self.console.accept()
        except (BlockingIOError, InterruptedError):
            return
        conn.setblocking(False)
        self.console_conn = conn
        self.loop.remove(self.console.fileno())
        self.loop.add(conn.fileno(), IN, self._on_console_conn)

    def _on_console_conn(self, _events: int) -> None:
        import socket

        assert self.console_conn is not None
        try:
            _msg, fds, _flags, _addr = socket.recv_fds(self.console_conn, 1024, 1)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            fds = []
        self._close_console()
        if not fds:
            return  # the runtime hung up without a terminal: its exit reports why
        self.master = fds[0]
        os.set_blocking(self.master, False)
        size = self.spec.get("console_size")
        if size:
            self.resize(int(size[0]), int(size[1]))
        self.stdin_fd = self.master
        self.outputs[self.master] = "stdout"
        self.loop.add(self.master, IN, self._on_master)
        if self.runtime_done:
            self._complete_create()

    def _close_console(self) -> None:
        if self.console_conn is not None:
            self.loop.remove(self.console_conn.fileno())
            self.console_conn.close()
            self.console_conn = None
        if self.console is not None:
            self.loop.remove(self.console.fileno())
            self.console.close()
            self.console = None
            try:
                os.unlink(st.CONSOLE_SOCKET, dir_fd=self.dir_fd)
            except FileNotFoundError:
                pass  # the runtime may remove it itself

    def _runtime_exited(self, status: int) -> None:
        self.runtime_reaped = True
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            self._fail(self._runtime_error(code))
            return
        self.runtime_done = True
        if self.tty and self.master < 0:
            # The init sent the master before it told the runtime it was ready, so it is in the
            # socket's queue already; the loop just has not read it yet.
            self.loop.call_later(CONSOLE_TIMEOUT, self._console_timeout)
            return
        self._complete_create()

    def _console_timeout(self) -> None:
        if self.master < 0 and not self.finished:
            self._fail("the container's terminal never arrived on the console socket")

    def _complete_create(self) -> None:
        try:
            with open(os.path.join(self.state_dir, st.INIT_PID_FILE), "rb") as f:
                self.init_pid = int(f.read().strip())
        except (OSError, ValueError) as exc:
            self._fail(f"the runtime's create succeeded but wrote no pid file: {exc}")
            return
        self.oom_file = _oom_file(self.init_pid)
        init_start = st.start_time(self.init_pid) or 0
        if self.tty:
            # The runtime's own stdout/stderr: of no use once it exited successfully.
            for fd, stream in list(self.outputs.items()):
                if fd != self.master and stream == "stderr":
                    self._close_output(fd)
            self.early = []
        doc = {
            "pid": os.getpid(),
            "start_time": st.start_time(os.getpid()),
            "init_pid": self.init_pid,
            "init_start_time": init_start,
            "tty": self.tty,
            "log_path": self.spec.get("log_path"),
            "cid": self.cid,
        }
        from dockyard.oci import fastjson
        from dockyard.util.atomic import write_atomic

        write_atomic(
            os.path.join(self.state_dir, st.PID_FILE), fastjson.dumps(doc).encode(), 0o644, sync=False
        )
        self.created = True
        early, self.early = self.early, []
        for stream, data, t_ns in early:
            self._emit(stream, data, t_ns)
        self.on_created({"ok": True, **doc})
        self.loop.watch_child(self.init_pid, self._init_exited)

    def _runtime_error(self, code: int) -> str:
        """The runtime's error: the last error line of its --log, else its stderr text."""
        from dockyard.oci import fastjson

        msg = ""
        try:
            with open(os.path.join(self.state_dir, st.RUNTIME_LOG), "rb") as f:
                for line in f:
                    try:
                        entry = fastjson.loads(line)
                    except ValueError:
                        continue
                    if isinstance(entry, dict) and entry.get("level") in ("error", "fatal"):
                        msg = str(entry.get("msg", ""))
        except FileNotFoundError:
            pass  # the runtime failed before it opened its log
        if not msg:
            # What the runtime printed (its stderr is the container's stderr pipe, or the
            # capture pipe with a TTY): drain what is left, then keep the last line.
            for fd, stream in list(self.outputs.items()):
                if stream == "stderr":
                    self._drain(fd)
            text = b"".join(d for s, d, _ in self.early if s == "stderr").decode("utf-8", "replace")
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            msg = lines[-1] if lines else ""
        if msg:
            return msg
        if code < 0:
            return f"the OCI runtime's create was killed by signal {-code}"
        return f"the OCI runtime's create exited with status {code} and printed nothing"

    def _drain(self, fd: int) -> None:
        try:
            while data := os.read(fd, _READ):
                self._emit(self.outputs.get(fd, "stderr"), data)
        except (BlockingIOError, OSError):
            pass

    def abort(self, message: str) -> None:
        """Give up on this container before it was created (a bad spec, an fd limit)."""
        self._fail(message)

    def _fail(self, message: str) -> None:
        """Create failed: clean up, then report (the daemon may look at the folder at once)."""
        self.finished = True
        for fd in list(self.outputs):
            self._close_output(fd)
        self._close_console()
        if self.attach is not None:
            self.attach.close()
        if self.log is not None:
            self.log.close()
        if self.stdin_fd >= 0 and self.stdin_fd != self.master:
            self.loop.remove(self.stdin_fd)
            os.close(self.stdin_fd)
        if self.master >= 0:
            self.loop.remove(self.master)
            os.close(self.master)
        self.stdin_fd = self.master = -1
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1
        self.on_created({"ok": False, "error": message})
        self.on_done()

    # ------------------------------------------------------------ output

    def _add_output(self, fd: int, stream: str) -> None:
        os.set_blocking(fd, False)
        self.outputs[fd] = stream
        self.loop.add(fd, IN, functools.partial(self._on_output_event, fd))

    def _on_output_event(self, fd: int, _events: int) -> None:
        self._on_output(fd)

    def _on_output(self, fd: int) -> None:
        try:
            data = os.read(fd, _READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""  # EIO from a pty master: its slave side is closed
        if data:
            self._emit(self.outputs[fd], data)
        else:
            self._close_output(fd)

    def _on_master(self, events: int) -> None:
        if events & OUT:
            self._flush_stdin()
        if events & ~OUT:
            self._on_output(self.master)

    def _emit(self, stream: str, data: bytes, t_ns: int | None = None) -> None:
        if not self.created:
            if self.early_size < EARLY_LIMIT:
                self.early.append((stream, data, time.time_ns()))
                self.early_size += len(data)
            return
        if self.log is not None:
            try:
                self.log.write(stream, data, t_ns)
            except OSError:
                self.log_errors += 1  # a full disk: the entry is lost, the container goes on
        if self.attach is not None:
            self.attach.broadcast(stream, data)

    def _close_output(self, fd: int) -> None:
        if self.outputs.pop(fd, None) is None:
            return
        if fd == self.master:
            # The slave side is gone; the master stays open (stdin writes, resize) till the end.
            self._update_master()
        else:
            self.loop.remove(fd)
            os.close(fd)
        if self.exited and not self.outputs:
            self._finish()

    # ------------------------------------------------------------ stdin (the attach server's host)

    @property
    def stdin_open(self) -> bool:
        return self.stdin_fd >= 0 and not self.stdin_closing and not self.exited

    def write_stdin(self, data: bytes) -> None:
        if not self.stdin_open:
            return
        if self.stdin_buf:
            self.stdin_buf += data
            return
        try:
            n = os.write(self.stdin_fd, data)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError:
            self._stdin_gone()  # EPIPE: the container closed its stdin
            return
        if n < len(data):
            self.stdin_buf += data[n:]
            self._update_stdin()

    def stdin_backlog(self) -> int:
        return len(self.stdin_buf)

    def _flush_stdin(self) -> None:
        if self.stdin_fd < 0:
            return
        if self.stdin_buf:
            try:
                n = os.write(self.stdin_fd, self.stdin_buf)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._stdin_gone()
                return
            del self.stdin_buf[:n]
        if not self.stdin_buf:
            self._update_stdin()
            if self.stdin_closing:
                self._really_close_stdin()
            elif self.attach is not None:
                self.attach.resume_stdin()

    def _update_stdin(self) -> None:
        if self.stdin_fd < 0:
            return
        if self.stdin_fd == self.master:
            self._update_master()
        elif self.stdin_buf:
            if not self.loop.watching(self.stdin_fd):
                self.loop.add(self.stdin_fd, OUT, lambda ev: self._flush_stdin())
        else:
            self.loop.remove(self.stdin_fd)

    def _update_master(self) -> None:
        if self.master < 0:
            return
        if self.master in self.outputs:
            self.loop.modify(self.master, IN | (OUT if self.stdin_buf else 0))
        else:
            # The slave side is closed: epoll would report EPOLLHUP on every wait (it cannot be
            # masked), and writes fail with EIO anyway. Stop watching the master.
            self.loop.remove(self.master)
            self.stdin_buf.clear()

    def close_stdin(self) -> None:
        """StdinOnce: the first stdin client hung up. Queued bytes go first."""
        if self.stdin_fd < 0 or self.stdin_closing:
            return
        self.stdin_closing = True
        if not self.stdin_buf:
            self._really_close_stdin()

    def _really_close_stdin(self) -> None:
        if self.stdin_fd == self.master:
            # A pty has no end of input to close: send the EOF character (VEOF, ^D), which
            # ends a read of a program in canonical mode, as a user typing it would.
            try:
                os.write(self.master, b"\x04")
            except OSError:
                pass  # the slave is gone: nobody reads anymore
            self.stdin_closing = False
            return
        self._stdin_gone()

    def _stdin_gone(self) -> None:
        self.stdin_buf.clear()
        if self.stdin_fd >= 0 and self.stdin_fd != self.master:
            self.loop.remove(self.stdin_fd)
            os.close(self.stdin_fd)
            self.stdin_fd = -1
        if self.attach is not None:
            self.attach.resume_stdin()

    def resize(self, height: int, width: int) -> str | None:
        if self.master < 0:
            return None  # no TTY: nothing to resize, and dockerd does not complain either
        import fcntl
        import struct
        import termios

        try:
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
        except OSError as exc:
            return f"resize to {height}x{width}: {exc.strerror}"
        return None

    def log_position(self) -> tuple[int, int] | None:
        return None if self.log is None else self.log.position()

    def kill(self) -> None:
        """End this container's monitoring now: SIGKILL its init if it runs; exit follows.

        During create it is the runtime that is killed: create then fails and the monitor ends;
        what the runtime had made of the container is for the daemon to ``delete --force``.
        """
        import signal

        # Both are our children and not yet reaped, so neither pid can name another process.
        if not self.created:
            target = self.runtime_pid if not self.runtime_reaped else 0
        else:
            target = self.init_pid if not self.exited else 0
        if target:
            try:
                os.kill(target, signal.SIGKILL)
            except ProcessLookupError:
                pass  # exited; the SIGCHLD is on its way

    # ------------------------------------------------------------ exit

    def _init_exited(self, status: int) -> None:
        code = os.waitstatus_to_exitcode(status)
        # Killed by signal n: 128 + n, as a shell (and Docker) reports it.
        self.exit_code = 128 - code if code < 0 else code
        self.finished_at = format_time(time.time_ns())
        self.exited = True
        if self.stdin_fd >= 0 and self.stdin_fd != self.master:
            self._stdin_gone()
        if not self.outputs:
            self._finish()
        else:
            self.loop.call_later(DRAIN_TIMEOUT, self._finish)

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        for fd in list(self.outputs):
            self._drain(fd)
            self._close_output(fd)
        if self.log is not None:
            self.log.close()
        if self.master >= 0:
            self.loop.remove(self.master)
            os.close(self.master)
            self.master = self.stdin_fd = -1
        if self.attach is not None:
            self.attach.close_streams(self._write_exit)
        else:
            self._write_exit()

    def _write_exit(self) -> None:
        """The last step: exit.json, then the waiters' answers; whoever sees it finds all done."""
        from dockyard.oci import fastjson
        from dockyard.util.atomic import write_atomic

        doc = {
            "exit_code": self.exit_code,
            "finished_at": self.finished_at,
            "oom_killed": _oom_killed(self.oom_file),
            "pid": self.init_pid,
        }
        write_atomic(
            os.path.join(self.state_dir, st.EXIT_FILE), fastjson.dumps(doc).encode(), 0o644, sync=False
        )
        if self.attach is not None:
            self.attach.close(doc)
        os.close(self.dir_fd)
        self.dir_fd = -1
        self.on_done()


def _oom_file(pid: int) -> str:
    """The file whose oom_kill count says whether the kernel's OOM killer hit the container.

    cgroup v1: memory.oom_control of the memory hierarchy (its "oom_kill" line since Linux
    4.13); v2: memory.events. On a hybrid host (v1 controllers, a v2 mount holding none or few)
    the v1 memory controller is the one that limits, so it wins.
    """
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    unified = ""
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return f"/sys/fs/cgroup/memory{path}/memory.oom_control"
        if controllers == "":
            unified = path
    if unified and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return f"/sys/fs/cgroup{unified}/memory.events"
    return ""


def _oom_killed(path: str) -> bool:
    if not path:
        return False
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value) > 0
    except (OSError, ValueError):
        pass  # the cgroup is gone already (deleted by the runtime): no OOM information
    return False
