"""One-off containers (`compose run`), interleaved logs followed to the end (what attached `up`
prints), stop/start/restart/kill/rm by service, on a real daemon."""

from __future__ import annotations

import io
import os

import pytest

from dockyard.client.api import APIClient
from dockyard.compose import logs, oneoff, ops
from dockyard.compose.progress import Progress
from dockyard.compose.state import Container, list_containers
from dockyard.compose.up import Converger, UpOptions
from tests.compose_fixtures import Lines, project, project_leftovers, service
from tests.daemon_harness import DockyardDaemon

pytestmark = pytest.mark.root


def test_run_logs_and_lifecycle(dockyard_daemon: DockyardDaemon, client: APIClient) -> None:
    d = dockyard_daemon
    name = f"cuprun{os.getpid()}"
    p = project(
        name,
        service("box", command=["sleep", "300"], init=True),
        service("once", command=["sh", "-c", "echo one; echo two >&2; echo three"]),
    )
    progress = Progress(Lines(), terminal=False)
    try:
        Converger(client, p, progress).up(UpOptions())

        # attached up's view: every line, prefixed, until the container exits
        once = [c for c in list_containers(client, name) if c.service == "once"]
        out = io.BytesIO()
        printer = logs.Printer(out, len(once[0].name), colour=True)
        exited: list[str] = []

        def on_exit(c: Container) -> None:
            exited.append(c.name)

        logs.follow(client, once, printer, follow=True, on_exit=on_exit)
        lines = out.getvalue().decode().splitlines()
        head = f"\x1b[36m{name}-once-1  | \x1b[0m"
        assert sorted(lines) == sorted([f"{head}one", f"{head}two", f"{head}three"])
        assert exited == [f"{name}-once-1"]

        # a one-off container: named -run-<hex>, labelled oneoff, left out of the services' view
        run = oneoff.RunOptions(service="box", command=["sh", "-c", "echo ran $X"], environment={"X": "1"})
        cid, run_name = oneoff.create(client, p, run, progress)
        assert run_name.startswith(f"{name}-box-run-")
        client.post(f"/containers/{cid}/start")
        assert client.post(f"/containers/{cid}/wait")["StatusCode"] == 0
        info = client.get(f"/containers/{cid}/json")
        assert info["Config"]["Labels"]["com.docker.compose.oneoff"] == "True"
        assert run_name not in [c.name for c in list_containers(client, name)]
        assert run_name in d.dockyard("compose", "-p", name, "ps", "-a").stdout
        assert "ran 1" in d.docker("logs", cid).stdout

        top = d.dockyard("compose", "-p", name, "top", "box").stdout
        assert top.startswith(f"{name}-box-1\n") and "sleep 300" in top, top

        # stop, start, restart, kill, rm by service (CLI, by project name)
        d.dockyard("compose", "-p", name, "stop", "box")
        assert [c.state for c in list_containers(client, name, service="box")] == ["exited"]
        d.dockyard("compose", "-p", name, "start", "box")
        assert [c.state for c in list_containers(client, name, service="box")] == ["running"]
        d.dockyard("compose", "-p", name, "restart", "box")
        d.dockyard("compose", "-p", name, "kill", "box")
        assert [c.state for c in list_containers(client, name, service="box")] == ["exited"]
        d.dockyard("compose", "-p", name, "rm", "-f", "box")
        assert list_containers(client, name, service="box") == []

        ops.down(client, p, name, progress)
        assert project_leftovers(client, name) == {"containers": [], "networks": [], "volumes": []}
    finally:
        ops.down(client, p, name, progress, volumes=True)
