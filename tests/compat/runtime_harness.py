"""Helpers for the OCI runtime behaviour suite: bundles, runtime invocations, cleanup.

One suite runs against several OCI runtimes (dockyard-runtime, runc, crun) on the same bundles:
every check is written once, and a runtime that passes where another fails shows the gap.

The pieces:
- ``make_rootfs`` / ``make_bundle``: a busybox root filesystem from the host's busybox-static and a
  config.json based on ``runc spec`` (terminal off, args set). The bundle maker is one function so
  the suite can later switch to the project's shared busybox fixture in one place.
- ``Runtime``: one runtime binary with its own ``--root`` state folder in a temp dir; every call
  captures stdout/stderr and exit code and has a timeout. It remembers the ids it used, so
  ``cleanup`` can ``delete --force`` each of them.
- ``ConsoleReceiver``: the ``--console-socket`` peer (what containerd's shim does): an AF_UNIX
  stream listener that receives the pty master over SCM_RIGHTS and reads the container's output.
- ``remove_cgroup`` / ``cgroup_dirs`` / ``marked_processes`` / ``mounts_under``: what a test checks
  to prove nothing was left behind.
"""

from __future__ import annotations

import array
import contextlib
import copy
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.util import busybox

HOST_BUSYBOX = "/bin/busybox"
DOCKYARD_RUNTIME = "/work/main/.venv/bin/dockyard-runtime"
RUNTIMES = ["dockyard", "runc", "crun"]
CGROUP_ROOT = Path("/sys/fs/cgroup")
# Every process the suite starts (runtime and container) carries this in its environment, so a
# process left behind can be found without confusing it with anything else on the machine.
MARK_ENV = "DOCKYARD_COMPAT_MARK"
DEFAULT_TIMEOUT = 20.0

# Capability numbers (linux/capability.h), for turning a config's names into /proc/*/status masks.
CAPABILITIES = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
]


def cap_mask(names: Sequence[str]) -> int:
    mask = 0
    for name in names:
        mask |= 1 << CAPABILITIES.index(name)
    return mask


def runtime_path(name: str) -> str | None:
    """The binary for a runtime name, or None when it is not installed."""
    if name == "dockyard":
        return DOCKYARD_RUNTIME
    return shutil.which(name)


def unique_id(prefix: str = "dyc") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _temp_parent() -> str | None:
    """Where bundles and state go: /dev/shm when it is an executable tmpfs, else the default.

    A busybox rootfs is ~270 applet symlinks; on this kind of VM's ext4 each symlink(2) costs
    about 1 ms, on tmpfs microseconds, which keeps the whole suite within its time budget.
    """
    override = os.environ.get("DOCKYARD_COMPAT_TMPDIR")
    if override:
        return override
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[1] == "/dev/shm" and fields[2] == "tmpfs" and "noexec" not in fields[3].split(","):
                return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    return None


def make_tempdir(prefix: str = "dockyard-compat-") -> Path:
    """A temp dir that uid 100000 (a user namespace's root) can traverse.

    pytest's tmp_path is 0700 root: a container whose root maps to an unprivileged host uid could
    not reach its own rootfs through it (capabilities in a user namespace do not cover inodes owned
    by unmapped ids), so the suite uses its own world-searchable folders.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=_temp_parent()))
    path.chmod(0o711)
    return path


# --- bundles -----------------------------------------------------------------------------------


def make_rootfs(rootfs: Path) -> Path:
    """The shared busybox root filesystem (dockyard.util.busybox), plus the /etc/hostname file the
    masking checks use."""
    busybox.make_rootfs(str(rootfs), busybox=HOST_BUSYBOX)
    (rootfs / "etc" / "hostname").write_text("busybox\n")
    return rootfs


_base_spec: dict[str, Any] | None = None


def base_spec() -> dict[str, Any]:
    """The default config.json of ``runc spec`` (dockyard-runtime's own when runc is absent)."""
    global _base_spec
    if _base_spec is None:
        spec_tool = shutil.which("runc") or DOCKYARD_RUNTIME
        with tempfile.TemporaryDirectory() as d:
            subprocess.run([spec_tool, "spec"], cwd=d, check=True, capture_output=True)
            _base_spec = json.loads(Path(d, "config.json").read_text())
    return copy.deepcopy(_base_spec)


@dataclass
class Bundle:
    path: Path
    config: dict[str, Any]

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    def write(self) -> None:
        self.config_path.write_text(json.dumps(self.config, indent=2))


def make_bundle(
    parent: Path,
    args: Sequence[str] = ("true",),
    mutate: Callable[[dict[str, Any]], None] | None = None,
    mark: str | None = None,
) -> Bundle:
    """A bundle folder under ``parent``: busybox rootfs + ``runc spec`` config with terminal off.

    ``mutate`` edits the config dict before it is written; ``mark`` is put into process.env so a
    leftover container process can be found (see ``marked_processes``).
    """
    path = Path(tempfile.mkdtemp(prefix="bundle-", dir=parent))
    path.chmod(0o711)
    make_rootfs(path / "rootfs")
    cfg = base_spec()
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = list(args)
    if mark:
        cfg["process"]["env"].append(f"{MARK_ENV}={mark}")
    if mutate:
        mutate(cfg)
    bundle = Bundle(path, cfg)
    bundle.write()
    return bundle


# --- running a runtime ---------------------------------------------------------------------------


@dataclass
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def check(self) -> Result:
        assert self.returncode == 0, f"{self.argv} exited {self.returncode}\n{self.stderr}{self.stdout}"
        return self


@dataclass
class Runtime:
    name: str
    path: str
    root: Path
    # Put into the runtime's environment (see MARK_ENV) unless a call names another.
    mark: str | None = None
    ids: list[str] = field(default_factory=list)

    def argv(self, *args: str) -> list[str]:
        return [self.path, "--root", str(self.root), *args]

    def call(
        self,
        *args: str,
        timeout: float = DEFAULT_TIMEOUT,
        mark: str | None = None,
        pipes: bool = False,
        pass_fds: Sequence[int] = (),
        stdin: str | None = None,
    ) -> Result:
        """Run the runtime, wait for it, return its output.

        Output goes to temp files unless ``pipes``: after ``create`` or ``run --detach`` the
        container keeps the runtime's stdout, and reading a pipe would wait for the container.
        """
        argv = self.argv(*args)
        env = dict(os.environ)
        mark = mark or self.mark
        if mark:
            env[MARK_ENV] = mark
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipes else out,
                stderr=subprocess.PIPE if pipes else err,
                env=env,
                pass_fds=pass_fds,
                start_new_session=True,
            )
            try:
                sout, serr = proc.communicate(stdin.encode() if stdin is not None else None, timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                raise AssertionError(f"{argv} did not finish within {timeout} s") from None
            if not pipes:
                out.seek(0)
                err.seek(0)
                sout, serr = out.read(), err.read()
        return Result(argv, proc.returncode, sout.decode(errors="replace"), serr.decode(errors="replace"))

    def _remember(self, cid: str) -> None:
        if cid not in self.ids:
            self.ids.append(cid)

    def run(self, bundle: Bundle, cid: str | None = None, **kw: Any) -> Result:
        """Foreground ``run``: the container's stdout and exit code come back."""
        cid = cid or unique_id()
        self._remember(cid)
        kw.setdefault("pipes", True)
        return self.call("run", "--bundle", str(bundle.path), cid, **kw)

    def create(self, bundle: Bundle, cid: str, *extra: str, **kw: Any) -> Result:
        self._remember(cid)
        return self.call("create", "--bundle", str(bundle.path), *extra, cid, **kw)

    def start(self, cid: str) -> Result:
        return self.call("start", cid)

    def state(self, cid: str) -> dict[str, Any]:
        res = self.call("state", cid).check()
        return json.loads(res.stdout)  # type: ignore[no-any-return]

    def kill(self, cid: str, sig: str = "KILL") -> Result:
        return self.call("kill", cid, sig)

    def delete(self, cid: str, force: bool = False) -> Result:
        return self.call("delete", *(["--force"] if force else []), cid)

    def wait_status(self, cid: str, status: str, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            st = self.state(cid)
            if st["status"] == status or time.monotonic() > deadline:
                return st
            time.sleep(0.01)

    def has_state(self, cid: str) -> bool:
        return self.root.exists() and cid in os.listdir(self.root)

    def cleanup(self) -> None:
        """``delete --force`` every id this runtime was used with; already gone is fine."""
        for cid in self.ids:
            with contextlib.suppress(Exception):
                self.call("delete", "--force", cid, timeout=10)


# --- console socket ------------------------------------------------------------------------------


class ConsoleReceiver:
    """The ``--console-socket`` peer: accept one connection, take the pty master, read it to EOF.

    The runtime connects, sends one message whose SCM_RIGHTS carries the master fd (runc sends the
    pty name as the payload), and closes. Reading the master gives the container's tty output
    until the last slave fd closes (EIO on Linux).
    """

    def __init__(self, directory: Path) -> None:
        self.path = str(directory / "console.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.sock.settimeout(15)
        self.master: int | None = None
        self.payload = b""
        self.output = bytearray()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
            with conn:
                fds = array.array("i")
                msg, anc, _flags, _addr = conn.recvmsg(4096, socket.CMSG_SPACE(4 * fds.itemsize))
                for level, typ, data in anc:
                    if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                        fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
                self.payload = msg
                if not fds:
                    raise AssertionError("no fd arrived over the console socket")
                self.master = fds[0]
                for extra in fds[1:]:
                    os.close(extra)
            while True:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError as exc:
                    if exc.errno == errno.EIO:  # every slave closed
                        break
                    raise
                if not chunk:
                    break
                self.output += chunk
        except BaseException as exc:
            self.error = exc

    def wait(self, timeout: float = 15) -> bytes:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"console output did not end; got so far: {bytes(self.output)!r}")
        if self.error:
            raise self.error
        return bytes(self.output)

    def close(self) -> None:
        self.sock.close()
        if self.master is not None:
            with contextlib.suppress(OSError):
                os.close(self.master)
            self.master = None


# --- what a test checks to prove nothing was left behind -----------------------------------------


def cgroup_hierarchies() -> list[Path]:
    """Every mounted hierarchy under /sys/fs/cgroup (v1 controllers, the unified mount), or the root
    itself on a pure v2 host."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return [CGROUP_ROOT]
    return [p for p in CGROUP_ROOT.iterdir() if p.is_dir() and not p.is_symlink()]


def cgroup_dirs(cgroups_path: str) -> list[Path]:
    """The directories that exist for ``cgroupsPath`` in any hierarchy."""
    rel = cgroups_path.lstrip("/")
    return [h / rel for h in cgroup_hierarchies() if (h / rel).is_dir()]


def frozen(pid: int) -> bool | None:
    """Whether the process's cgroup is frozen: the v1 freezer if mounted, else cgroup v2's
    cgroup.events; None when neither can be read."""
    with open(f"/proc/{pid}/cgroup") as f:
        entries = [line.rstrip("\n").split(":", 2) for line in f]
    for _hid, controllers, path in entries:
        if "freezer" in controllers.split(","):
            state = (CGROUP_ROOT / "freezer" / path.lstrip("/") / "freezer.state").read_text().strip()
            return state == "FROZEN"  # FREEZING counts as not (yet) frozen
    for hid, _controllers, path in entries:
        if hid == "0":
            base = CGROUP_ROOT if (CGROUP_ROOT / "cgroup.controllers").exists() else CGROUP_ROOT / "unified"
            events = (base / path.lstrip("/") / "cgroup.events").read_text().split()
            return "frozen" in events and events[events.index("frozen") + 1] == "1"
    return None


def remove_cgroup(cgroups_path: str) -> None:
    """Kill what is left in the cgroup and rmdir it, deepest first, in every hierarchy."""
    for d in cgroup_dirs(cgroups_path):
        for sub in [*sorted((p for p in d.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)), d]:
            for _ in range(50):
                try:
                    sub.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    with contextlib.suppress(OSError):
                        for pid in (sub / "cgroup.procs").read_text().split():
                            with contextlib.suppress(ProcessLookupError):
                                os.kill(int(pid), signal.SIGKILL)
                    time.sleep(0.02)


def marked_processes(mark: str) -> list[int]:
    """Live processes whose environment carries ``MARK_ENV=mark`` (zombies have no environ)."""
    needle = f"{MARK_ENV}={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def kill_marked(mark: str) -> None:
    for pid in marked_processes(mark):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def mounts_under(*paths: Path) -> list[str]:
    """Lines of the host's mountinfo whose mount point lies under one of ``paths``."""
    prefixes = [str(p) for p in paths]
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mountpoint = line.split()[4]
            if any(mountpoint == p or mountpoint.startswith(p + "/") for p in prefixes):
                out.append(line.strip())
    return out


def unmount_under(path: Path) -> None:
    for line in reversed(mounts_under(path)):
        subprocess.run(["umount", "-l", line.split()[4]], capture_output=True)


@contextlib.contextmanager
def netns(name: str | None = None) -> Iterator[str]:
    """A named network namespace (``ip netns add``) removed again on exit."""
    name = name or unique_id("dycns")
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)
