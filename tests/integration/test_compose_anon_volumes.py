"""Anonymous volumes across a recreate, through the real CLI on a real daemon: ``up`` after a
change keeps the data of the image's ``VOLUME`` and of a service's source-less volume (Compose
v2's inheritance); ``up -V`` gives the new container fresh ones."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from dockyard.client.api import APIClient
from dockyard.compose.state import list_containers
from dockyard.errors import DockyardError
from tests.daemon_harness import DockyardDaemon

pytestmark = pytest.mark.root

# $$: a literal $ through compose's interpolation; each marker appears whole (mv) or not at all
SCRIPT = (
    "for d in /data /cache; do test -f $$d/m || "
    "{ cat /proc/sys/kernel/random/uuid > $$d/m.t && mv $$d/m.t $$d/m; }; done; exec sleep 300"
)


def test_recreate_keeps_anonymous_volumes_unless_renewed(
    dockyard_daemon: DockyardDaemon, client: APIClient, tmp_path: Path
) -> None:
    d = dockyard_daemon
    name = f"canon{os.getpid()}"
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "Dockerfile").write_text("FROM busybox\nVOLUME /data\n")
    file = tmp_path / "compose.yaml"

    def write(value: str) -> None:
        file.write_text(
            "services:\n  db:\n    build: ./db\n    init: true\n"
            f"    command: [sh, -c, '{SCRIPT}']\n    environment:\n      X: '{value}'\n"
            "    volumes: [/cache]\n"
        )

    def cli(*args: str) -> str:
        res = d.dockyard("compose", "-f", str(file), "-p", name, *args, check=False, timeout=120)
        assert res.returncode == 0, res.stdout + res.stderr
        return res.stdout

    def markers() -> tuple[str, list[str]]:
        (c,) = list_containers(client, name)
        for _ in range(100):  # the command writes them just after the start
            res = d.dockyard(
                "compose",
                "-f",
                str(file),
                "-p",
                name,
                "exec",
                "-T",
                "db",
                "cat",
                "/data/m",
                "/cache/m",
                check=False,
            )
            if res.returncode == 0:
                return c.id, res.stdout.split()
            time.sleep(0.05)
        raise AssertionError(f"no markers: {res.stderr}")

    before = {v["Name"] for v in client.get("/volumes")["Volumes"] or []}
    try:
        write("1")
        cli("up", "-d", "--wait")
        first_id, first = markers()
        assert len(first) == 2 and first[0] != first[1]

        write("2")
        cli("up", "-d", "--wait")
        second_id, second = markers()
        assert second_id != first_id  # recreated
        assert second == first  # the same volumes, so the same data

        write("3")
        cli("up", "-d", "--wait", "-V")
        third_id, third = markers()
        assert third_id != second_id
        assert third[0] != second[0] and third[1] != second[1]  # fresh volumes
    finally:
        d.dockyard(
            "compose", "-f", str(file), "-p", name, "down", "-t", "1", "-v", "--rmi", "local", check=False
        )
        for v in client.get("/volumes")["Volumes"] or []:
            if v["Name"] not in before:
                try:
                    client.delete(f"/volumes/{v['Name']}")
                except DockyardError:
                    pass
