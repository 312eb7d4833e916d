"""``depends_on: {<service>: {restart: true}}`` through the real CLI on a real daemon: a dependent
restarts when its dependency is restarted (``compose restart``) or recreated (``up`` after a
change), and a dependent without ``restart: true`` is left running."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.client.api import APIClient
from dockyard.compose.state import list_containers
from tests.daemon_harness import DockyardDaemon

pytestmark = pytest.mark.root


def compose_text(value: str) -> str:
    box = "    image: busybox\n    command: [sleep, '300']\n    init: true\n"

    def on(dep: str) -> str:
        return f"    depends_on:\n      {dep}:\n        condition: service_started\n        restart: true\n"

    return (
        "services:\n"
        f"  db:\n{box}    environment:\n      X: '{value}'\n"
        f"  web:\n{box}{on('db')}"
        f"  front:\n{box}{on('web')}"
        f"  report:\n{box}    depends_on: [db]\n"
    )


def started(client: APIClient, name: str) -> dict[str, tuple[str, str]]:
    """service -> (container id, StartedAt)"""
    out = {}
    for c in list_containers(client, name):
        out[c.service] = (c.id, client.get(f"/containers/{c.id}/json")["State"]["StartedAt"])
    return out


def test_restart_true_dependents_follow_their_dependency(
    dockyard_daemon: DockyardDaemon, client: APIClient, tmp_path: Path
) -> None:
    d = dockyard_daemon
    name = f"crestart{os.getpid()}"
    file = tmp_path / "compose.yaml"
    file.write_text(compose_text("1"))

    def cli(*args: str) -> str:
        res = d.dockyard("compose", "-f", str(file), "-p", name, *args, check=False, timeout=120)
        assert res.returncode == 0, res.stdout + res.stderr
        return res.stdout + res.stderr

    try:
        cli("up", "-d")
        first = started(client, name)

        cli("restart", "-t", "1", "db")
        second = started(client, name)
        for svc in ("db", "web", "front"):  # restarted: same container, a new start
            assert second[svc][0] == first[svc][0] and second[svc][1] != first[svc][1], svc
        assert second["report"] == first["report"]

        cli("up", "-d")  # nothing changed: nothing restarts
        assert started(client, name) == second

        file.write_text(compose_text("2"))
        out = cli("up", "-d", "-t", "1")
        third = started(client, name)
        assert third["db"][0] != second["db"][0]  # recreated
        for svc in ("web", "front"):
            assert third[svc][0] == second[svc][0] and third[svc][1] != second[svc][1], svc
        assert third["report"] == second["report"]
        assert f"{name}-web-1" in out and "Restarted" in out
    finally:
        d.dockyard("compose", "-p", name, "down", "-t", "1", check=False)
