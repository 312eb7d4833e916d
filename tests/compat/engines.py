"""Real container engines (dockerd, containerd) started by the test session, on private paths only.

Issue 2, "Must show" 1 and 2: the real dockerd and containerd must be able to use
``dockyard-runtime`` in place of runc. These session fixtures start one engine of each kind for
the whole session and import a busybox image into it; the tests in ``test_dockerd_runtime.py``
and ``test_containerd_runtime.py`` run each behaviour once with runc (the control) and once with
dockyard-runtime.

Isolation from the host (nothing here may touch the host's engines or networking):

- dockerd gets its own ``--data-root``, ``--exec-root``, ``--pidfile``, socket and
  ``--config-file`` (so /etc/docker/daemon.json is never read), ``--bridge=none`` and no iptables,
  ip-forward or masquerading; containers run with ``--network none``. dockerd starts its managed
  containerd under the exec-root. Its containers live under a cgroup parent of our own.
- containerd gets a generated config: its own root, state, gRPC/ttrpc sockets and ``opt`` folder,
  no debug or metrics listener, and the CRI plugin (which would set up CNI networking) disabled.
- The only files outside our temp folder are the shims' sockets: containerd 1.6 always puts them
  in /run/containerd/s/<sha256 of address/namespace/id>. A shim removes its socket when it exits;
  the clean-up here removes the sockets of shims it had to kill.

Clean-up (always, in ``finally``): remove our containers, SIGTERM then SIGKILL the engine by its
pid, SIGKILL any shim whose command line names our temp folder, lazily unmount everything under
the temp folder, remove our cgroups, remove the folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dockyard.util import busybox

# The console script next to the interpreter running the tests: the venv's dockyard-runtime.
DOCKYARD_RUNTIME = str(Path(sys.executable).parent / "dockyard-runtime")
#: The runtimes each engine test runs with: ours and the control.
RUNTIMES = ["dockyard", "runc"]
#: Debian's client (API 1.41) matches Debian's dockerd; the docker 28 client negotiates down.
DOCKER_CLIENTS = ("/usr/bin/docker", "/usr/local/bin/docker")
BUSYBOX_IMAGE = "dockyard-busybox:compat"
#: containerd 1.6 puts every shim's socket here, whatever its --root/--state (shim/util_unix.go).
SHIM_SOCKET_DIR = "/run/containerd/s"
CGROUP_ROOT = Path("/sys/fs/cgroup")
ENGINE_START_TIMEOUT = 30.0
DEFAULT_TIMEOUT = 30.0


def runtime_binary(name: str) -> str:
    """The OCI runtime binary for a parameter name (``dockyard`` or ``runc``); skip if absent."""
    if name == "dockyard":
        if not os.access(DOCKYARD_RUNTIME, os.X_OK):
            pytest.fail(f"{DOCKYARD_RUNTIME} is missing: pip install -e . in the virtual environment")
        return DOCKYARD_RUNTIME
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install -y {name})")
    return path


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------- processes and clean-up


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            # Field 3 (after the parenthesised comm) is the state; Z is a zombie, not running.
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def stop_process(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM a process we started, SIGKILL it after ``grace`` seconds, reap it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def kill_pid(pid: int, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``grace``, one pid that is not our child (a daemonised shim)."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return  # already gone: nothing to do
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.05)


def shim_socket(address: str, namespace: str, cid: str) -> str:
    """Where containerd 1.6's shim listens: SocketAddress() in runtime/v2/shim/util_unix.go."""
    digest = hashlib.sha256(os.path.join(address, namespace, cid).encode()).hexdigest()
    return os.path.join(SHIM_SOCKET_DIR, digest)


def kill_shims(marker: str) -> list[int]:
    """SIGKILL the containerd shims whose command line names ``marker`` (our temp folder).

    Shims daemonise (their parent is init), so they are found by the unique path of the
    containerd socket they were given; their sockets are removed as the shim would on exit.
    """
    killed = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        argv = _cmdline(int(entry))
        if not argv or "containerd-shim" not in os.path.basename(argv[0]):
            continue
        if not any(marker in a for a in argv):
            continue
        kill_pid(int(entry), grace=0.0)
        killed.append(int(entry))
        opts = dict(zip(argv[1::2], argv[2::2], strict=False))
        if {"-address", "-namespace", "-id"} <= opts.keys():
            with contextlib.suppress(OSError):
                os.unlink(shim_socket(opts["-address"], opts["-namespace"], opts["-id"]))
    return killed


def mounts_under(folder: str) -> list[str]:
    """Mount points at or below ``folder``, deepest first (mountinfo field 5, octal-unescaped)."""
    real = os.path.realpath(folder)
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            point = line.split(" ")[4]
            point = point.encode().decode("unicode_escape") if "\\" in point else point
            if point == real or point.startswith(real + "/"):
                points.append(point)
    return sorted(points, key=lambda p: p.count("/"), reverse=True)


def unmount_and_remove(folder: str) -> None:
    """Lazily unmount everything under ``folder`` (overlays, netns and shm binds), then remove it."""
    if not os.path.lexists(folder):
        return  # already removed
    for point in mounts_under(folder):
        # umount -l: the engines are gone, but a mount may still be busy in a dying process.
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    shutil.rmtree(folder, ignore_errors=True)


def remove_cgroups(name: str) -> None:
    """Remove cgroup ``/name`` and every cgroup below it, in every hierarchy (deepest first).

    rmdir is the only way to delete a cgroup; it fails (EBUSY) while a process is inside, in
    which case the folder stays and the error is ignored: the processes were killed above.
    """
    if not CGROUP_ROOT.is_dir():
        return
    for hierarchy in CGROUP_ROOT.iterdir():
        top = hierarchy / name
        if not top.is_dir():
            continue
        dirs = [Path(d) for d, _, _ in os.walk(top)]
        for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                d.rmdir()


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``predicate()`` until it returns a truthy value; fail naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------- the busybox image


@pytest.fixture(scope="session", name="engines_dir")
def engines_dir_fixture() -> Iterator[Path]:
    """One temp folder for both engines' state (world-searchable, like the harness's folders)."""
    if os.geteuid() != 0:
        pytest.skip("the engine compat tests start dockerd and containerd: they need root (CI is root)")
    path = Path(tempfile.mkdtemp(prefix="dockyard-engines-"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        unmount_and_remove(str(path))


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # Image layers carry numeric ids; the build may run as any uid, the image is root's.
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


@pytest.fixture(scope="session", name="busybox_layer")
def busybox_layer_fixture(engines_dir: Path) -> Path:
    """The busybox root filesystem as one uncompressed tar (an image layer, `docker import` input)."""
    rootfs = engines_dir / "image-rootfs"
    busybox.make_rootfs(str(rootfs))
    layer = engines_dir / "busybox-layer.tar"
    with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(rootfs.iterdir()):
            tar.add(entry, arcname=entry.name, filter=_root_owned)
    shutil.rmtree(rootfs)
    return layer


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_oci_archive(layer: Path, dest: Path, name: str) -> Path:
    """An OCI image layout tar (image-spec 1.0 "image-layout.md") holding ``layer`` as one image.

    The manifest carries both ``org.opencontainers.image.ref.name`` (the tag, per the spec) and
    ``io.containerd.image.name`` (the full name `ctr images import` uses without --base-name).
    """
    layer_digest = _sha256_file(layer)
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    config = json.dumps(
        {
            "architecture": arch,
            "os": "linux",
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                "Cmd": ["sh"],
            },
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_digest}"]},
            "history": [{"created_by": "dockyard compat tests: busybox-static"}],
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": f"sha256:{layer_digest}",
                    "size": layer.stat().st_size,
                }
            ],
        },
        sort_keys=True,
    ).encode()
    full_name = name if "/" in name else f"docker.io/library/{name}"
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": "sha256:" + hashlib.sha256(manifest).hexdigest(),
                    "size": len(manifest),
                    "platform": {"architecture": arch, "os": "linux"},
                    "annotations": {
                        "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1],
                        "io.containerd.image.name": full_name,
                    },
                }
            ],
        }
    ).encode()

    def add_bytes(tar: tarfile.TarFile, arcname: str, data: bytes) -> None:
        info = _root_owned(tarfile.TarInfo(arcname))
        info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
        tar.addfile(info, fileobj=io.BytesIO(data))

    with tarfile.open(dest, "w") as tar:
        add_bytes(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        add_bytes(tar, "index.json", index)
        add_bytes(tar, f"blobs/sha256/{hashlib.sha256(config).hexdigest()}", config)
        add_bytes(tar, f"blobs/sha256/{hashlib.sha256(manifest).hexdigest()}", manifest)
        tar.add(layer, arcname=f"blobs/sha256/{layer_digest}", filter=_root_owned)
    return dest


# ---------------------------------------------------------------- dockerd


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 2.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def ping(sock_path: str) -> bool:
    conn = _UnixHTTPConnection(sock_path)
    try:
        conn.request("GET", "/_ping")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _log_tail(path: Path, start: int = 0, limit: int = 6000) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read()
    except OSError:
        return ""
    return data[-limit:].decode(errors="replace")


@dataclass
class Dockerd:
    """A running dockerd on private paths, and the docker CLI pointed at it."""

    root: Path
    proc: subprocess.Popen[bytes]
    client: str
    cgroup_parent: str
    image: str = BUSYBOX_IMAGE

    @property
    def sock(self) -> str:
        return str(self.root / "docker.sock")

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"

    @property
    def log_path(self) -> Path:
        return self.root / "dockerd.log"

    @property
    def exec_root(self) -> Path:
        return self.root / "exec"

    def cli(self, *args: str) -> list[str]:
        """The argv of ``docker -H OUR_SOCKET ARGS...``."""
        return [self.client, "-H", self.host, *args]

    def __call__(
        self, *args: str, timeout: float = DEFAULT_TIMEOUT, input: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run the docker CLI against our dockerd; capture bytes; stdin is empty unless ``input``."""
        return subprocess.run(
            self.cli(*args),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )

    def text(self, *args: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        """stdout of a docker command that must succeed (else the test fails with its stderr)."""
        res = self(*args, timeout=timeout)
        if res.returncode != 0:
            pytest.fail(self.explain(res, "docker " + " ".join(args)))
        return res.stdout.decode(errors="replace").strip()

    def inspect(self, name: str) -> dict[str, Any]:
        data: list[dict[str, Any]] = json.loads(self.text("inspect", name))
        return data[0]

    def log_offset(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def explain(self, res: subprocess.CompletedProcess[bytes], what: str, log_from: int = 0) -> str:
        """A failure message: the command, its exit code and output, and dockerd's log since then."""
        return (
            f"{what}: exit {res.returncode}\n"
            f"stdout: {res.stdout.decode(errors='replace')[-2000:]}\n"
            f"stderr: {res.stderr.decode(errors='replace')[-2000:]}\n"
            f"dockerd log ({self.log_path}):\n{_log_tail(self.log_path, log_from)}"
        )

    def upper_dir(self, name: str) -> Path:
        """The container's overlay upper folder: files it writes show up here, even while paused."""
        return Path(self.inspect(name)["GraphDriver"]["Data"]["UpperDir"])

    def remove_all(self) -> None:
        ids = self("ps", "-aq", timeout=30).stdout.decode().split()
        if ids:
            self("rm", "-f", *ids, timeout=60)


#: No bridge, no firewall, no forwarding: dockerd must not touch the host's networking.
NO_NETWORK = (
    "--bridge=none",
    "--iptables=false",
    "--ip6tables=false",
    "--ip-forward=false",
    "--ip-masq=false",
)


def start_dockerd(
    root: Path, cgroup_parent: str, network: Sequence[str] = NO_NETWORK
) -> subprocess.Popen[bytes]:
    """dockerd on private paths under ``root`` (socket ``root/docker.sock``, log
    ``root/dockerd.log``, its managed containerd under ``root/exec``); ``network``: its bridge
    and firewall options (tests/integration/test_network_beside_dockerd.py lets it program
    iptables on a bridge of the test's own)."""
    (root / "daemon.json").write_text("{}\n")
    argv = [
        "dockerd",
        "--data-root", str(root / "data"),
        "--exec-root", str(root / "exec"),
        "--pidfile", str(root / "docker.pid"),
        "-H", f"unix://{root / 'docker.sock'}",
        "--config-file", str(root / "daemon.json"),
        *network,
        "--cgroup-parent", cgroup_parent,
        "--add-runtime", f"dockyard={DOCKYARD_RUNTIME}",
        "--storage-driver", "overlay2",
        "--log-level", "info",
    ]  # fmt: skip
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115  (closed after Popen dups it)
    try:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()


# The names these had before they were shared (other branches may still use them).
_start_dockerd = start_dockerd
_ping = ping


def _stop_dockerd(d: Dockerd) -> None:
    try:
        if d.proc.poll() is None:
            with contextlib.suppress(Exception):
                d.remove_all()
    finally:
        stop_dockerd(d.proc, d.root, d.cgroup_parent)


def stop_dockerd(proc: subprocess.Popen[bytes], root: Path, cgroup_parent: str) -> None:
    """SIGTERM (then SIGKILL) a dockerd that start_dockerd made, its managed containerd and
    shims by pid, and remove its cgroups."""
    stop_process(proc)
    # dockerd stops its managed containerd on a clean exit; after a SIGKILL it would not.
    with contextlib.suppress(OSError, ValueError):
        pid = int((root / "exec" / "containerd" / "containerd.pid").read_text().strip())
        if str(root) in " ".join(_cmdline(pid)):
            kill_pid(pid)
    kill_shims(str(root))
    remove_cgroups(cgroup_parent.strip("/"))


@pytest.fixture(scope="session", name="dockerd")
def dockerd_fixture(engines_dir: Path, busybox_layer: Path) -> Iterator[Dockerd]:
    """dockerd (Debian's docker.io) on private paths with ``--add-runtime dockyard=...``, busybox imported."""
    if shutil.which("dockerd") is None:
        pytest.skip("dockerd is not installed: apt-get install -y docker.io")
    client = next((c for c in DOCKER_CLIENTS if os.access(c, os.X_OK)), None) or shutil.which("docker")
    if client is None:
        pytest.skip("no docker client: apt-get install -y docker.io")
    root = engines_dir / "dockerd"
    root.mkdir()
    cgroup_parent = unique("/dockyard-compat")
    d = Dockerd(root, start_dockerd(root, cgroup_parent), client, cgroup_parent)
    try:

        def up() -> bool:
            if d.proc.poll() is not None:
                pytest.fail(f"dockerd exited with {d.proc.returncode}:\n{_log_tail(d.log_path)}")
            return ping(d.sock)

        wait_for(up, ENGINE_START_TIMEOUT, f"dockerd to answer on {d.sock}")
        d.text("import", str(busybox_layer), d.image, timeout=60)
        yield d
    finally:
        _stop_dockerd(d)


# ---------------------------------------------------------------- containerd


CONTAINERD_CONFIG = """\
version = 2
root = "{root}/root"
state = "{root}/state"
# CRI would configure CNI networking; the snapshotters we do not use only log errors.
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = "{root}/containerd.sock"

[ttrpc]
  address = "{root}/containerd.sock.ttrpc"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/opt"
"""


@dataclass
class Containerd:
    """A running containerd on private paths, and ``ctr`` pointed at it."""

    root: Path
    proc: subprocess.Popen[bytes]
    namespace: str
    image: str = f"docker.io/library/{BUSYBOX_IMAGE}"
    ids: list[str] = field(default_factory=list)

    @property
    def sock(self) -> str:
        return str(self.root / "containerd.sock")

    @property
    def log_path(self) -> Path:
        return self.root / "containerd.log"

    def task_dir(self, cid: str) -> Path:
        """The shim's bundle folder, where the runtime's ``--log`` (log.json) is written."""
        return self.root / "state" / "io.containerd.runtime.v2.task" / self.namespace / cid

    def new_id(self) -> str:
        cid = unique("dyc")
        self.ids.append(cid)
        return cid

    @property
    def runtime_root(self) -> Path:
        """The runtime's ``--root`` as the shim passes it: ``--runc-root`` + ``/NAMESPACE``."""
        return self.root / "runtime-root" / self.namespace

    def run(
        self, binary: str, cid: str, *cmd: str, detach: bool = False, timeout: float = DEFAULT_TIMEOUT
    ) -> subprocess.CompletedProcess[bytes]:
        """``ctr run --rm`` (or ``-d``) of our busybox image with ``binary`` as the shim's runc.

        ``--runc-root`` and ``--fifo-dir`` keep the runtime's state and the stdio fifos in our
        folder (ctr's defaults are /run/containerd/runc/NAMESPACE and /run/containerd/fifo).
        """
        opts = ["-d" if detach else "--rm", "--runc-binary", binary]
        opts += ["--runc-root", str(self.root / "runtime-root"), "--fifo-dir", str(self.root / "fifo")]
        return self("run", *opts, self.image, cid, *cmd, timeout=timeout)

    def __call__(self, *args: str, timeout: float = DEFAULT_TIMEOUT) -> subprocess.CompletedProcess[bytes]:
        """Run ``ctr -a OUR_SOCKET -n OUR_NAMESPACE ARGS...``; capture bytes; empty stdin."""
        return subprocess.run(
            ["ctr", "-a", self.sock, "-n", self.namespace, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )

    def log_offset(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def explain(self, res: subprocess.CompletedProcess[bytes], what: str, log_from: int = 0) -> str:
        return (
            f"{what}: exit {res.returncode}\n"
            f"stdout: {res.stdout.decode(errors='replace')[-2000:]}\n"
            f"stderr: {res.stderr.decode(errors='replace')[-2000:]}\n"
            f"containerd log ({self.log_path}):\n{_log_tail(self.log_path, log_from)}"
        )

    def remove(self, cid: str) -> None:
        """Kill and delete task and container; each step may find them already gone."""
        self("task", "kill", "-s", "SIGKILL", cid, timeout=15)
        self("task", "delete", "-f", cid, timeout=15)
        self("container", "delete", cid, timeout=15)


@pytest.fixture(scope="session", name="containerd")
def containerd_fixture(engines_dir: Path, busybox_layer: Path) -> Iterator[Containerd]:
    """containerd (Debian's) on private paths with the busybox image imported into our namespace."""
    if shutil.which("containerd") is None or shutil.which("ctr") is None:
        pytest.skip("containerd is not installed: apt-get install -y containerd")
    if shutil.which("containerd-shim-runc-v2") is None:
        pytest.skip("containerd-shim-runc-v2 is not installed: apt-get install -y containerd")
    root = engines_dir / "containerd"
    root.mkdir()
    (root / "config.toml").write_text(CONTAINERD_CONFIG.format(root=root))
    with open(root / "containerd.log", "wb") as log:
        proc = subprocess.Popen(
            ["containerd", "--config", str(root / "config.toml")],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    # ctr's default cgroupsPath is /<namespace>/<id>: a unique namespace keeps our cgroups apart.
    c = Containerd(root, proc, unique("dockyard-compat"))
    try:

        def up() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"containerd exited with {proc.returncode}:\n{_log_tail(c.log_path)}")
            return c("version", timeout=5).returncode == 0 if os.path.exists(c.sock) else False

        wait_for(up, ENGINE_START_TIMEOUT, f"containerd to answer on {c.sock}")
        archive = write_oci_archive(busybox_layer, root / "busybox-oci.tar", BUSYBOX_IMAGE)
        res = c("images", "import", str(archive), timeout=60)
        if res.returncode != 0:
            pytest.fail(c.explain(res, "ctr images import"))
        yield c
    finally:
        try:
            if proc.poll() is None:
                for cid in c.ids:
                    with contextlib.suppress(Exception):
                        c.remove(cid)
        finally:
            stop_process(proc)
            kill_shims(str(root))
            remove_cgroups(c.namespace)


# ---------------------------------------------------------------- tmux


@dataclass
class Tmux:
    """A private tmux server (its own socket) whose panes run one command each, in a real terminal.

    The command's exit status is written to a file by a wrapping ``sh``: tmux 3.3a marks a pane
    dead when its pty reads EOF and sometimes never records the status of the child it reaps
    afterwards (``#{pane_dead_status}`` stays empty), so the pane cannot tell it reliably.
    """

    sock: Path
    conf: Path
    folder: Path
    sessions: list[str] = field(default_factory=list)

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-S", str(self.sock), "-f", str(self.conf), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )

    def start(self, argv: Sequence[str], width: int = 160, height: int = 40) -> str:
        """Start a detached session running ``argv``; return its name."""
        name = unique("dy")
        status = self.folder / f"{name}.status"
        # sh -c 'CMD...; echo $? > F.tmp; mv F.tmp F': the status file appears whole, once.
        wrapper = ["sh", "-c", '"$@"; echo $? > "$0.tmp"; mv "$0.tmp" "$0"', str(status), *argv]
        res = self("new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), *wrapper)
        if res.returncode != 0:
            pytest.fail(f"tmux new-session failed: {res.stderr}")
        self.sessions.append(name)
        return name

    def send(self, name: str, text: str) -> None:
        # -l: literally, so "$((1+1))" is typed as is; Enter is a key name, sent apart.
        self("send-keys", "-t", name, "-l", text)
        self("send-keys", "-t", name, "Enter")

    def capture(self, name: str) -> str:
        res = self("capture-pane", "-p", "-J", "-t", name, "-S", "-200")
        return res.stdout

    def lines(self, name: str) -> list[str]:
        return [line.rstrip() for line in self.capture(name).splitlines()]

    def wait_text(self, name: str, predicate: Any, timeout: float, what: str) -> str:
        """Poll the pane until ``predicate(lines)`` holds; fail with the pane's content if not."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self.lines(name)
            if predicate(lines):
                return "\n".join(lines)
            status = self.folder / f"{name}.status"
            if status.exists():
                # The command ended (e.g. `docker run` failed): waiting longer cannot help.
                code = status.read_text().strip()
                pytest.fail(
                    f"the command exited ({code}) before {what}; the pane shows:\n" + "\n".join(lines)
                )
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; the pane shows:\n" + "\n".join(lines))
            time.sleep(0.05)

    def wait_exit(self, name: str, timeout: float, what: str) -> int:
        """Wait for the pane's command to end; return its exit status (128+N for signal N)."""
        path = self.folder / f"{name}.status"
        deadline = time.monotonic() + timeout
        while not path.exists():
            if time.monotonic() > deadline:
                pane = self.capture(name)
                pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}; the pane shows:\n{pane}")
            time.sleep(0.05)
        return int(path.read_text().strip())

    def kill(self, name: str) -> None:
        self("kill-session", "-t", name)


@pytest.fixture(scope="session", name="tmux")
def tmux_fixture(engines_dir: Path) -> Iterator[Tmux]:
    """A tmux server of our own (never the user's): ``-S`` socket and config in our temp folder."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed: apt-get install -y tmux")
    conf = engines_dir / "tmux.conf"
    # remain-on-exit: a finished pane stays, so a failing test can still show what it printed.
    conf.write_text("set -g remain-on-exit on\nset -g history-limit 2000\n")
    t = Tmux(engines_dir / "tmux.sock", conf, engines_dir)
    try:
        yield t
    finally:
        for name in t.sessions:
            t.kill(name)
        # Ends only the server listening on our own socket.
        t("kill-server")
