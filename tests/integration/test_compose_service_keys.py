"""Service keys end to end, through the real CLI on a real daemon, most of them in one ``up``:
``depends_on: condition: service_completed_successfully`` (one that succeeds, one that fails
and stops ``up`` leaving nothing of that run behind), ``env_file``, a static ``ipv4_address`` and
``aliases`` on a user network, an ``external`` volume, ``tmpfs``, ``read_only``, ``user``,
``working_dir``, ``hostname``, ``cap_drop``, ``ulimits``, ``stop_signal``/``stop_grace_period``,
``deploy.resources.limits.memory``, secrets and configs from files, and ``profiles``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.client.api import APIClient
from dockyard.compose.state import list_containers
from tests.compose_fixtures import project_leftovers
from tests.daemon_harness import DockyardDaemon

pytestmark = pytest.mark.root

CAP_NET_RAW = 13


def compose_yaml(name: str, subnet_prefix: str, volume: str) -> str:
    return f"""
services:
  prepare:
    image: busybox
    command: [sh, -c, "echo prepared > /ext/ok"]
    volumes: [ext:/ext]
  main:
    image: busybox
    depends_on:
      prepare: {{condition: service_completed_successfully}}
    command:
      - sh
      - -c
      - >-
        trap 'echo got-usr1; exit 0' USR1;
        cat /ext/ok;
        while :; do sleep 0.1; done
    env_file: [./app.env]
    environment: {{OVERRIDDEN: from-environment}}
    networks:
      front:
        ipv4_address: {subnet_prefix}.10
        aliases: [main-alias]
    volumes: [ext:/ext:ro]
    tmpfs: [/scratch]
    read_only: true
    user: "1000:1000"
    working_dir: /ext
    hostname: mainhost
    cap_drop: [NET_RAW]
    ulimits:
      nofile: {{soft: 1024, hard: 2048}}
    stop_signal: SIGUSR1
    stop_grace_period: 7s
    deploy:
      resources:
        limits: {{memory: 64M}}
    secrets: [token]
    configs:
      - source: settings
        target: /etc/app.conf
  peer:
    image: busybox
    command: [sleep, "300"]
    init: true
    networks: [front]
  later:
    image: busybox
    command: [sleep, "300"]
    init: true
    profiles: [extra]
  also-later:
    image: busybox
    command: [sleep, "300"]
    init: true
    profiles: [more]
  failing:
    image: busybox
    command: [sh, -c, "exit 3"]
    profiles: [broken]
  needs-failing:
    image: busybox
    command: [sleep, "300"]
    profiles: [broken]
    depends_on:
      failing: {{condition: service_completed_successfully}}
networks:
  front:
    name: {name}_front
    ipam:
      config: [{{subnet: {subnet_prefix}.0/24}}]
volumes:
  ext:
    external: true
    name: {volume}
secrets:
  token:
    file: ./token.txt
configs:
  settings:
    file: ./app.conf
"""


def test_service_keys_one_up(dockyard_daemon: DockyardDaemon, client: APIClient, tmp_path: Path) -> None:
    d = dockyard_daemon
    name = f"cupkeys{os.getpid()}"
    volume = f"{name}ext"
    subnet_prefix = f"10.213.{os.getpid() % 250}"
    (tmp_path / "compose.yaml").write_text(compose_yaml(name, subnet_prefix, volume))
    (tmp_path / "app.env").write_text("# comment\nFROM_FILE=yes\nOVERRIDDEN=from-file\n")
    (tmp_path / "token.txt").write_text("s3cret-token\n")
    (tmp_path / "app.conf").write_text("setting=1\n")
    for f in ("token.txt", "app.conf"):
        os.chmod(tmp_path / f, 0o644)
    base = ["compose", "-f", str(tmp_path / "compose.yaml"), "-p", name]

    def cli(*args: str, check: bool = True) -> str:
        return d.dockyard(*base, *args, check=check, timeout=120).stdout

    def sh(service: str, script: str, *exec_args: str) -> str:
        return cli("exec", "-T", *exec_args, service, "sh", "-c", script)

    def running() -> dict[str, str]:
        return {c.service: c.state for c in list_containers(client, name)}

    d.dockyard("volume", "create", volume)
    try:
        cli("up", "-d", "--wait")
        # prepare ran to completion (exit 0) before main started, which read what it wrote
        assert running() == {"prepare": "exited", "main": "running", "peer": "running"}
        main = list_containers(client, name, service="main")[0]
        assert "prepared" in d.docker("logs", main.id).stdout

        info = client.get(f"/containers/{main.id}/json")
        host, config = info["HostConfig"], info["Config"]
        assert host["Memory"] == 64 * 1024 * 1024
        assert host["ReadonlyRootfs"] is True
        assert host["CapDrop"] == ["NET_RAW"]
        assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
        assert "/scratch" in host["Tmpfs"]
        assert config["StopSignal"] == "SIGUSR1" and config["StopTimeout"] == 7
        assert config["User"] == "1000:1000" and config["WorkingDir"] == "/ext"
        assert config["Hostname"] == "mainhost"
        endpoint = info["NetworkSettings"]["Networks"][f"{name}_front"]
        assert endpoint["IPAddress"] == f"{subnet_prefix}.10"
        assert {"main", "main-alias"} <= set(endpoint["Aliases"])

        # inside the container: the same facts, as a process sees them
        seen = sh(
            "main",
            "id -u; id -g; pwd; hostname; ulimit -n; ulimit -Hn; echo $FROM_FILE $OVERRIDDEN;"
            " cat /run/secrets/token /etc/app.conf;"
            " touch /rootfs-file 2>/dev/null && echo root-writable || echo root-read-only;"
            " echo x > /scratch/f && cat /scratch/f;"
            " grep CapBnd /proc/self/status | cut -f2",
        ).splitlines()
        assert seen[:11] == [
            "1000", "1000", "/ext", "mainhost", "1024", "2048", "yes from-environment",
            "s3cret-token", "setting=1", "root-read-only", "x",
        ], seen  # fmt: skip
        assert not int(seen[11], 16) & (1 << CAP_NET_RAW), seen

        # the static address and the alias, from another service on the network
        looked_up = sh("peer", "nslookup main-alias")
        assert f"Address: {subnet_prefix}.10" in looked_up, looked_up

        # profiles: "later" and "also-later" are not started by up; naming one, or --profile, does
        assert "later" not in running() and "also-later" not in running()
        cli("up", "-d", "later")
        assert running()["later"] == "running" and "also-later" not in running()
        cli("--profile", "more", "up", "-d")
        assert running()["also-later"] == "running"

        # a dependency that exits non-zero stops up with a clear error, and nothing this run
        # made is left behind (what ran before is untouched)
        before = {c.id for c in list_containers(client, name)}
        res = d.dockyard(*base, "--profile", "broken", "up", "-d", check=False, timeout=120)
        assert res.returncode != 0
        assert f"service {name}-failing-1 didn't complete successfully: exit 3" in res.stderr, res.stderr
        after = list_containers(client, name)
        assert {c.id for c in after} == before
        assert not {"failing", "needs-failing"} & {c.service for c in after}

        # stop_signal: main's trap gets SIGUSR1 and exits 0
        cli("stop", "main")
        info = client.get(f"/containers/{main.id}/json")
        assert info["State"]["ExitCode"] == 0
        assert "got-usr1" in d.docker("logs", main.id).stdout

        cli("down")
        assert project_leftovers(client, name) == {"containers": [], "networks": [], "volumes": []}
        assert volume in d.docker("volume", "ls", "-q").stdout.split()  # external: never removed
    finally:
        d.dockyard("compose", "-p", name, "down", "-v", check=False)
        d.dockyard("volume", "rm", "-f", volume, check=False)
