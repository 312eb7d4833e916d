"""The demo app (examples/compose-demo) on a real daemon: up --wait, a request that travels
web -> api -> volume, --scale, a changed service recreated, the CLI's ps/ls/logs/exec/port by
project name, and down -v leaving nothing behind."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

from dockyard.cli.build_context import tar_context
from dockyard.client.api import APIClient
from dockyard.compose import ops
from dockyard.compose.model import Project
from dockyard.compose.progress import Progress
from dockyard.compose.state import list_containers
from dockyard.compose.up import Converger, UpOptions
from tests.compose_fixtures import Lines, demo_project, http_get, load_demo, project_leftovers
from tests.daemon_harness import DockyardDaemon
from tests.reference_registry import free_port

pytestmark = pytest.mark.root


def up(client: APIClient, project: Project, **kw: Any) -> str:
    out = Lines()
    Converger(client, project, Progress(out, terminal=False), tar_context=tar_context).up(UpOptions(**kw))
    return out.text


def compose_cli(d: DockyardDaemon, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return d.dockyard("compose", *args, check=check)


def test_demo_up_request_scale_update_down(dockyard_daemon: DockyardDaemon, client: APIClient) -> None:
    d = dockyard_daemon
    name = f"cupdemo{os.getpid()}"
    port = free_port()
    project = load_demo(name, port)
    # The YAML in examples/ and the hand-written model in compose_fixtures are the same app.
    assert project.services == demo_project(name, port).services
    try:
        shown = up(client, project, wait=True)
        assert f" Container {name}-web-1  Started" in shown
        assert f" Container {name}-api-1  Healthy" in shown
        assert f" Network {name}_default  Created" in shown and f" Volume {name}_data  Created" in shown

        # web -> api (by service name, with nc) -> the volume the worker writes
        body = http_get(port, "/cgi-bin/index")
        assert body.startswith("web -> api ") and "hello from the worker, round" in body, body

        first = {c.name: c.id for c in list_containers(client, name)}
        assert sorted(first) == [f"{name}-api-1", f"{name}-web-1", f"{name}-worker-1"]

        # --scale api=3: three replicas, all answering under the one name "api"
        up(client, project, scale={"api": 3}, wait=True)
        apis = [c for c in list_containers(client, name) if c.service == "api"]
        assert [c.number for c in apis] == [1, 2, 3]
        assert apis[0].id == first[f"{name}-api-1"]
        ips = set()
        for c in apis:
            info = client.get(f"/containers/{c.id}/json")
            ips.add(info["NetworkSettings"]["Networks"][f"{name}_default"]["IPAddress"])
        looked_up = compose_cli(d, "-p", name, "exec", "-T", "worker", "nslookup", "api").stdout
        found = {
            line.split()[-1]
            for line in looked_up.splitlines()
            if line.startswith("Address:") and "#" not in line
        }
        assert ips <= found, looked_up
        hosts = set()
        for ip in sorted(ips):
            res = compose_cli(
                d, "-p", name, "exec", "-T", "web", "sh", "-c",
                f"printf 'GET /cgi-bin/data HTTP/1.0\\r\\n\\r\\n' | nc {ip} 80",
            )  # fmt: skip
            assert "hello from the worker" in res.stdout, res.stdout
            hosts.add(res.stdout.split("api ", 1)[1].split()[0])
        assert hosts == {c.id[:12] for c in apis}

        # a changed service is recreated; the unchanged ones keep their containers
        project.services["web"].environment["GREETING"] = "changed"
        shown = up(client, project, scale={"api": 3}, wait=True)
        after = {c.name: c.id for c in list_containers(client, name)}
        assert after[f"{name}-web-1"] != first[f"{name}-web-1"]
        assert after[f"{name}-worker-1"] == first[f"{name}-worker-1"]
        assert after[f"{name}-api-1"] == first[f"{name}-api-1"]
        assert f" Container {name}-web-1  Recreated" in shown
        assert "hello from the worker" in http_get(port, "/cgi-bin/index")

        # scale down: the highest numbers go first
        up(client, project, scale={"api": 1})
        assert [c.name for c in list_containers(client, name) if c.service == "api"] == [f"{name}-api-1"]

        # the CLI by project name alone (no file): ps, ls, port, logs
        ps = compose_cli(d, "-p", name, "ps").stdout
        assert "NAME" in ps.splitlines()[0] and f"{name}-web-1" in ps and f"127.0.0.1:{port}->80/tcp" in ps
        assert len(compose_cli(d, "-p", name, "ps", "-q").stdout.split()) == 3
        assert f"{name}  " in compose_cli(d, "ls").stdout and "running(3)" in compose_cli(d, "ls").stdout
        assert compose_cli(d, "-p", name, "port", "web", "80").stdout.strip() == f"127.0.0.1:{port}"
        logs = compose_cli(d, "-p", name, "logs", "web").stdout
        assert f"{name}-web-1  | " in logs and "url:/cgi-bin/index" in logs, logs
        worker_logs = compose_cli(d, "-p", name, "logs", "--tail", "1", "worker").stdout
        assert worker_logs.startswith(f"{name}-worker-1  | wrote round "), worker_logs

        res = compose_cli(d, "-p", name, "down", "-v")
        assert f"Volume {name}_data  Removed" in res.stderr
        assert project_leftovers(client, name) == {"containers": [], "networks": [], "volumes": []}
    finally:
        ops.down(client, project, name, Progress(Lines(), terminal=False), volumes=True)
        for service in ("web", "api"):
            d.docker("rmi", "-f", f"{name}-{service}", check=False)
