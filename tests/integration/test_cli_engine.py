"""The engine the ``dockyard`` CLI tests run against, as one fixture: ``cli_engine``.

Every ``tests/integration/test_cli_*.py`` test takes ``cli_engine`` and drives our CLI
(``python -m dockyard -H unix://SOCKET ...``) against it. The engines are listed in
``ENGINES``: by default both the real dockerd (Debian's docker.io, on private paths:
``tests/compat/engines.py``) and ``dockyard`` (tests/conftest.py's ``dockyard_daemon``), so every
CLI test shows the same behaviour on both; ``DOCKYARD_CLI_ENGINES`` picks (``dockyard``, ``dockerd``).

Each engine holds ``busybox:latest`` (busybox-static, ``CMD ["sh"]``) and nothing from the
internet. One engine per pytest process serves all the CLI test modules (kept on the pytest
config object, so importing the fixture into several modules starts it once); it is stopped
and its folders removed when the session ends. The ``names`` fixture hands out unique
container names and force-removes them after each test.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = [pytest.mark.root]

#: the engines every CLI test runs against (DOCKYARD_CLI_ENGINES=dockyard for ours alone)
ENGINES = [name for name in os.environ.get("DOCKYARD_CLI_ENGINES", "dockerd,dockyard").split(",") if name]
IMAGE = "busybox:latest"
_COUNTER = itertools.count()


def unique(prefix: str = "dyc") -> str:
    """A name no parallel helper or earlier run uses: prefix, our pid, a counter."""
    return f"{prefix}{os.getpid()}-{next(_COUNTER)}"


@dataclass
class CliEngine:
    name: str
    host: str
    config_dir: Path
    image: str = IMAGE
    docker_cli: str = "/usr/local/bin/docker"
    cleanup_images: list[str] = field(default_factory=list)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_"))}
        env["DOCKER_CONFIG"] = str(self.config_dir)
        env.update(extra or {})
        return env

    def argv(self, *args: str) -> list[str]:
        """Our CLI's command line against this engine."""
        return [sys.executable, "-m", "dockyard", "-H", self.host, *args]

    def cli(
        self,
        *args: str,
        input: bytes | None = None,
        timeout: float = 60,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run our CLI; stdout and stderr captured as bytes; stdin empty unless ``input``."""
        return subprocess.run(
            self.argv(*args),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env=self.env(env),
            cwd=cwd,
            check=False,
        )

    def ok(self, *args: str, input: bytes | None = None, timeout: float = 60) -> str:
        """stdout of a CLI command that must succeed (the test fails with its output otherwise)."""
        res = self.cli(*args, input=input, timeout=timeout)
        assert res.returncode == 0, explain(res, args)
        return res.stdout.decode(errors="replace")

    def docker(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """The real docker CLI against the same engine: the control, for setup and cross-checks."""
        return subprocess.run(
            [self.docker_cli, "-H", self.host, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(),
            check=False,
        )

    def inspect(self, name: str) -> dict[str, object]:
        import json

        res = self.docker("inspect", name)
        assert res.returncode == 0, res.stderr
        data: list[dict[str, object]] = json.loads(res.stdout)
        return data[0]


def explain(res: subprocess.CompletedProcess[bytes], args: tuple[str, ...] | list[str]) -> str:
    return (
        f"dockyard {' '.join(args)}: exit {res.returncode}\n"
        f"stdout: {res.stdout.decode(errors='replace')[-3000:]}\n"
        f"stderr: {res.stderr.decode(errors='replace')[-3000:]}"
    )


# ---------------------------------------------------------------- dockerd


def _busybox_layer(folder: Path) -> Path:
    from dockyard.util import busybox

    rootfs = folder / "rootfs"
    busybox.make_rootfs(str(rootfs))
    layer = folder / "busybox.tar"

    def root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(layer, "w") as tar:
        for entry in sorted(rootfs.iterdir()):
            tar.add(entry, arcname=entry.name, filter=root_owned)
    shutil.rmtree(rootfs)
    return layer


def _start_dockerd(folder: Path) -> tuple[CliEngine, object]:
    from tests.compat import engines

    if shutil.which("dockerd") is None:
        pytest.skip("dockerd is not installed: apt-get install -y docker.io")
    root = folder / "dockerd"
    root.mkdir()
    cgroup_parent = engines.unique("/dockyard-cli")
    client = next((c for c in engines.DOCKER_CLIENTS[::-1] if os.access(c, os.X_OK)), "docker")
    d = engines.Dockerd(root, engines.start_dockerd(root, cgroup_parent), client, cgroup_parent)
    try:

        def up() -> bool:
            if d.proc.poll() is not None:
                pytest.fail(f"dockerd exited with {d.proc.returncode}:\n{engines._log_tail(d.log_path)}")
            return engines.ping(d.sock)

        engines.wait_for(up, engines.ENGINE_START_TIMEOUT, f"dockerd to answer on {d.sock}")
        layer = _busybox_layer(folder)
        d.text("import", "--change", 'CMD ["sh"]', str(layer), IMAGE, timeout=60)
    except BaseException:
        engines._stop_dockerd(d)
        raise
    engine = CliEngine("dockerd", d.host, folder / "docker-config", docker_cli=client)
    return engine, d


def _engine(config: pytest.Config, name: str, request: pytest.FixtureRequest) -> CliEngine:
    """The engine called ``name``, started on first use and kept for the session."""
    cache: dict[str, CliEngine] = config.__dict__.setdefault("_dockyard_cli_engines", {})
    if name in cache:
        return cache[name]
    if os.geteuid() != 0:
        pytest.skip("the CLI tests start a container engine: they need root (CI is root)")
    if name == "dockyard":
        daemon = request.getfixturevalue("dockyard_daemon")
        folder = Path(tempfile.mkdtemp(prefix="dockyard-cli-"))
        engine = CliEngine("dockyard", daemon.host, folder / "docker-config")
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
        cache[name] = engine
        return engine
    folder = Path(tempfile.mkdtemp(prefix="dockyard-cli-"))
    folder.chmod(0o711)
    try:
        engine, handle = _start_dockerd(folder)
    except BaseException:
        _remove_folder(folder)
        raise

    def stop() -> None:
        from tests.compat import engines

        try:
            engines._stop_dockerd(handle)  # type: ignore[arg-type]
        finally:
            _remove_folder(folder)

    config.add_cleanup(stop)
    cache[name] = engine
    return engine


def _remove_folder(folder: Path) -> None:
    from tests.compat import engines

    engines.unmount_and_remove(str(folder))


@pytest.fixture(scope="session", params=ENGINES, name="cli_engine")
def cli_engine_fixture(request: pytest.FixtureRequest) -> CliEngine:
    return _engine(request.config, str(request.param), request)


@pytest.fixture(name="names")
def names_fixture(cli_engine: CliEngine) -> Iterator[list[str]]:
    """Container names for one test; every one of them is force-removed afterwards."""
    made: list[str] = []
    try:
        yield made
    finally:
        if made:
            cli_engine.docker("rm", "-f", *made, timeout=60)


def new_name(names: list[str]) -> str:
    name = unique()
    names.append(name)
    return name


@pytest.fixture(name="scratch")
def scratch_fixture() -> Iterator[Path]:
    """A temp folder for files a test copies or saves; removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="dockyard-cli-files-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- the engine itself


def test_engine_answers_version(cli_engine: CliEngine) -> None:
    """The engine is up and our client negotiates an API version with it."""
    out = cli_engine.ok("version", "--format", "{{.Client.ApiVersion}} {{.Server.ApiVersion}}")
    ours, theirs = out.split()
    assert ours == min(ours, theirs, key=lambda v: tuple(int(x) for x in v.split(".")))


def test_engine_has_busybox(cli_engine: CliEngine) -> None:
    out = cli_engine.ok("images", "--format", "{{.Repository}}:{{.Tag}}")
    assert cli_engine.image in out.split()
