"""testcontainers-python against `dockyard daemon` (issue 3, "Must show" 2).

``DockerContainer`` starts a busybox container through dockyard, ``wait_for_logs`` sees its log
line, and stopping it removes it. Offline here, so the Ryuk reaper (an image from Docker Hub) is
turned off with ``TESTCONTAINERS_RYUK_DISABLED=true``; DOCKER_HOST names our socket.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import docker.errors
import pytest
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy
from testcontainers.core.waiting_utils import wait_for_logs

from tests.compat.engines import unique
from tests.daemon_harness import DockyardDaemon

pytestmark = [
    pytest.mark.compat,
    pytest.mark.root,
    # The issue names wait_for_logs, which testcontainers 4.x deprecates for string and callable
    # predicates (in favour of LogMessageWaitStrategy, tested too).
    pytest.mark.filterwarnings("ignore:The wait_for_logs function:DeprecationWarning"),
]


@pytest.fixture
def tc_env(dockyard_daemon: DockyardDaemon, monkeypatch: pytest.MonkeyPatch) -> Iterator[DockyardDaemon]:
    """DOCKER_HOST on our socket and Ryuk off, for this test only (testcontainers' DockerClient
    writes DOCKER_HOST back into os.environ; monkeypatch restores it)."""
    monkeypatch.setenv("DOCKER_HOST", dockyard_daemon.host)
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.delenv("TESTCONTAINERS_HOST_OVERRIDE", raising=False)
    monkeypatch.delenv("TC_HOST", raising=False)
    monkeypatch.setattr(testcontainers_config, "_ryuk_disabled", None)  # re-read from the env
    yield dockyard_daemon


def _gone(d: DockyardDaemon, name: str) -> bool:
    client = d.client()
    try:
        client.containers.get(name)
        return False
    except docker.errors.NotFound:
        return True
    finally:
        client.close()


def test_start_wait_for_log_line_stop(tc_env: DockyardDaemon) -> None:
    assert testcontainers_config.ryuk_disabled is True
    name = unique("tc")
    script = "echo starting; sleep 0.3; echo 'server is ready on 8080'; exec sleep 1000"
    container = DockerContainer("busybox").with_command(["sh", "-c", script]).with_name(name)
    container.with_env("MODE", "test").with_kwargs(labels={"dytc": name})
    container.start()
    try:
        waited = wait_for_logs(container, r"ready on \d+", timeout=30, interval=0.1)
        assert 0 <= waited < 30
        stdout, stderr = container.get_logs()
        assert stdout == b"starting\nserver is ready on 8080\n" and stderr == b""
        wrapped = container.get_wrapped_container()
        wrapped.reload()
        assert wrapped.status == "running" and wrapped.name == name
        assert "MODE=test" in wrapped.attrs["Config"]["Env"]
        assert container.exec(["sh", "-c", "echo $MODE"]).output == b"test\n"
    finally:
        container.stop()
    assert _gone(tc_env, name)


def test_context_manager_and_log_wait_strategy(tc_env: DockyardDaemon) -> None:
    """The structured form testcontainers recommends: start() itself waits for the line."""
    name = unique("tcctx")
    script = "for i in 1 2 3; do echo step$i; sleep 0.1; done; echo done >&2; exec sleep 1000"
    strategy = LogMessageWaitStrategy(re.compile(r"^done$", re.M)).with_startup_timeout(30)
    container = DockerContainer("busybox").with_command(["sh", "-c", script]).with_name(name)
    with container.waiting_for(strategy.with_poll_interval(0.1)):
        stdout, stderr = container.get_logs()
        assert stdout == b"step1\nstep2\nstep3\n" and stderr == b"done\n"
    assert _gone(tc_env, name)


def test_wait_for_logs_raises_when_the_container_exits(tc_env: DockyardDaemon) -> None:
    name = unique("tcexit")
    container = DockerContainer("busybox").with_command(["sh", "-c", "echo nope; exit 1"]).with_name(name)
    container.start()
    try:
        with pytest.raises(RuntimeError):
            wait_for_logs(container, "never printed", timeout=20, interval=0.1, raise_on_exit=True)
    finally:
        container.stop()
    assert _gone(tc_env, name)
