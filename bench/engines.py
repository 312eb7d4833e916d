"""The engines bench/run.py compares, each started privately on this machine and stopped after.

- dockyard: `dockyard daemon` on its own socket, data root and bridge, NAT off, egress dropped;
  the busybox image from `dockyard image bootstrap`.
- docker: Debian's dockerd 20.10 + containerd + runc on their own sockets and roots, the busybox
  image from `docker import`; a DOCKER-USER rule drops forwarding from docker0 to other
  interfaces and masquerade is off (`--ip-masq=false`), so no container traffic leaves.
- podman: Debian's podman 4.3 with the flags this host needs (anchors.md: runc, cgroupfs, file
  events, ulimits under the hard limit), its own root, the same image from `podman import`.

Every engine is driven through its own CLI, as users drive it: the times include the client.
"""

from __future__ import annotations

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
from pathlib import Path

from dockyard.util import busybox

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DOCKER_CLI = "/usr/local/bin/docker"


def _wait_socket(path: Path, proc: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(str(path))
            s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            if s.recv(16).startswith(b"HTTP/1."):
                return
        except OSError:
            pass
        finally:
            s.close()
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer on {path} within {timeout}s")


def busybox_tar(dest: Path) -> Path:
    """The busybox root filesystem as one tar, the input of `docker import` / `podman import`."""
    rootfs = dest.parent / "bb-rootfs"
    busybox.make_rootfs(str(rootfs))

    def root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(dest, "w") as tar:
        for entry in sorted(rootfs.iterdir()):
            tar.add(entry, arcname=entry.name, filter=root_owned)
    shutil.rmtree(rootfs)
    return dest


class Engine:
    name = ""

    def cli(self, *args: str) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(self.cli(*args), env=self.env(), capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise RuntimeError(f"{self.name}: {' '.join(args)}: exit {res.returncode}: {res.stderr.strip()}")
        return res

    def stop(self) -> None:
        pass

    def shim_pids(self) -> list[int]:
        return []


class Dockyard(Engine):
    name = "dockyard"

    def __init__(self, work: Path) -> None:
        self.root = work / "dockyard"
        self.root.mkdir(parents=True)
        self.sock = self.root / "dockyard.sock"
        (self.root / "daemon.json").write_text("{}\n")
        self.bridge = f"dyb{os.getpid() % 100000}"
        log = open(self.root / "daemon.log", "ab")  # noqa: SIM115 - the daemon's for its life
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "dockyard"), "daemon", "-H", f"unix://{self.sock}",
             "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "run"),
             "--config-file", str(self.root / "daemon.json"), "--bridge", self.bridge,
             "--ip-masq=false", "--isolate-egress"],
            stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        log.close()
        _wait_socket(self.sock, self.proc, "dockyard daemon")
        self.run("image", "bootstrap")

    def cli(self, *args: str) -> list[str]:
        return [str(VENV_BIN / "dockyard"), "-H", f"unix://{self.sock}", *args]

    def stop(self) -> None:
        ids = self.run("ps", "-aq", check=False).stdout.split()
        if ids:
            self.run("rm", "-f", *ids, check=False, timeout=300)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        from dockyard.network.manager import cleanup_bridge

        cleanup_bridge(self.bridge)  # the bridge, its iptables chains and nft table
        _unmount_below(self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    def shim_pids(self) -> list[int]:
        """The shim processes (one holds up to 16 containers), from their shim.pid files."""
        pids = set()
        for path in (self.root / "run" / "containers").glob("*/shim.pid"):
            try:
                pids.add(int(json.loads(path.read_text())["pid"]))
            except (OSError, ValueError, KeyError):
                continue
        return sorted(pids)


class Docker(Engine):
    """dockerd + containerd (Debian's), with their own sockets and roots."""

    name = "docker"

    def __init__(self, work: Path, image_tar: Path) -> None:
        self.root = work / "docker"
        self.root.mkdir(parents=True)
        self.sock = self.root / "docker.sock"
        ctr_root = self.root / "containerd"
        ctr_sock = self.root / "containerd.sock"
        cfg = self.root / "containerd.toml"
        cfg.write_text(
            f'version = 2\nroot = "{ctr_root}/root"\nstate = "{ctr_root}/state"\n'
            f'[grpc]\n  address = "{ctr_sock}"\n[ttrpc]\n  address = "{ctr_sock}.ttrpc"\n'
            '[debug]\n  level = "warn"\n'
        )
        log = open(self.root / "containerd.log", "ab")  # noqa: SIM115
        self.containerd = subprocess.Popen(["containerd", "--config", str(cfg)], stdout=log, stderr=log,
                                           start_new_session=True)  # fmt: skip
        log.close()
        deadline = time.monotonic() + 30
        while not ctr_sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = open(self.root / "dockerd.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            ["dockerd", "-H", f"unix://{self.sock}", "--data-root", str(self.root / "data"),
             "--exec-root", str(self.root / "exec"), "--pidfile", str(self.root / "dockerd.pid"),
             "--containerd", str(ctr_sock), "--ip-masq=false", "--config-file", str(self._empty_config())],
            stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        log.close()
        _wait_socket(self.sock, self.proc, "dockerd")
        # No forwarding from docker0 to other interfaces (the machine's network rule).
        subprocess.run(["iptables", "-I", "DOCKER-USER", "-i", "docker0", "!", "-o", "docker0", "-j", "DROP"],
                       capture_output=True, check=False)  # fmt: skip
        self.run("import", str(image_tar), "busybox:latest")

    def _empty_config(self) -> Path:
        path = self.root / "daemon.json"
        path.write_text("{}\n")
        return path

    def cli(self, *args: str) -> list[str]:
        return [DOCKER_CLI, "-H", f"unix://{self.sock}", *args]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DOCKER_CONFIG"] = str(self.root / "client")
        return env

    def stop(self) -> None:
        ids = self.run("ps", "-aq", check=False).stdout.split()
        if ids:
            self.run("rm", "-f", *ids, check=False, timeout=300)
        for proc in (self.proc, self.containerd):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run(["iptables", "-D", "DOCKER-USER", "-i", "docker0", "!", "-o", "docker0", "-j", "DROP"],
                       capture_output=True, check=False)  # fmt: skip
        _unmount_below(self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    def shim_pids(self) -> list[int]:
        return _pids_named("containerd-shim")


class Podman(Engine):
    name = "podman"

    def __init__(self, work: Path, image_tar: Path) -> None:
        self.root = work / "podman"
        self.root.mkdir(parents=True)
        self.run("import", str(image_tar), "busybox:latest")

    def cli(self, *args: str) -> list[str]:
        r = self.root
        base = ["podman", "--root", str(r / "root"), "--runroot", str(r / "run"), "--runtime", "runc",
                "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                "--tmpdir", str(r / "tmp")]  # fmt: skip
        if args and args[0] in ("run", "create"):
            return [
                *base,
                args[0],
                "--ulimit",
                "nofile=20000:20000",
                "--ulimit",
                "nproc=32768:32768",
                *args[1:],
            ]
        return [*base, *args]

    def stop(self) -> None:
        self.run("rm", "-af", check=False, timeout=300)
        _unmount_below(self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    def shim_pids(self) -> list[int]:
        return _pids_named("conmon")


def _pids_named(name: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip().startswith(name[:15]):
                        out.append(int(entry))
            except OSError:
                continue
    return out


def _unmount_below(folder: Path) -> None:
    real = os.path.realpath(folder)
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split(" ")[4]
            if point == real or point.startswith(real + "/"):
                points.append(point)
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="dy-bench-"))
