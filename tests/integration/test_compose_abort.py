"""``compose up --abort-on-container-exit | --abort-on-container-failure | --exit-code-from``
through the real CLI on a real daemon: which exit stops the project, and the code ``up`` returns."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from dockyard.client.api import APIClient
from dockyard.compose.state import list_containers
from tests.daemon_harness import DockyardDaemon

pytestmark = pytest.mark.root

LONG = "    image: busybox\n    command: [sleep, '300']\n    init: true\n"


def up(
    d: DockyardDaemon, folder: Path, name: str, text: str, *flags: str
) -> subprocess.CompletedProcess[str]:
    file = folder / f"{name}.yaml"
    file.write_text("services:\n" + text)
    return d.dockyard(
        "compose", "-f", str(file), "-p", name, "up", "-t", "2", *flags, check=False, timeout=120
    )


def states(client: APIClient, name: str) -> dict[str, tuple[str, int]]:
    out = {}
    for c in list_containers(client, name):
        info = client.get(f"/containers/{c.id}/json")["State"]
        out[c.service] = (info["Status"], info["ExitCode"])
    return out


def down(d: DockyardDaemon, name: str) -> None:
    d.dockyard("compose", "-p", name, "down", "-t", "1", check=False)


def test_abort_on_exit_and_exit_code_from(
    dockyard_daemon: DockyardDaemon, client: APIClient, tmp_path: Path
) -> None:
    d = dockyard_daemon
    name = f"cabort{os.getpid()}"
    text = (
        "  long:\n"
        + LONG
        + "  short:\n    image: busybox\n    command: [sh, -c, 'sleep 1; echo bye; exit 3']\n"
    )
    try:
        res = up(d, tmp_path, name, text, "--abort-on-container-exit")
        assert res.returncode == 3, res.stdout + res.stderr
        assert "bye" in res.stdout
        assert f"{name}-short-1 exited with code 3" in res.stdout
        assert "Aborting on container exit..." in res.stdout
        now = states(client, name)
        assert now["short"] == ("exited", 3)
        assert now["long"][0] == "exited"  # stopped by the abort, not left running

        # the code of the named service, here the one the abort stopped
        res = up(d, tmp_path, name, text, "--exit-code-from", "long")
        now = states(client, name)
        assert now["long"][0] == "exited" and now["long"][1] != 0
        assert res.returncode == now["long"][1], res.stdout + res.stderr
        res = up(d, tmp_path, name, text, "--exit-code-from", "short")
        assert res.returncode == 3, res.stdout + res.stderr
    finally:
        down(d, name)


def test_abort_on_failure_and_one_shot_dependencies(
    dockyard_daemon: DockyardDaemon, client: APIClient, tmp_path: Path
) -> None:
    d = dockyard_daemon
    name = f"cfail{os.getpid()}"
    text = (
        "  long:\n" + LONG
        + "  ok:\n    image: busybox\n    command: ['true']\n"
        + "  bad:\n    image: busybox\n    command: [sh, -c, 'sleep 2; exit 4']\n"
    )  # fmt: skip
    try:
        res = up(d, tmp_path, name, text, "--abort-on-container-failure")
        assert res.returncode == 4, res.stdout + res.stderr
        assert f"{name}-ok-1 exited with code 0" in res.stdout  # a clean exit went on
        now = states(client, name)
        assert now["ok"] == ("exited", 0) and now["bad"] == ("exited", 4) and now["long"][0] == "exited"
    finally:
        down(d, name)
    # a one-shot that others wait for ends with 0 by design: that does not abort
    name = f"coneshot{os.getpid()}"
    text = (
        "  prepare:\n    image: busybox\n    command: [sh, -c, 'echo prepared']\n"
        "  app:\n    image: busybox\n    command: [sh, -c, 'sleep 1; exit 7']\n"
        "    depends_on:\n      prepare:\n        condition: service_completed_successfully\n"
    )
    try:
        res = up(d, tmp_path, name, text, "--abort-on-container-exit")
        assert res.returncode == 7, res.stdout + res.stderr
        assert f"{name}-prepare-1 exited with code 0" in res.stdout
    finally:
        down(d, name)


def test_abort_flags_refused(dockyard_daemon: DockyardDaemon, tmp_path: Path) -> None:
    d = dockyard_daemon
    name = f"cabortbad{os.getpid()}"
    text = "  long:\n" + LONG
    try:
        res = up(d, tmp_path, name, text, "-d", "--abort-on-container-exit")
        assert res.returncode != 0 and "--detach cannot be combined" in res.stderr
        res = up(d, tmp_path, name, text, "--exit-code-from", "nosuch")
        assert res.returncode != 0 and 'no such service: "nosuch"' in res.stderr
        res = up(d, tmp_path, name, text, "--abort-on-container-exit", "--abort-on-container-failure")
        assert res.returncode != 0 and "incompatible" in res.stderr
    finally:
        down(d, name)


def test_attach_flags_choose_the_streamed_and_watched_services(
    dockyard_daemon: DockyardDaemon, client: APIClient, tmp_path: Path
) -> None:
    d = dockyard_daemon
    name = f"cattach{os.getpid()}"
    text = (
        "  long:\n    image: busybox\n    init: true\n"
        "    command: [sh, -c, 'echo from-long; exec sleep 300']\n"
        "  short:\n    image: busybox\n    command: [sh, -c, 'sleep 1; echo from-short; exit 5']\n"
        "    depends_on: [long]\n"
    )
    try:
        # only short streamed; its exit aborts; --timestamps prefixes each line with an RFC 3339 time
        res = up(d, tmp_path, name, text, "--attach", "short", "--abort-on-container-exit", "--timestamps")
        assert res.returncode == 5, res.stdout + res.stderr
        assert "from-short" in res.stdout and "from-long" not in res.stdout
        line = next(x for x in res.stdout.splitlines() if "from-short" in x)
        assert re.search(r"\| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z from-short", line), line
        assert states(client, name)["long"][0] == "exited"

        # a named service is attached without its dependencies, unless --attach-dependencies
        res = up(d, tmp_path, name, text, "short", "--abort-on-container-exit")
        assert res.returncode == 5 and "from-long" not in res.stdout, res.stdout + res.stderr
        res = up(d, tmp_path, name, text, "short", "--attach-dependencies", "--abort-on-container-exit")
        assert res.returncode == 5 and "from-long" in res.stdout, res.stdout + res.stderr

        # --no-attach long: short alone is streamed
        res = up(d, tmp_path, name, text, "--no-attach", "long", "--abort-on-container-exit")
        assert res.returncode == 5 and "from-long" not in res.stdout, res.stdout + res.stderr

        res = up(d, tmp_path, name, text, "--attach", "nosuch")
        assert res.returncode != 0 and '--attach: no such service: "nosuch"' in res.stderr
    finally:
        down(d, name)
