"""``docker exec``: more processes in a running container, through the OCI runtime's ``exec``.

Each start runs ``<runtime> --log L --log-format json exec --process P --pid-file F <id>`` in the
foreground: the runtime joins the container, starts the process and waits for it, exiting with
its code, with any OCI runtime (runc and dockyard-runtime alike). Without a TTY the runtime's
stdio are pipes the daemon reads (stdout and stderr apart, framed for the client as Docker's
stdcopy); with a TTY they are the slave of a pty the daemon holds, and the runtime proxies the
container's terminal through it (``runc exec -t`` without ``-d``; resize = set our pty's size and
SIGWINCH the runtime, which copies it).

Failures to start are told apart from the process's own exit codes by the runtime's log (a
JSON line at level "error"); they are reported as dockerd does: the message
``OCI runtime exec failed: ...: unknown`` in the output stream and ExitCode 126, or 127 when
the executable does not exist. A missing or non-executable command is found before the runtime
is run (looked up in the container's PATH through its root), so the message is not mixed with
the runtime's own stderr.

Exec records live in memory, as in dockerd: they do not survive a daemon restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import fcntl
import json
import os
import secrets
import shutil
import signal
import stat
import struct
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.engine import user as users
from dockyard.engine.archive_resolve import MissingParent, Root
from dockyard.engine.events import EventBus
from dockyard.engine.exec_detach import parse_detach_keys
from dockyard.engine.stdcopy import STDERR, STDOUT, frame
from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound
from dockyard.runtime.capabilities import CAPS

_PROBE_OUTPUT = 4096
_MAX_FINISHED = 256
_DRAIN_AFTER_EXIT = 1.0
_MAX_QUEUED = 64  # output chunks held for a slow reader before the process is made to wait


@dataclass
class ExecTarget:
    """What the engine knows of the container, fresh at each call."""

    container_id: str
    name: str
    image: str
    pid: int
    status: str
    process: dict[str, Any]
    working_dir: str = ""
    user: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    runtime: list[str] | None = None  # the container's runtime argv prefix; None: the manager's

    def attributes(self) -> dict[str, str]:
        attrs = dict(self.labels)
        attrs["image"] = self.image
        attrs["name"] = self.name.lstrip("/")
        return attrs

    def root(self) -> Root:
        return Root(f"/proc/{self.pid}/root")


class StartError(DockyardError):
    """The process could not be started; ``exit_code`` 126 or 127 as dockerd reports it."""

    http_status = 400  # dockerd: startInvalidConfigError (InvalidParameter)

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code


def _start_error(message: str, argv0: str) -> StartError:
    return StartError(*_translate(message, argv0))


@dataclass
class ExecRecord:
    id: str
    container_id: str
    cmd: list[str]
    env: list[str]
    user: str
    working_dir: str
    tty: bool
    attach_stdin: bool
    attach_stdout: bool
    attach_stderr: bool
    privileged: bool
    detach_keys: str
    console_size: tuple[int, int] | None
    running: bool = False
    exit_code: int | None = None
    pid: int = 0
    finished: float = 0.0
    session: ExecSession | None = None
    merge_output: bool = False  # stderr into stdout's pipe: one stream in the order written (probes)

    def inspect(self) -> dict[str, Any]:
        pc: dict[str, Any] = {
            "tty": self.tty,
            "entrypoint": self.cmd[0],
            "arguments": self.cmd[1:],
            "privileged": self.privileged,
        }
        if self.user:
            pc["user"] = self.user
        return {
            "ID": self.id,
            "Running": self.running,
            "ExitCode": self.exit_code,
            "ProcessConfig": pc,
            "OpenStdin": self.attach_stdin,
            "OpenStderr": self.attach_stderr,
            "OpenStdout": self.attach_stdout,
            "CanRemove": False,
            "ContainerID": self.container_id,
            "DetachKeys": self.detach_keys,
            "Pid": self.pid,
        }


class _Fields:
    """A JSON object read as Go's encoding/json reads it into a struct: field names match
    case-insensitively (docker-py sends ``detachKeys`` for ``DetachKeys``)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self._doc = {str(k).lower(): v for k, v in doc.items()}

    def get(self, key: str, default: Any = None) -> Any:
        return self._doc.get(key.lower(), default)


def _bool(config: _Fields, key: str) -> bool:
    value = config.get(key, False)
    if not isinstance(value, bool) and value is not None:
        raise InvalidArgument(f"{key} must be true or false, not {value!r}")
    return bool(value)


def _str_list(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"{key} must be a list of strings, not {value!r}")
    return list(value)


def merge_env(base: list[str], extra: list[str]) -> list[str]:
    """``extra`` replaces same-named entries of ``base`` in place, else is appended
    (moby's ReplaceOrAppendEnvValues; "NAME" without "=" removes NAME)."""
    out = list(base)
    for item in extra:
        key = item.split("=", 1)[0]
        idx = next((i for i, e in enumerate(out) if e.split("=", 1)[0] == key), None)
        if "=" not in item:
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(item)
        else:
            out[idx] = item
    return out


def _env_value(env: list[str], key: str) -> str | None:
    for e in env:
        k, eq, v = e.partition("=")
        if eq and k == key:
            return v
    return None


def find_executable(root: Root, argv0: str, env: list[str], cwd: str) -> None:
    """Raise :class:`StartError` as runc would fail the execve: not found (127) or not
    executable (126). Names with a "/" are taken relative to ``cwd``; others searched in PATH."""
    if "/" in argv0:
        path = argv0 if argv0.startswith("/") else f"{cwd.rstrip('/')}/{argv0}"
        status = _probe_file(root, path)
        if status == "missing":
            raise _start_error(f'exec: "{argv0}": stat {argv0}: no such file or directory', argv0)
        if status in ("denied", "denied-file"):
            raise _start_error(f'exec: "{argv0}": permission denied', argv0)
        return
    search = _env_value(env, "PATH")
    if search is None:
        search = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    denied = False
    for folder in search.split(":"):
        folder = folder or "."
        if not folder.startswith("/"):
            folder = f"{cwd.rstrip('/')}/{folder}"
        status = _probe_file(root, f"{folder.rstrip('/')}/{argv0}")
        if status == "ok":
            return
        denied = denied or status == "denied-file"
    if denied:
        raise _start_error(f'exec: "{argv0}": permission denied', argv0)
    raise _start_error(f'exec: "{argv0}": executable file not found in $PATH', argv0)


def _probe_file(root: Root, path: str) -> str:
    """ "ok", "missing", "denied" (a folder), or "denied-file" (a file without x bits)."""
    try:
        res = root.resolve(path, follow=True)
    except (MissingParent, InvalidArgument):
        return "missing"
    with res:
        if not res.exists:
            return "missing"
        mode = res.lstat().st_mode
    if stat.S_ISDIR(mode):
        return "denied"
    if not stat.S_ISREG(mode):
        return "denied-file"
    return "ok" if mode & 0o111 else "denied-file"


def _translate(message: str, argv0: str) -> tuple[str, int]:
    """dockerd's translateContainerdStartErr: the message shown and the exit code."""
    if message.startswith("exec: "):
        # runc's wording for a failed execve; dockyard-runtime leaves the prefix out.
        message = "exec failed: unable to start container process: " + message
    text = f"OCI runtime exec failed: {message}: unknown"
    low = text.lower()
    code = 126
    if argv0.lower() in low and ("executable file not found" in low or "no such file or directory" in low):
        code = 127
    if "permission denied" in low:
        code = 126
    return text, code


def _runtime_error(log_path: Path) -> str | None:
    """The last error the runtime logged (its --log JSON lines), or None."""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    message = None
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "fatal"):
            message = str(entry.get("msg", ""))
    return message


class ExecSession:
    """One started exec: its output, its stdin and its exit code."""

    def __init__(self, record: ExecRecord) -> None:
        self.record = record
        self.tty = record.tty
        self._out: asyncio.Queue[bytes] = asyncio.Queue()
        self._done = asyncio.get_running_loop().create_future()
        self.proc: asyncio.subprocess.Process | None = None
        self.master = -1
        self.error: str | None = None
        self._discard = False
        self._space = asyncio.Event()
        self._space.set()
        self.progress = 0  # chunks queued so far
        self.waiting_for_reader = False
        self._stdin: asyncio.StreamWriter | None = None

    async def read(self) -> bytes:
        """Output: raw with a TTY, stdcopy frames without; b"" once it has all been read."""
        data = await self._out.get()
        self._space.set()
        return data

    async def write(self, data: bytes) -> None:
        if not self.record.attach_stdin:
            return  # dockerd drops input for an exec created without AttachStdin
        if self.master >= 0:
            await asyncio.get_running_loop().run_in_executor(None, _write_all, self.master, data)
        elif self._stdin is not None and not self._stdin.is_closing():
            try:
                self._stdin.write(data)
                await self._stdin.drain()
            except (ConnectionError, BrokenPipeError):
                pass  # the process closed its stdin or exited: input is dropped, as dockerd does

    async def close_stdin(self) -> None:
        if not self.record.attach_stdin:
            return
        if self._stdin is not None and not self._stdin.is_closing():
            self._stdin.close()
        elif self.master >= 0:
            # A terminal has no half-close: ^D at the start of a line is its end of input.
            try:
                os.write(self.master, b"\x04")
            except OSError:
                pass

    async def wait(self) -> int:
        code: int = await asyncio.shield(self._done)
        return code

    def discard_output(self) -> None:
        """Nobody reads any more (the client left): drop output instead of keeping it."""
        self._discard = True
        while not self._out.empty():
            self._out.get_nowait()
        self._space.set()

    async def _put(self, data: bytes) -> None:
        """Queue output, waiting while the reader is behind: the pipes (or the pty) then fill
        and the process blocks on its writes, as it would under dockerd with a slow client."""
        while self._out.qsize() >= _MAX_QUEUED and not self._discard:
            self._space.clear()
            self.waiting_for_reader = True
            try:
                await self._space.wait()
            finally:
                self.waiting_for_reader = False
        self.progress += 1
        if not self._discard:
            self._out.put_nowait(data)

    def _emit(self, data: bytes) -> None:
        if not self._discard or not data:
            self._out.put_nowait(data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            time.sleep(0.005)
            continue
        except OSError:
            return  # the pty is gone: the process exited
        view = view[n:]


class ExecManager:
    """Creates, starts and tracks execs; see the module docstring."""

    def __init__(self, runtime: list[str], state_dir: Path, events: EventBus) -> None:
        self.runtime = list(runtime)
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.events = events
        self._execs: dict[str, ExecRecord] = {}

    # ------------------------------------------------------------ records

    def _get(self, exec_id: str) -> ExecRecord:
        rec = self._execs.get(exec_id)
        if rec is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return rec

    def container_of(self, exec_id: str) -> str:
        return self._get(exec_id).container_id

    def inspect(self, exec_id: str) -> dict[str, Any]:
        return self._get(exec_id).inspect()

    def list_for(self, container_id: str) -> list[str]:
        """Ids of the container's execs (inspect's ExecIDs): the ones still running."""
        return [r.id for r in self._execs.values() if r.container_id == container_id and r.running]

    def forget_container(self, container_id: str) -> None:
        for key in [k for k, r in self._execs.items() if r.container_id == container_id]:
            del self._execs[key]

    def _trim(self) -> None:
        done = sorted((r for r in self._execs.values() if r.exit_code is not None), key=lambda r: r.finished)
        for rec in done[: max(0, len(done) - _MAX_FINISHED)]:
            self._execs.pop(rec.id, None)

    @staticmethod
    def _check_running(target: ExecTarget) -> None:
        cid = target.container_id
        if target.status == "paused":
            raise Conflict(f"Container {cid} is paused, unpause the container before exec")
        if target.status == "restarting":
            raise Conflict(f"Container {cid} is restarting, wait until the container is running")
        if target.status != "running" or target.pid <= 0:
            raise Conflict(f"container {cid} is not running")

    def create(self, target: ExecTarget, raw_config: dict[str, Any]) -> str:
        """Record an exec (POST /containers/{id}/exec); returns its id."""
        self._check_running(target)
        config = _Fields(raw_config)
        cmd = _str_list(config.get("Cmd"), "Cmd")
        if not cmd:
            raise InvalidArgument("No exec command specified")
        size = config.get("ConsoleSize")
        console: tuple[int, int] | None = None
        if size:
            if not (
                isinstance(size, list) and len(size) == 2 and all(isinstance(x, int) and x >= 0 for x in size)
            ):
                raise InvalidArgument(f"ConsoleSize must be [height, width], not {size!r}")
            console = (size[0], size[1])
        user = config.get("User") or ""
        workdir = config.get("WorkingDir") or ""
        keys = config.get("DetachKeys") or ""
        if not all(isinstance(v, str) for v in (user, workdir, keys)):
            raise InvalidArgument("User, WorkingDir and DetachKeys must be strings")
        if keys:
            parse_detach_keys(keys)  # refused at create, as dockerd does
        if workdir and not workdir.startswith("/"):
            raise InvalidArgument(f"WorkingDir {workdir!r} is not an absolute path: start it with /")
        rec = ExecRecord(
            id=secrets.token_hex(32),
            container_id=target.container_id,
            cmd=cmd,
            env=_str_list(config.get("Env"), "Env"),
            user=user,
            working_dir=workdir,
            tty=_bool(config, "Tty"),
            attach_stdin=_bool(config, "AttachStdin"),
            attach_stdout=_bool(config, "AttachStdout"),
            attach_stderr=_bool(config, "AttachStderr"),
            privileged=_bool(config, "Privileged"),
            detach_keys=keys,
            console_size=console,
        )
        self._execs[rec.id] = rec
        self._trim()
        attrs = target.attributes()
        attrs["execID"] = rec.id
        self.events.publish("container", f"exec_create: {' '.join(cmd)}", target.container_id, attrs)
        return rec.id

    # ------------------------------------------------------------ the OCI process

    def build_process(
        self, rec: ExecRecord, target: ExecTarget, tty: bool, size: tuple[int, int] | None = None
    ) -> dict[str, Any]:
        """The ``process`` JSON for ``<runtime> exec --process``: the container's, with the exec's
        args, env, cwd, user and terminal (moby ContainerExecStart + execSetPlatformOpt)."""
        proc = copy.deepcopy(target.process)
        proc.pop("consoleSize", None)
        if tty and size and size[0] and size[1]:
            # The runtime sizes the new terminal before the process runs: a size set afterwards
            # (by our SIGWINCH) can come after the process already asked for it.
            proc["consoleSize"] = {"height": size[0], "width": size[1]}
        proc["args"] = list(rec.cmd)
        proc["terminal"] = tty
        env = merge_env(list(proc.get("env") or []), rec.env)
        if tty and _env_value(env, "TERM") is None:
            env.append("TERM=xterm")
        proc["cwd"] = rec.working_dir or target.working_dir or proc.get("cwd") or "/"
        user_spec = rec.user or target.user
        try:
            user = users.resolve(f"/proc/{target.pid}/root", user_spec)
        except InvalidArgument as exc:
            raise StartError(exc.message, 126) from None
        if rec.user:
            # Otherwise the container's own process.user stands (with its GroupAdd groups).
            proc["user"] = {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids}
        if _env_value(env, "HOME") is None:
            env.append(f"HOME={user.home}")
        proc["env"] = env
        if rec.privileged:
            every = sorted(CAPS, key=CAPS.__getitem__)
            proc["capabilities"] = {"bounding": every, "effective": every, "permitted": every}
            proc.pop("apparmorProfile", None)
        return proc

    def _prepare(
        self, rec: ExecRecord, target: ExecTarget, tty: bool, size: tuple[int, int] | None
    ) -> tuple[Path, list[str]]:
        """Write the process file; returns (work folder, argv)."""
        proc = self.build_process(rec, target, tty, size)
        with target.root() as root:
            find_executable(root, rec.cmd[0], proc["env"], proc["cwd"])
        work = self.state_dir / rec.id
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(mode=0o700)
        (work / "process.json").write_text(json.dumps(proc), encoding="utf-8")
        argv = [
            *(target.runtime or self.runtime),
            "--log",
            str(work / "log.json"),
            "--log-format",
            "json",
            "exec",
            "--process",
            str(work / "process.json"),
            "--pid-file",
            str(work / "pid"),
            target.container_id,
        ]
        return work, argv

    # ------------------------------------------------------------ start

    async def start(
        self,
        exec_id: str,
        target: ExecTarget,
        *,
        detach: bool,
        tty: bool | None = None,
        console_size: tuple[int, int] | None = None,
    ) -> ExecSession:
        """Start an exec (POST /exec/{id}/start). The session's output carries a start failure
        as dockerd writes it; with ``detach`` the output is discarded (read nothing)."""
        rec = self._get(exec_id)
        if rec.running:
            raise Conflict(f"Error: Exec command {exec_id} is already running")
        if rec.exit_code is not None:
            raise Conflict(f"exec command {exec_id} has already run")
        self._check_running(target)
        use_tty = rec.tty if tty is None else tty
        size = console_size or rec.console_size
        rec.running = True
        session = ExecSession(rec)
        rec.session = session
        attrs = target.attributes()
        attrs["execID"] = rec.id
        self.events.publish("container", f"exec_start: {' '.join(rec.cmd)}", target.container_id, attrs)
        loop = asyncio.get_running_loop()
        try:
            work, argv = await loop.run_in_executor(None, self._prepare, rec, target, use_tty, size)
        except StartError as exc:
            self._fail(rec, session, exc.message, exc.exit_code, attrs, to_stream=not detach)
            if detach:
                raise
            return session
        except BaseException:
            rec.running = False
            rec.session = None
            raise
        try:
            if use_tty:
                await self._spawn_tty(session, argv, size)
            else:
                await self._spawn_pipes(session, argv, detach)
        except OSError as exc:
            shutil.rmtree(work, ignore_errors=True)
            err = StartError(
                f"OCI runtime exec failed: cannot run {self.runtime[0]}: {exc.strerror}: unknown", 126
            )
            self._fail(rec, session, err.message, err.exit_code, attrs, to_stream=not detach)
            if detach:
                raise err from None
            return session
        waiter = asyncio.ensure_future(self._supervise(rec, session, work, attrs, detach))
        if detach:
            # dockerd answers a detached start once the process runs, or with the start error.
            while not (work / "pid").exists() and not waiter.done():
                await asyncio.sleep(0.005)
            if waiter.done() and session.error is not None:
                raise StartError(session.error, rec.exit_code or 126)
        return session

    def _fail(
        self,
        rec: ExecRecord,
        session: ExecSession,
        text: str,
        code: int,
        attrs: dict[str, str],
        *,
        to_stream: bool,
    ) -> None:
        session.error = text
        if to_stream:
            line = (text + "\r\n").encode()
            session._emit(line if rec.tty else frame(STDOUT, line))
        session._emit(b"")
        self._finish(rec, session, code, attrs)

    def _finish(self, rec: ExecRecord, session: ExecSession, code: int, attrs: dict[str, str]) -> None:
        rec.running = False
        rec.exit_code = code
        rec.finished = time.monotonic()
        rec.session = None
        if not session._done.done():
            session._done.set_result(code)
        die = dict(attrs)
        die["exitCode"] = str(code)
        self.events.publish("container", "exec_die", rec.container_id, die)

    async def _spawn_pipes(self, session: ExecSession, argv: list[str], detach: bool) -> None:
        rec = session.record
        devnull = asyncio.subprocess.DEVNULL
        pipe = asyncio.subprocess.PIPE
        stderr = pipe if rec.attach_stderr and not detach else devnull
        if rec.merge_output:
            stderr = asyncio.subprocess.STDOUT
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=pipe if rec.attach_stdin and not detach else devnull,
            stdout=pipe if rec.attach_stdout and not detach else devnull,
            stderr=stderr,
            start_new_session=True,
        )
        session.proc = proc
        session._stdin = proc.stdin

    async def _spawn_tty(self, session: ExecSession, argv: list[str], size: tuple[int, int] | None) -> None:
        master, slave = os.openpty()
        try:
            if size and size[0] and size[1]:
                fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
            os.set_blocking(master, False)
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        session.proc = proc
        session.master = master

    async def _supervise(
        self, rec: ExecRecord, session: ExecSession, work: Path, attrs: dict[str, str], detach: bool
    ) -> None:
        proc = session.proc
        assert proc is not None
        loop = asyncio.get_running_loop()
        pumps: list[asyncio.Future[None]] = []
        if session.master >= 0:
            pumps.append(asyncio.ensure_future(self._pump_pty(session)))
        else:
            if proc.stdout is not None:
                pumps.append(asyncio.ensure_future(_pump(proc.stdout, session, STDOUT)))
            if proc.stderr is not None:
                pumps.append(asyncio.ensure_future(_pump(proc.stderr, session, STDERR)))
        pid_task = asyncio.ensure_future(_read_pid(work / "pid", proc, rec))
        code = await _exited(proc)
        await pid_task
        pending = set(pumps)
        while pending:
            # Output written just before the exit is still in the pipes: wait while it flows (or
            # waits for a slow client); a background child that keeps the pipes open but silent
            # must not hold the client forever.
            before = session.progress
            _done, pending = await asyncio.wait(pending, timeout=_DRAIN_AFTER_EXIT)
            if pending and session.progress == before and not session.waiting_for_reader:
                for p in pending:
                    p.cancel()
                # Our ends of the pipes go too, rather than stay open as long as that child lives.
                transport = getattr(proc, "_transport", None)
                if transport is not None:
                    transport.close()
                break
        if session.master >= 0:
            loop.remove_reader(session.master)
            os.close(session.master)
            session.master = -1
        error = _runtime_error(work / "log.json") if code != 0 else None
        shutil.rmtree(work, ignore_errors=True)
        if error is not None:
            text, code = _translate(error, rec.cmd[0])
            self._fail(rec, session, text, code, attrs, to_stream=not detach)
            return
        session._emit(b"")
        self._finish(rec, session, code, attrs)

    async def _pump_pty(self, session: ExecSession) -> None:
        loop = asyncio.get_running_loop()
        master = session.master
        while True:
            ready: asyncio.Future[None] = loop.create_future()
            loop.add_reader(master, _resolve, ready)
            try:
                await ready
            finally:
                loop.remove_reader(master)
            try:
                data = os.read(master, 65536)
            except BlockingIOError:
                continue
            except OSError:
                # EIO: every slave fd is closed (the runtime exited): a terminal's end of file.
                return
            if not data:
                return
            await session._put(data)

    # ------------------------------------------------------------ resize, probes

    async def resize(self, exec_id: str, height: int, width: int) -> None:
        """Resize the exec's terminal (POST /exec/{id}/resize); ignored without a TTY."""
        rec = self._get(exec_id)
        if height < 0 or width < 0:
            raise InvalidArgument(f"invalid terminal size {height}x{width}: use positive numbers")
        session = rec.session
        if session is None:
            if rec.exit_code is None:
                rec.console_size = (height, width)  # before start: used when it starts
                return
            raise Conflict(f"exec {exec_id} is not running")
        if session.master < 0 or session.proc is None:
            return
        fcntl.ioctl(session.master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
        # The runtime is not in the pty's foreground process group: tell it to copy the new size.
        try:
            os.kill(session.proc.pid, signal.SIGWINCH)
        except ProcessLookupError:
            pass

    async def run_probe(self, target: ExecTarget, cmd: list[str], timeout: float) -> tuple[int, str]:
        """Run a healthcheck command: (exit code, first 4 KiB of stdout+stderr).

        On timeout the process is killed and (-1, "Health check exceeded timeout (30s)") returned.
        """
        from dockyard.engine.health import go_duration

        exec_id = self.create(target, {"Cmd": cmd, "AttachStdout": True, "AttachStderr": True})
        rec = self._get(exec_id)
        rec.merge_output = True
        output = bytearray()
        try:
            session = await self.start(exec_id, target, detach=False, tty=False)

            async def collect() -> int:
                while True:
                    chunk = await session.read()
                    if not chunk:
                        break
                    # Frames from the pipes: strip the 8-byte headers, keep stdout and stderr as one.
                    while chunk:
                        length = struct.unpack(">L", chunk[4:8])[0]
                        if len(output) < _PROBE_OUTPUT:
                            output.extend(chunk[8 : 8 + length][: _PROBE_OUTPUT - len(output)])
                        chunk = chunk[8 + length :]
                return await session.wait()

            try:
                code = await asyncio.wait_for(collect(), timeout)
            except TimeoutError:
                await self._kill(session)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(session.wait(), 5)  # recorded as ended before we answer
                return -1, f"Health check exceeded timeout ({go_duration(timeout)})"
            if session.error is not None:
                return code, session.error
            return code, output.decode("utf-8", "replace")
        finally:
            if rec.exit_code is not None:
                self._execs.pop(exec_id, None)  # probes are not listed as the container's execs

    async def _kill(self, session: ExecSession) -> None:
        rec = session.record
        proc = session.proc
        # SIGKILL cannot be forwarded by the runtime: kill the exec'd process itself, then the runtime.
        for pid in (rec.pid, proc.pid if proc else 0):
            if pid > 0:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if proc is not None:
            try:
                await asyncio.wait_for(_exited(proc), 5)
            except TimeoutError:
                pass


async def _exited(proc: asyncio.subprocess.Process) -> int:
    """The exit code once the process exits. Process.wait() of Python 3.11 also waits for its
    pipes to close, which a background child of the exec'd process can hold open for ever."""
    loop = asyncio.get_running_loop()
    try:
        pidfd = os.pidfd_open(proc.pid)
    except OSError:
        pidfd = -1  # reaped already: the return code is on its way
    if pidfd >= 0:
        ready: asyncio.Future[None] = loop.create_future()
        loop.add_reader(pidfd, _resolve, ready)
        try:
            await ready  # a pidfd turns readable when the process exits
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)
    while proc.returncode is None:
        await asyncio.sleep(0.002)  # the child watcher reaps it and hands the status over
    return proc.returncode


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _pump(reader: asyncio.StreamReader, session: ExecSession, stream: int) -> None:
    while True:
        data = await reader.read(65536)
        if not data:
            return
        await session._put(frame(stream, data))


async def _read_pid(path: Path, proc: asyncio.subprocess.Process, rec: ExecRecord) -> None:
    """Record the exec'd process's pid from the runtime's --pid-file (written once it runs)."""
    while True:
        try:
            text = path.read_text(encoding="ascii").strip()
            if text:
                rec.pid = int(text)
                return
        except (OSError, ValueError):
            pass
        if proc.returncode is not None:
            return
        await asyncio.sleep(0.01)
