"""The compose commands and flags the demo does not reach, through the real CLI on a real daemon:
``build``, ``push`` and ``pull`` against the reference registry on loopback, ``events``,
``up --build / --no-deps / --force-recreate / --remove-orphans``, ``down --rmi local|all`` and
``down --remove-orphans``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from dockyard.client.api import APIClient
from dockyard.client.errors import NoSuchObject
from tests.compose_fixtures import project_leftovers
from tests.daemon_harness import DOCKYARD, DockyardDaemon

pytestmark = pytest.mark.root


class Project:
    """One compose project in a folder: the CLI with ``-f <file> -p <name>``."""

    def __init__(self, d: DockyardDaemon, folder: Path, name: str) -> None:
        self.d = d
        self.folder = folder
        self.name = name
        self.file = folder / "compose.yaml"

    def argv(self, *args: str, file: Path | None = None) -> list[str]:
        return ["compose", "-f", str(file or self.file), "-p", self.name, *args]

    def cli(
        self, *args: str, file: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.d.dockyard(*self.argv(*args, file=file), check=check, timeout=120)

    def ids(self, client: APIClient) -> dict[str, str]:
        from dockyard.compose.state import list_containers

        return {c.name: c.id for c in list_containers(client, self.name)}

    def down(self) -> None:
        self.d.dockyard("compose", "-p", self.name, "down", "-v", "--remove-orphans", check=False)


def image_exists(client: APIClient, ref: str) -> bool:
    try:
        client.get(f"/images/{ref}/json")
    except NoSuchObject:
        return False
    return True


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_build_push_pull_events_rmi(
    dockyard_daemon: DockyardDaemon, client: APIClient, reference_registry: str, tmp_path: Path
) -> None:
    d = dockyard_daemon
    name = f"cupcmd{os.getpid()}"
    pushed = f"{reference_registry}/x/{name}:t"
    plain = f"{name}bb:t"  # a tag of busybox made here: `--rmi all` may remove it, never busybox:latest
    write(tmp_path / "app" / "Dockerfile", 'FROM busybox\nRUN echo app > /built\nCMD ["sleep", "300"]\n')
    write(tmp_path / "local" / "Dockerfile", 'FROM busybox\nRUN echo local > /built\nCMD ["sleep", "300"]\n')
    write(
        tmp_path / "compose.yaml",
        f"services:\n"
        f"  app:\n    build: ./app\n    image: {pushed}\n    init: true\n"
        f"  local:\n    build: ./local\n    init: true\n"
        f"  plain:\n    image: {plain}\n    command: [sleep, '300']\n    init: true\n",
    )
    p = Project(d, tmp_path, name)
    events: subprocess.Popen[str] | None = None
    d.docker("tag", "busybox", plain)
    try:
        # build: every service with a build section, tagged as its image or <project>-<service>
        p.cli("build")
        assert image_exists(client, pushed) and image_exists(client, f"{name}-local")

        # push: the built service with an image name goes to the registry; the others are skipped
        res = p.cli("push")
        assert f"Image {pushed}  Pushed" in res.stderr and plain not in res.stderr, res.stderr
        with urllib.request.urlopen(f"http://{reference_registry}/v2/x/{name}/tags/list", timeout=10) as r:
            assert json.load(r)["tags"] == ["t"]

        # pull brings the removed image back from the registry
        d.docker("rmi", pushed)
        assert not image_exists(client, pushed)
        res = p.cli("pull", "app")
        assert f"Image {pushed}  Pulled" in res.stderr, res.stderr
        assert image_exists(client, pushed)

        p.cli("up", "-d")
        # events: the project's container events, with the service, as JSON lines
        events = subprocess.Popen(
            [DOCKYARD, "-H", d.host, *p.argv("events", "--json")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=d.env(),
        )  # fmt: skip
        seen: list[dict[str, Any]] = []
        done = threading.Event()

        def read() -> None:
            assert events is not None and events.stdout is not None
            for line in events.stdout:
                seen.append(json.loads(line))
                actions = {e["action"] for e in seen if e["service"] == "plain"}
                if {"die", "start"} <= actions:
                    done.set()
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        # the stream is open once `events` has subscribed: restart until an event arrives
        for _ in range(20):
            p.cli("restart", "plain")
            if done.wait(3):
                break
        assert done.is_set(), (seen, events.poll())
        plain_events = [e for e in seen if e["service"] == "plain"]
        assert plain_events[0]["id"] == p.ids(client)[f"{name}-plain-1"]
        assert plain_events[0]["type"] == "container"
        assert plain_events[0]["attributes"]["com.docker.compose.project"] == name
        assert {e["service"] for e in seen} == {"plain"}

        # down --rmi local: the images compose built under its own name go; named ones stay
        res = p.cli("down", "--rmi", "local")
        assert not image_exists(client, f"{name}-local")
        assert image_exists(client, pushed) and image_exists(client, plain)
        assert image_exists(client, "busybox:latest")
        assert project_leftovers(client, name) == {"containers": [], "networks": [], "volumes": []}

        # down --rmi all: the named ones too (the project needs no containers for it)
        p.cli("down", "--rmi", "all")
        assert not image_exists(client, pushed) and not image_exists(client, plain)
        assert image_exists(client, "busybox:latest")
    finally:
        if events is not None:
            if events.poll() is None:
                os.kill(events.pid, signal.SIGTERM)
            events.wait(10)
            assert events.stdout is not None and events.stderr is not None
            events.stdout.close()
            events.stderr.close()
        p.down()
        for ref in (pushed, plain, f"{name}-local"):
            d.docker("rmi", "-f", ref, check=False)


def test_up_flags_and_orphans(dockyard_daemon: DockyardDaemon, client: APIClient, tmp_path: Path) -> None:
    d = dockyard_daemon
    name = f"cupflags{os.getpid()}"
    write(tmp_path / "b" / "Dockerfile", 'FROM busybox\nCOPY stamp /stamp\nCMD ["sleep", "300"]\n')
    stamp = write(tmp_path / "b" / "stamp", "one\n")
    services = {
        "db": "    image: busybox\n    command: [sleep, '300']\n    init: true\n",
        "web": "    image: busybox\n    command: [sleep, '300']\n    init: true\n    depends_on: [db]\n",
        "b": "    build: ./b\n    init: true\n",
        "extra": "    image: busybox\n    command: [sleep, '300']\n    init: true\n",
    }

    def compose_file(path: Path, *names: str) -> Path:
        return write(path, "services:\n" + "".join(f"  {n}:\n{services[n]}" for n in names))

    compose_file(tmp_path / "compose.yaml", "db", "web", "b", "extra")
    p = Project(d, tmp_path, name)
    try:
        # --no-deps: web alone, without db
        p.cli("up", "-d", "--no-deps", "web")
        assert sorted(p.ids(client)) == [f"{name}-web-1"]

        p.cli("up", "-d")
        first = p.ids(client)
        assert sorted(first) == sorted(f"{name}-{s}-1" for s in ("b", "db", "extra", "web"))
        assert p.cli("exec", "-T", "b", "cat", "/stamp").stdout == "one\n"

        # --force-recreate db: db is new, its dependent and the others are kept
        p.cli("up", "-d", "--force-recreate", "db")
        after = p.ids(client)
        assert after[f"{name}-db-1"] != first[f"{name}-db-1"]
        assert {k: v for k, v in after.items() if "-db-" not in k} == {
            k: v for k, v in first.items() if "-db-" not in k
        }

        # --force-recreate web: web alone, not its dependency db (as v2);
        # --always-recreate-deps web: db is recreated, the unchanged web kept
        p.cli("up", "-d", "--force-recreate", "web")
        forced = p.ids(client)
        assert forced[f"{name}-web-1"] != after[f"{name}-web-1"]
        assert forced[f"{name}-db-1"] == after[f"{name}-db-1"]
        p.cli("up", "-d", "--always-recreate-deps", "web")
        deps = p.ids(client)
        assert deps[f"{name}-db-1"] != forced[f"{name}-db-1"]
        assert deps[f"{name}-web-1"] == forced[f"{name}-web-1"]
        bad = p.cli("up", "-d", "--always-recreate-deps", "--no-recreate", check=False)
        assert bad.returncode != 0 and "incompatible" in bad.stderr
        first = {**first, f"{name}-web-1": deps[f"{name}-web-1"]}

        # --build: the changed context makes a new image, so b is recreated on it; an up
        # without --build keeps the image it has
        stamp.write_text("two\n")
        p.cli("up", "-d")
        assert p.ids(client)[f"{name}-b-1"] == first[f"{name}-b-1"]
        p.cli("up", "-d", "--build")
        rebuilt = p.ids(client)
        assert rebuilt[f"{name}-b-1"] != first[f"{name}-b-1"]
        assert rebuilt[f"{name}-web-1"] == first[f"{name}-web-1"]
        assert p.cli("exec", "-T", "b", "cat", "/stamp").stdout == "two\n"

        # orphans: a file without "extra" warns about its container and keeps it ...
        fewer = compose_file(tmp_path / "fewer.yaml", "db", "web", "b")
        res = p.cli("up", "-d", file=fewer)
        assert "Found orphan containers" in res.stderr and f"{name}-extra-1" in res.stderr, res.stderr
        assert f"{name}-extra-1" in p.ids(client)
        # ... and --remove-orphans removes it
        p.cli("up", "-d", "--remove-orphans", file=fewer)
        assert sorted(p.ids(client)) == sorted(f"{name}-{s}-1" for s in ("b", "db", "web"))

        # down from a file that lacks "web": without --remove-orphans web stays (with the network
        # it is on); with it, everything goes
        least = compose_file(tmp_path / "least.yaml", "db", "b")
        res = p.cli("down", file=least, check=False)
        assert res.returncode == 0, res.stderr
        assert "Resource is still in use" in res.stderr, res.stderr
        assert sorted(p.ids(client)) == [f"{name}-web-1"], res.stderr
        p.cli("down", "--remove-orphans", "--rmi", "local", file=least)
        assert project_leftovers(client, name) == {"containers": [], "networks": [], "volumes": []}
        assert not image_exists(client, f"{name}-b")
    finally:
        p.down()
        d.docker("rmi", "-f", f"{name}-b", check=False)
