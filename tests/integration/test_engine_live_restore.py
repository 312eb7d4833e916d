"""Live restore with a real `dockyard daemon` process killed by SIGKILL (issue 3, "Must show" 3):
the containers keep running and logging, the next daemon reattaches them, no log line is lost,
and the exit codes come out right afterwards."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.daemon_harness import DockyardDaemon

pytestmark = pytest.mark.root


def test_sigkilled_daemon_leaves_containers_running(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    flag.mkdir()
    first = DockyardDaemon("--live-restore")
    second = DockyardDaemon("--live-restore", root=str(first.root), bridge=first.bridge)
    try:
        first.start()
        first.bootstrap()
        client = first.client()
        script = "i=0; while [ ! -e /f/stop ]; do echo line$i; i=$((i+1)); sleep 0.02; done; exit 3"
        logger = client.containers.run("busybox", ["sh", "-c", script], detach=True, volumes=[f"{flag}:/f"])
        sleeper = client.containers.run("busybox", ["sleep", "60"], detach=True, stop_signal="SIGKILL")
        pids = {c.id: client.api.inspect_container(c.id)["State"]["Pid"] for c in (logger, sleeper)}
        client.close()
        first.kill()
        time.sleep(0.3)  # the container logs on with no daemon
        second.start()
        client = second.client()
        running = {c.id for c in client.containers.list()}
        assert running == set(pids)
        for cid, pid in pids.items():
            assert client.api.inspect_container(cid)["State"]["Pid"] == pid
        (flag / "stop").touch()
        assert client.api.wait(logger.id)["StatusCode"] == 3
        lines = client.api.logs(logger.id).decode().split()
        assert len(lines) > 5 and lines == [f"line{i}" for i in range(len(lines))]
        client.api.kill(sleeper.id)
        assert client.api.inspect_container(sleeper.id)["State"]["ExitCode"] == 137
        client.api.remove_container(logger.id)
        client.api.remove_container(sleeper.id)
        client.close()
    finally:
        second.cleanup()
        first.cleanup()
