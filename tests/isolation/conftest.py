"""Fixtures of the isolation suite (issue 8): the two engines, the prober, victims.

    engine          function; parametrized over dockyard and dockerd (the reference): every
                    scenario runs against both, and where dockerd contains something dockyard
                    does not, that is our bug
    prober          session; the static escape prober (prober.c) built with gcc, in a folder
                    containers bind-mount read-only
    names           function; ``names("victim")`` -> a container name unique to this process and
                    test; every container made through ``engine.run`` is removed afterwards

The dockerd reference is tests/compat/engines.py's session dockerd (private paths, no bridge, no
iptables, busybox imported).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.compat.engines import busybox_layer_fixture, dockerd_fixture, engines_dir_fixture  # noqa: F401
from tests.daemon_harness import DOCKER_CLI
from tests.isolation.engines import Engine

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the isolation suite needs root")

_COUNTER = itertools.count()
ENGINES = ["dockyard", "docker"]


@pytest.fixture(scope="session")
def dockyard_engine(dockyard_daemon: object) -> Engine:
    from tests.daemon_harness import DockyardDaemon

    assert isinstance(dockyard_daemon, DockyardDaemon)
    d = dockyard_daemon

    def pids() -> list[int]:
        return [d.proc.pid] if d.proc is not None else []

    return Engine("dockyard", "busybox", str(d.socket), [DOCKER_CLI, "-H", d.host], pids, d.log)


@pytest.fixture(scope="session")
def docker_engine(dockerd: object) -> Engine:
    from tests.compat.engines import Dockerd

    assert isinstance(dockerd, Dockerd)
    d = dockerd

    def pids() -> list[int]:
        out = [d.proc.pid]
        try:
            out.append(int((d.exec_root / "containerd" / "containerd.pid").read_text().strip()))
        except (OSError, ValueError):
            pass
        return out

    def log() -> str:
        try:
            return d.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    return Engine("docker", d.image, d.sock, [DOCKER_CLI, "-H", d.host], pids, log)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    e: Engine = request.getfixturevalue(f"{request.param}_engine")
    try:
        yield e
    finally:
        e.cleanup()


@pytest.fixture
def names(engine: Engine) -> Callable[[str], str]:
    def make(role: str) -> str:
        return f"iso{os.getpid()}-{engine.name}-{role}-{next(_COUNTER)}"

    return make


@pytest.fixture(scope="session")
def prober() -> Iterator[Path]:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is missing: apt-get install -y gcc libc6-dev (scripts/install.sh test does)")
    folder = Path(tempfile.mkdtemp(prefix=f"dockyard-prober-{os.getpid()}-"))
    try:
        folder.chmod(0o755)
        binary = folder / "prober"
        source = Path(__file__).with_name("prober.c")
        subprocess.run([gcc, "-static", "-O2", "-Wall", "-o", str(binary), str(source)], check=True,
                       capture_output=True, timeout=120)  # fmt: skip
        yield binary
    finally:
        shutil.rmtree(folder, ignore_errors=True)
