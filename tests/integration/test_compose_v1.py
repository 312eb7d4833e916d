"""The demo app, untouched, under Debian's docker-compose 1.29 (the Python one, docker-py inside)
pointed at dockyard's socket: up -d, ps, logs, down -v; and `dockyard compose` sees what it
started by its labels (v1 names containers `<project>_<service>_<n>`)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from dockyard.client.api import APIClient
from tests.compose_fixtures import DEMO_DIR, http_get, project_leftovers
from tests.daemon_harness import DockyardDaemon
from tests.reference_registry import free_port

pytestmark = pytest.mark.root


def test_demo_under_docker_compose_v1(dockyard_daemon: DockyardDaemon) -> None:
    d = dockyard_daemon
    name = f"cupvone{os.getpid()}"
    port = free_port()
    env = {**d.env(), "WEB_PORT": str(port)}

    def v1(*args: str) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            ["docker-compose", "-p", name, *args], env=env, cwd=DEMO_DIR, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert res.returncode == 0, f"docker-compose {args}: {res.stdout}\n{res.stderr}\n{d.log()}"
        return res

    client = APIClient(d.host)
    try:
        v1("up", "-d")
        deadline = time.monotonic() + 30  # the web front starts once the api is healthy
        while True:
            try:
                body = http_get(port, "/cgi-bin/index")
                break
            except (OSError, AssertionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert body.startswith("web -> api ") and "hello from the worker" in body, body

        ps = v1("ps").stdout
        assert f"{name}_web_1" in ps and "Up (healthy)" in ps
        assert f"{name}_worker_1" in v1("logs", "worker").stdout

        ours = d.dockyard("compose", "-p", name, "ps").stdout
        for service in ("api", "web", "worker"):
            assert f"{name}_{service}_1" in ours
        assert f"{name}  " in d.dockyard("compose", "ls").stdout

        v1("down", "-v")
        assert project_leftovers(client, name) == {"containers": [], "networks": [], "volumes": []}
    finally:
        subprocess.run(
            ["docker-compose", "-p", name, "down", "-v"], env=env, cwd=DEMO_DIR, capture_output=True
        )
        for service in ("web", "api"):
            d.docker("rmi", "-f", f"{name}_{service}", check=False)
        client.close()
