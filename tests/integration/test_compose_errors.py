"""Bad input to `compose up` on a real daemon: a clear error naming where, nothing half-started.
And a project another Compose started (docker-compose 1.29's `<project>_<service>_<n>` names,
the same labels) seen by `compose ls`/`ps -p` and removed by `down -p`."""

from __future__ import annotations

import os
import socket

import pytest

from dockyard.client.api import APIClient
from dockyard.compose.errors import ComposeError, ExternalMissing
from dockyard.compose.model import Dependency, Network, Port
from dockyard.compose.progress import Progress
from dockyard.compose.startorder import DependencyCycle
from dockyard.compose.up import Converger, UpOptions
from tests.compose_fixtures import Lines, project, project_leftovers, service
from tests.daemon_harness import DockyardDaemon

pytestmark = pytest.mark.root

NOTHING: dict[str, list[str]] = {"containers": [], "networks": [], "volumes": []}


def _up(client: APIClient, p: object) -> None:
    Converger(client, p, Progress(Lines(), terminal=False)).up(UpOptions())  # type: ignore[arg-type]


def test_bad_input_leaves_nothing(dockyard_daemon: DockyardDaemon, client: APIClient) -> None:
    d = dockyard_daemon
    base = f"cupbad{os.getpid()}"
    sleeper = ["sleep", "300"]

    # a cycle in depends_on: named, before anything is made
    name = f"{base}c"
    p = project(
        name,
        service("web", command=sleeper, depends_on={"api": Dependency()}),
        service("api", command=sleeper, depends_on={"web": Dependency()}),
        volumes=("data",),
    )
    with pytest.raises(DependencyCycle, match="api -> web -> api"):
        _up(client, p)
    assert project_leftovers(client, name) == NOTHING

    # an external network that does not exist: named, with the fix
    name = f"{base}x"
    p = project(name, service("web", command=sleeper), volumes=("data",))
    p.networks["default"] = Network(name=f"{name}-missing", external=True)
    with pytest.raises(ExternalMissing, match=f'network "{name}-missing" is declared as external'):
        _up(client, p)
    assert project_leftovers(client, name) == NOTHING

    # a published port already in use: the first service was started, and is removed again
    name = f"{base}p"
    listener = socket.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        p = project(
            name,
            service("db", command=sleeper, init=True),
            service(
                "web", command=sleeper, init=True, depends_on={"db": Dependency()},
                ports=[Port(target=80, published=str(port), host_ip="127.0.0.1")],
            ),
            volumes=(),
        )  # fmt: skip
        with pytest.raises(ComposeError, match=f"container {name}-web-1: start failed: .*{port}"):
            _up(client, p)
        assert project_leftovers(client, name) == NOTHING
    finally:
        listener.close()
        for leftover in project_leftovers(client, name)["containers"]:
            d.docker("rm", "-f", leftover.lstrip("/"), check=False)
        d.docker("network", "rm", f"{name}_default", check=False)


def test_project_of_another_compose_is_listed_and_removed(dockyard_daemon: DockyardDaemon) -> None:
    d = dockyard_daemon
    name = f"cuplegacy{os.getpid()}"
    labels = [
        f"com.docker.compose.project={name}",
        "com.docker.compose.service=web",
        "com.docker.compose.container-number=1",
        "com.docker.compose.oneoff=False",
        "com.docker.compose.config-hash=0123",
        "com.docker.compose.project.config_files=/srv/legacy/docker-compose.yml",
        "com.docker.compose.version=1.29.2",
    ]
    args = [arg for label in labels for arg in ("--label", label)]
    try:
        d.docker("run", "-d", "--init", "--name", f"{name}_web_1", *args, "busybox", "sleep", "300")
        listed = d.dockyard("compose", "ls").stdout
        row = next(line for line in listed.splitlines() if line.startswith(name))
        assert row.split() == [name, "running(1)", "/srv/legacy/docker-compose.yml"]
        ps = d.dockyard("compose", "-p", name, "ps").stdout
        assert f"{name}_web_1" in ps and "web" in ps
        d.dockyard("compose", "-p", name, "down")
        assert name not in d.dockyard("compose", "ls", "-a").stdout
    finally:
        d.docker("rm", "-f", f"{name}_web_1", check=False)
