"""Configs and secrets without a host file (``content:`` inline, ``environment:``) through the
real CLI on a real daemon: written into the container before it starts, with their mode and
owner, for ``up`` and for ``run``; a missing variable is refused before anything is created."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.daemon_harness import DockyardDaemon

pytestmark = pytest.mark.root

COMPOSE = """\
services:
  app:
    image: busybox
    command: [sh, -c, 'SCRIPT']
    init: true
    configs:
      - source: conf
        target: /etc/app.conf
        mode: 0440
        uid: "100"
        gid: "101"
    secrets: [token]
configs:
  conf:
    content: |
      port=${PORT:-80}
secrets:
  token:
    environment: APP_TOKEN
""".replace(
    "SCRIPT",
    'cat /etc/app.conf /run/secrets/token; stat -c "%a %u %g %n" /etc/app.conf /run/secrets/token; sleep 300',
)


def test_inline_and_environment_configs_and_secrets(dockyard_daemon: DockyardDaemon, tmp_path: Path) -> None:
    d = dockyard_daemon
    name = f"cconfigs{os.getpid()}"
    file = tmp_path / "compose.yaml"
    file.write_text(COMPOSE)

    def cli(*args: str) -> tuple[int, str]:
        res = d.dockyard("compose", "-f", str(file), "-p", name, *args, check=False, timeout=120)
        return res.returncode, res.stdout + res.stderr

    try:
        rc, out = cli("up", "-d")
        assert rc != 0 and "APP_TOKEN, which is not set" in out
        rc, out = cli("ps", "-a", "-q")
        assert rc == 0 and out.strip() == ""  # nothing was created

        (tmp_path / ".env").write_text("APP_TOKEN=s3cret-value\nPORT=8080\n")
        rc, out = cli("up", "-d", "--wait")
        assert rc == 0, out
        rc, out = cli("logs", "--no-log-prefix", "app")
        assert "port=8080" in out and "s3cret-value" in out, out
        assert "440 100 101 /etc/app.conf" in out and "444 0 0 /run/secrets/token" in out, out

        rc, out = cli("run", "--rm", "app", "cat", "/run/secrets/token")
        assert rc == 0 and out.strip().endswith("s3cret-value"), out
    finally:
        d.dockyard("compose", "-p", name, "down", "-t", "1", check=False)
