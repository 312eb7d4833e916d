"""A real `dockyard daemon` for tests: its own data root, exec root, socket and bridge.

Every daemon a test starts has outbound NAT off, forwarding from its bridges to other
interfaces dropped and no upstream for its embedded DNS (the network rule: no container
traffic leaves the machine, no name is looked up outside), and a bridge name of its own so
parallel daemons do not collide. Use it as a context manager, or through the
``dockyard_daemon`` fixture (tests/conftest.py: one daemon for the whole session)::

    with DockyardDaemon() as d:
        d.docker("run", "--rm", "busybox", "true")        # the real docker CLI
        d.client().containers.run("busybox", "true")      # docker-py
        d.dockyard("ps", "-a")                            # our CLI

stop() sends SIGTERM and waits; kill() sends SIGKILL (live-restore tests). cleanup() removes
what the daemon left: mounts under its folders, its bridges, iptables chains and nft table
(the daemon's stop() keeps those for live restore).
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.conftest import remove_tree

_COUNTER = itertools.count()
VENV_BIN = Path(sys.executable).parent
DOCKYARD = str(VENV_BIN / "dockyard")
DOCKER_CLI = "/usr/local/bin/docker"  # the docker 28 client; Debian's 20.10 client is /usr/bin/docker


class DockyardDaemon:
    def __init__(self, *extra_args: str, root: str | None = None, bridge: str | None = None) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="dyd-", dir="/tmp"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_root = self.root / "data"
        self.exec_root = self.root / "run"
        self.socket = self.root / "dockyard.sock"
        self.host = f"unix://{self.socket}"
        self.bridge = bridge or f"dyt{os.getpid()}x{next(_COUNTER)}"  # <= 15 characters
        self.extra_args = list(extra_args)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.root / "daemon.log"

    # ------------------------------------------------------------ lifecycle
    def args(self) -> list[str]:
        return [
            DOCKYARD, "daemon",
            "-H", self.host,
            "--data-root", str(self.data_root),
            "--exec-root", str(self.exec_root),
            "--config-file", str(self.root / "daemon.json"),
            "--bridge", self.bridge,
            "--ip-masq=false",
            "--isolate-egress",
            "--dns-upstream=none",  # the embedded DNS never asks the host's nameserver
            *self.extra_args,
        ]  # fmt: skip

    def start(self, timeout: float = 20.0) -> DockyardDaemon:
        cfg = self.root / "daemon.json"
        if not cfg.exists():
            cfg.write_text("{}\n")
        log = open(self.log_path, "ab")  # noqa: SIM115 - the daemon's stderr for its whole life
        self.proc = subprocess.Popen(self.args(), stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockyard daemon exited with {self.proc.returncode}:\n{self.log()}")
            if self.ping():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"dockyard daemon did not answer within {timeout}s:\n{self.log()}")

    def bootstrap(self) -> None:
        """The built-in busybox:latest (POST /dockyard/images/bootstrap, as `dockyard image
        bootstrap`)."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)
        try:
            s.connect(str(self.socket))
            s.sendall(b"POST /dockyard/images/bootstrap HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        finally:
            s.close()
        if b" 201 " not in answer.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"bootstrap failed: {answer.decode(errors='replace')}\n{self.log()}")

    def ping(self) -> bool:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(str(self.socket))
            s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.") and True
        except OSError:
            return False
        finally:
            s.close()

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash: containers and their shims stay behind (live restore)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except FileNotFoundError:
            return ""

    def cleanup(self) -> None:
        """After stop(): kill what is left of its containers, detach its mounts, drop its bridge."""
        self.stop()
        _kill_shims(self.exec_root)
        from dockyard.network.manager import cleanup_bridge

        # The daemon's stop() leaves its bridges, rules and nft table, for live restore.
        cleanup_bridge(self.bridge, self.data_root)
        remove_tree(str(self.root))

    def __enter__(self) -> DockyardDaemon:
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # ------------------------------------------------------------ clients
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DOCKER_HOST"] = self.host
        env["DOCKYARD_HOST"] = self.host
        env["DOCKER_CONFIG"] = str(self.root / "docker-config")
        env.pop("DOCKER_CONTEXT", None)
        return env

    def docker(
        self,
        *args: str,
        cli: str = DOCKER_CLI,
        input: bytes | None = None,
        timeout: float = 60,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """The real docker CLI against this daemon; raises with its output when it fails."""
        res = subprocess.run(
            [cli, *args], env=self.env(), input=input.decode() if input is not None else None,
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if check and res.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} exited {res.returncode}\nstdout: {res.stdout}\n"
                f"stderr: {res.stderr}\ndaemon log:\n{self.log()}"
            )
        return res

    def dockyard(
        self, *args: str, input: bytes | None = None, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Our CLI against this daemon."""
        return self.docker(*args, cli=DOCKYARD, input=input, timeout=timeout, check=check)

    def client(self, **kwargs: Any) -> Any:
        """A docker-py DockerClient on this daemon's socket."""
        import docker

        return docker.DockerClient(base_url=self.host, **kwargs)


def _kill_shims(exec_root: Path) -> None:
    """SIGKILL the processes recorded under the exec root (shims and container inits) that are
    still alive: only pids this daemon's containers recorded, never anything else."""
    if not exec_root.exists():
        return
    for pidfile in list(exec_root.rglob("*.pid")):
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            continue
        if pid > 1:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    runtime_root = exec_root / "runtime"
    if runtime_root.exists():
        runtime = str(VENV_BIN / "dockyard-runtime")
        for state in runtime_root.iterdir():
            subprocess.run([runtime, "--root", str(runtime_root), "delete", "--force", state.name],
                           capture_output=True, check=False)  # fmt: skip
