"""Volumes, system commands, events and the command line's own errors, against the engine."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.integration.test_cli_engine import (  # noqa: F401
    CliEngine,
    cli_engine_fixture,
    explain,
    names_fixture,
    new_name,
    unique,
)

pytestmark = [pytest.mark.root]


def test_volume_create_ls_inspect_rm(cli_engine: CliEngine) -> None:
    name = f"dycvol{unique()}"
    try:
        assert cli_engine.ok("volume", "create", "--label", "k=v", name).strip() == name
        table = cli_engine.ok("volume", "ls", "--filter", f"name={name}").splitlines()
        assert table == ["DRIVER    VOLUME NAME", f"local     {name}"]
        assert cli_engine.ok("volume", "ls", "-q", "--filter", "label=k=v").split() == [name]
        data = json.loads(cli_engine.ok("volume", "inspect", name))
        assert (data[0]["Name"], data[0]["Driver"], data[0]["Labels"]) == (name, "local", {"k": "v"})
        assert cli_engine.ok("volume", "inspect", "-f", "{{.Mountpoint}}", name).strip().endswith("/_data")
        res = cli_engine.cli("run", "--rm", "-v", f"{name}:/vol", "busybox", "sh", "-c", "echo kept > /vol/f")
        assert res.returncode == 0, explain(res, ["run", "-v"])
        assert (
            cli_engine.cli("run", "--rm", "-v", f"{name}:/vol", "busybox", "cat", "/vol/f").stdout
            == b"kept\n"
        )
        assert cli_engine.ok("volume", "rm", name).strip() == name
    finally:
        cli_engine.docker("volume", "rm", "-f", name)
    res = cli_engine.cli("volume", "rm", name)
    assert res.returncode == 1 and res.stderr.startswith(b"Error response from daemon:")


def test_volume_prune(cli_engine: CliEngine) -> None:
    label = f"dycprune={unique()}"
    name = f"dycvol{unique()}"
    cli_engine.ok("volume", "create", "--label", label, name)
    try:
        out = cli_engine.ok("volume", "prune", "-f", "-a", "--filter", f"label={label}")
        assert f"Deleted Volumes:\n{name}\n" in out
        assert cli_engine.docker("volume", "inspect", name).returncode != 0
    finally:
        cli_engine.docker("volume", "rm", "-f", name)


def test_prune_asks_first(cli_engine: CliEngine) -> None:
    res = cli_engine.cli("volume", "prune", input=b"n\n")
    assert res.returncode == 0
    assert res.stdout.decode().startswith("WARNING! This will remove anonymous local volumes")
    assert res.stdout.decode().endswith("Are you sure you want to continue? [y/N] ")


def test_version_info_df(cli_engine: CliEngine) -> None:
    out = cli_engine.ok("version")
    assert out.startswith("Client:\n Version:")
    assert "\n Engine:\n  Version:" in out
    server = cli_engine.docker("version", "--format", "{{.Server.Version}}").stdout.strip()
    assert cli_engine.ok("version", "--format", "{{.Server.Version}}").strip() == server
    info = cli_engine.ok("info")
    assert "\nServer:\n Containers: " in info and "\n Images: " in info
    assert cli_engine.ok("info", "--format", "{{.ServerVersion}}").strip() == server
    df = cli_engine.ok("system", "df").splitlines()
    assert df[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert [line.split()[0] for line in df[1:]] == ["Images", "Containers", "Local", "Build"]


def test_events_since_until(cli_engine: CliEngine, names: list[str]) -> None:
    since = str(int(time.time()) - 1)
    name = new_name(names)
    cli_engine.ok("create", "--name", name, "busybox", "true")
    until = str(int(time.time()) + 1)
    out = cli_engine.ok("events", "--since", since, "--until", until, "--filter", f"container={name}")
    line = out.splitlines()[0]
    assert " container create " in line and f"name={name}" in line
    stamp = line.split()[0]
    assert len(stamp.split(".")[1].rstrip("Z")) == 9  # RFC3339NanoFixed
    fmt = cli_engine.ok(
        "events",
        "--since",
        since,
        "--until",
        until,
        "--filter",
        f"container={name}",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
    )
    assert fmt.splitlines()[0] == f"container create {name}"
    streamed = subprocess.Popen(
        cli_engine.argv("events", "--filter", f"container={name}", "--format", "{{.Action}}"),
        stdout=subprocess.PIPE,
        env=cli_engine.env(),
    )
    try:
        time.sleep(0.5)
        cli_engine.ok("start", name)
        assert streamed.stdout is not None
        assert streamed.stdout.readline() == b"start\n"
    finally:
        streamed.kill()
        streamed.wait()


def test_daemon_not_running_message() -> None:
    sock = f"/tmp/dockyard-cli-nothing-{unique()}.sock"
    res = subprocess.run(
        [sys.executable, "-m", "dockyard", "-H", f"unix://{sock}", "ps"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 1
    assert res.stderr == (
        f"Cannot connect to the dockyard daemon at unix://{sock}. Is the daemon running? "
        "Start it with: dockyard daemon\n"
    )
    res = subprocess.run(
        [sys.executable, "-m", "dockyard", "-H", f"unix://{sock}", "run", "busybox"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 125
    assert res.stderr.startswith(f"dockyard: Cannot connect to the dockyard daemon at unix://{sock}.")


def test_default_host_and_environment() -> None:
    env = {"PATH": "/usr/bin:/bin", "DOCKYARD_HOST": "unix:///nonexistent/by-env.sock"}
    res = subprocess.run(
        [sys.executable, "-m", "dockyard", "ps"], env=env, capture_output=True, text=True, check=False
    )
    assert "at unix:///nonexistent/by-env.sock." in res.stderr
    env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": "unix:///nonexistent/docker-host.sock"}
    res = subprocess.run(
        [sys.executable, "-m", "dockyard", "ps"], env=env, capture_output=True, text=True, check=False
    )
    assert "at unix:///nonexistent/docker-host.sock." in res.stderr


def test_usage_errors_and_help(cli_engine: CliEngine) -> None:
    res = cli_engine.cli("rm")
    assert res.returncode == 1
    assert res.stderr.decode().splitlines()[0] == "dockyard: 'dockyard rm' requires at least 1 argument"
    res = cli_engine.cli("ps", "--nope")
    assert res.returncode == 125 and res.stderr.decode().startswith("unknown flag: --nope\n")
    res = cli_engine.cli("nosuchcommand")
    assert res.returncode == 1 and b"'nosuchcommand' is not a dockyard command" in res.stderr
    res = cli_engine.cli("ps", "--help")
    assert res.returncode == 0 and "Usage:  dockyard ps [OPTIONS]" in res.stdout.decode()
    assert "dockyard container ls" in res.stdout.decode()  # the aliases section
    assert "  run " in cli_engine.ok("--help")


def test_system_prune_with_a_filter(cli_engine: CliEngine, names: list[str]) -> None:
    """system prune removes what its filter selects: stopped containers and dangling images."""
    label = f"dycsys={unique()}"
    name = new_name(names)
    cli_engine.ok("create", "--name", name, "-l", label, "busybox", "true")
    image_id = cli_engine.ok("commit", "-c", f"LABEL {label}", name).strip()
    cid = cli_engine.inspect(name)["Id"]
    out = cli_engine.ok("system", "prune", "-f", "--filter", f"label={label}")
    assert f"Deleted Containers:\n{cid}\n" in out
    assert f"deleted: {image_id}" in out
    assert out.rstrip().splitlines()[-1].startswith("Total reclaimed space:")
    assert cli_engine.docker("ps", "-aq", "--filter", f"name={name}").stdout.strip() == ""
    res = cli_engine.cli("system", "prune", input=b"no\n")
    assert res.stdout.decode().startswith("WARNING! This will remove:\n  - all stopped containers\n")
