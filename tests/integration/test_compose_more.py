"""``compose create``, ``pause``/``unpause``, ``images``, ``cp`` and ``version`` through the real
CLI on a real daemon."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dockyard import __version__
from dockyard.client.api import APIClient
from dockyard.compose.state import list_containers
from tests.daemon_harness import DockyardDaemon

pytestmark = pytest.mark.root


def test_create_pause_images_cp_version(
    dockyard_daemon: DockyardDaemon, client: APIClient, tmp_path: Path
) -> None:
    d = dockyard_daemon
    name = f"cmore{os.getpid()}"
    file = tmp_path / "compose.yaml"
    file.write_text("services:\n  app:\n    image: busybox\n    command: [sleep, '300']\n    init: true\n")

    def cli(*args: str, check: bool = True) -> str:
        res = d.dockyard("compose", "-f", str(file), "-p", name, *args, check=False, timeout=120)
        if check:
            assert res.returncode == 0, res.stdout + res.stderr
        return res.stdout + (res.stderr if not check else "")

    def states() -> list[str]:
        return sorted(c.state for c in list_containers(client, name))

    try:
        cli("create", "--scale", "app=2")
        assert states() == ["created", "created"]
        cli("start")
        assert states() == ["running", "running"]
        cli("pause", "app")
        assert states() == ["paused", "paused"]
        cli("unpause")
        assert states() == ["running", "running"]

        table = cli("images").splitlines()
        assert table[0].split() == ["CONTAINER", "REPOSITORY", "TAG", "IMAGE", "ID", "SIZE"]
        assert sorted(line.split()[0] for line in table[1:]) == [f"{name}-app-1", f"{name}-app-2"]
        assert all(line.split()[1:3] == ["busybox", "latest"] for line in table[1:])
        image_id = client.get("/images/busybox/json")["Id"]
        assert cli("images", "-q").split() == [image_id]
        rows = json.loads(cli("images", "--format", "json"))
        assert {r["ContainerName"] for r in rows} == {f"{name}-app-1", f"{name}-app-2"}
        assert all(r["ID"] == image_id and r["Size"] > 0 for r in rows)

        # to the service: every replica; --index: one; from the service: the first replica
        local = tmp_path / "note.txt"
        local.write_text("copied in\n")
        cli("cp", str(local), "app:/tmp/note.txt")
        for index in ("1", "2"):
            assert cli("exec", "-T", "--index", index, "app", "cat", "/tmp/note.txt") == "copied in\n"
        local.write_text("only two\n")
        cli("cp", "--index", "2", str(local), "app:/tmp/note.txt")
        assert cli("exec", "-T", "--index", "1", "app", "cat", "/tmp/note.txt") == "copied in\n"
        assert cli("exec", "-T", "--index", "2", "app", "cat", "/tmp/note.txt") == "only two\n"
        cli("cp", "app:/tmp/note.txt", str(tmp_path / "back.txt"))
        assert (tmp_path / "back.txt").read_text() == "copied in\n"
        out = cli("cp", str(local), str(tmp_path / "x"), check=False)
        assert "exactly one SERVICE:PATH" in out

        assert cli("version", "--short").strip() == __version__
        assert json.loads(cli("version", "--format", "json")) == {"version": f"v{__version__}"}
    finally:
        d.dockyard("compose", "-p", name, "down", "-t", "1", check=False)


def test_scale_and_wait(dockyard_daemon: DockyardDaemon, client: APIClient, tmp_path: Path) -> None:
    d = dockyard_daemon
    name = f"cscale{os.getpid()}"
    file = tmp_path / "compose.yaml"
    file.write_text(
        "services:\n"
        "  app:\n    image: busybox\n    command: [sleep, '300']\n    init: true\n"
        "  a:\n    image: busybox\n    command: [sh, -c, 'sleep 1; exit 3']\n"
        "  b:\n    image: busybox\n    command: [sh, -c, 'sleep 2; exit 0']\n"
    )

    def cli(*args: str) -> tuple[int, str]:
        res = d.dockyard("compose", "-f", str(file), "-p", name, *args, check=False, timeout=120)
        return res.returncode, res.stdout + res.stderr

    def count(service: str) -> int:
        return sum(1 for c in list_containers(client, name) if c.service == service)

    try:
        assert cli("scale", "app=3")[0] == 0
        assert count("app") == 3 and count("a") == 0  # only the service named
        assert cli("scale", "app=1")[0] == 0
        assert count("app") == 1
        assert "invalid --scale" in cli("scale", "app")[1]

        assert cli("up", "-d")[0] == 0
        rc, out = cli("wait", "a", "b")
        ids = {c.service: c.id for c in list_containers(client, name)}
        assert rc == 0, out  # the last one to exit
        assert f'container "{ids["a"]}" exited with status code 3' in out
        assert f'container "{ids["b"]}" exited with status code 0' in out

        assert cli("up", "-d", "--force-recreate", "a", "b")[0] == 0
        rc, out = cli("wait", "--down-project", "a", "b")
        assert rc == 3, out  # the first exit drops the project
        assert list_containers(client, name) == []
    finally:
        d.dockyard("compose", "-p", name, "down", "-t", "1", check=False)


def test_attach_export_commit_stats(
    dockyard_daemon: DockyardDaemon, client: APIClient, tmp_path: Path
) -> None:
    import tarfile

    d = dockyard_daemon
    name = f"cwrap{os.getpid()}"
    image = f"{name}-committed:v1"
    file = tmp_path / "compose.yaml"
    file.write_text(
        "services:\n"
        "  app:\n    image: busybox\n    init: true\n"
        "    command: [sh, -c, 'echo made > /made; exec sleep 300']\n"
        "  talk:\n    image: busybox\n    command: [sh, -c, 'sleep 4; echo attached-out; exit 4']\n"
    )

    def cli(*args: str) -> tuple[int, str]:
        res = d.dockyard("compose", "-f", str(file), "-p", name, *args, check=False, timeout=120)
        return res.returncode, res.stdout + res.stderr

    try:
        assert cli("up", "-d")[0] == 0
        rc, out = cli("attach", "--no-stdin", "talk")
        assert rc == 4 and "attached-out" in out, out

        rc, out = cli("stats", "--no-stream", "--format", "{{.Name}}")
        assert rc == 0 and out.split() == [f"{name}-app-1"], out  # talk has ended

        assert cli("export", "-o", str(tmp_path / "app.tar"), "app")[0] == 0
        with tarfile.open(tmp_path / "app.tar") as tar:
            made = tar.extractfile("made")
            assert made is not None and made.read() == b"made\n"

        rc, out = cli("commit", "-c", "ENV FROM_COMMIT=1", "app", image)
        assert rc == 0, out
        assert "FROM_COMMIT=1" in client.get(f"/images/{image}/json")["Config"]["Env"]
        rc, out = cli("export", "--index", "2", "app")
        assert rc != 0 and "no container with index 2" in out
    finally:
        d.dockyard("compose", "-p", name, "down", "-t", "1", check=False)
        d.dockyard("rmi", image, check=False)
