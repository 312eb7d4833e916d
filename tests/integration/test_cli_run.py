"""``dockyard run`` and ``create``/``start``: docker's flow, output and exit codes, against the engine."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_cli_engine import (  # noqa: F401
    CliEngine,
    cli_engine_fixture,
    explain,
    names_fixture,
    new_name,
    scratch_fixture,
    unique,
)

pytestmark = [pytest.mark.root]


def test_run_rm_echo(cli_engine: CliEngine) -> None:
    name = unique()
    res = cli_engine.cli("run", "--rm", "--name", name, "busybox", "echo", "hi")
    assert res.returncode == 0, explain(res, ["run"])
    assert res.stdout == b"hi\n"
    # --rm: the container is gone once run returns (the wait asked for "removed").
    listed = cli_engine.docker("ps", "-a", "--filter", f"name={name}", "--format", "{{.Names}}")
    assert listed.stdout.strip() == ""


def test_run_streams_stdout_and_stderr_apart(cli_engine: CliEngine) -> None:
    res = cli_engine.cli("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; echo out2")
    assert res.returncode == 0, explain(res, ["run"])
    assert res.stdout == b"out\nout2\n"
    assert res.stderr == b"err\n"


def test_run_exit_code_is_the_containers(cli_engine: CliEngine) -> None:
    res = cli_engine.cli("run", "--rm", "busybox", "sh", "-c", "exit 3")
    assert res.returncode == 3


def test_run_command_not_found_exits_127(cli_engine: CliEngine) -> None:
    res = cli_engine.cli("run", "--rm", "busybox", "no-such-command")
    assert res.returncode == 127, explain(res, ["run"])
    err = res.stderr.decode()
    assert err.startswith("dockyard: Error response from daemon: ")
    assert "executable file not found" in err
    assert err.rstrip().endswith("Run 'dockyard run --help' for more information")


def test_run_not_executable_exits_126(cli_engine: CliEngine) -> None:
    res = cli_engine.cli("run", "--rm", "busybox", "/etc/passwd")
    assert res.returncode == 126, explain(res, ["run"])
    assert "permission denied" in res.stderr.decode()


def test_run_daemon_error_exits_125(cli_engine: CliEngine) -> None:
    res = cli_engine.cli("run", "--rm", "--pull", "never", "no-such-image-here:1")
    assert res.returncode == 125, explain(res, ["run"])
    assert "No such image" in res.stderr.decode() or "no such image" in res.stderr.decode()
    assert b"Unable to find image" not in res.stderr


def test_run_memory_abc_is_a_flag_error(cli_engine: CliEngine) -> None:
    res = cli_engine.cli("run", "--memory", "abc", "busybox", "true")
    assert res.returncode == 125
    lines = res.stderr.decode().splitlines()
    assert lines[0] == 'invalid argument "abc" for "-m, --memory" flag: invalid size: \'abc\''
    assert "Usage:  dockyard run [OPTIONS] IMAGE [COMMAND] [ARG...]" in lines


def test_run_bad_publish_spec_exits_125(cli_engine: CliEngine) -> None:
    res = cli_engine.cli("run", "-p", "abc", "busybox", "true")
    assert res.returncode == 125
    assert res.stderr.decode().startswith("dockyard: invalid containerPort: abc")


def test_piped_stdin_reaches_the_container(cli_engine: CliEngine) -> None:
    """``echo hi | dockyard run -i busybox cat``: stdin, then its EOF, reach the container."""
    res = cli_engine.cli("run", "--rm", "-i", "busybox", "cat", input=b"hi\n")
    assert res.returncode == 0, explain(res, ["run", "-i"])
    assert res.stdout == b"hi\n"


def test_piped_stdin_large_and_exit_code(cli_engine: CliEngine) -> None:
    data = os.urandom(256 * 1024)
    res = cli_engine.cli("run", "--rm", "-i", "busybox", "sh", "-c", "wc -c; exit 7", input=data)
    assert res.returncode == 7, explain(res, ["run", "-i"])
    assert res.stdout.decode().strip() == str(len(data))


def test_run_detached_prints_full_id(cli_engine: CliEngine, names: list[str]) -> None:
    name = new_name(names)
    res = cli_engine.cli("run", "-d", "--name", name, "busybox", "sleep", "60")
    assert res.returncode == 0, explain(res, ["run", "-d"])
    cid = res.stdout.decode().strip()
    assert len(cid) == 64 and all(c in "0123456789abcdef" for c in cid)
    info = cli_engine.inspect(name)
    assert info["Id"] == cid
    assert info["State"]["Running"] is True  # type: ignore[index]


def test_run_detached_rm_sets_auto_remove(cli_engine: CliEngine, names: list[str]) -> None:
    name = new_name(names)
    cli_engine.ok("run", "-d", "--rm", "--name", name, "busybox", "sleep", "60")
    assert cli_engine.inspect(name)["HostConfig"]["AutoRemove"] is True  # type: ignore[index]


def test_run_options_reach_the_container(cli_engine: CliEngine, names: list[str], scratch: Path) -> None:
    """A spread of run flags, each checked from inside the container or in its inspect."""
    name = new_name(names)
    env_file = scratch / "env"
    env_file.write_text("# comment\nFROM_FILE=file value\n")
    label_file = scratch / "labels"
    label_file.write_text("from.file=yes\n")
    script = 'echo "$FOO|$FROM_FILE|$(pwd)|$(id -u):$(id -g)|$(hostname)"; '
    script += 'cat /proc/self/limits | grep "open files"'
    res = cli_engine.cli(
        "run",
        "--name",
        name,
        "-e",
        "FOO=bar",
        "--env-file",
        str(env_file),
        "-w",
        "/tmp",
        "-u",
        "1000:1000",
        "-h",
        "boxname",
        "-l",
        "a=b",
        "--label-file",
        str(label_file),
        "--ulimit",
        "nofile=512:1024",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "100",
        "--restart",
        "on-failure:2",
        "--stop-signal",
        "SIGUSR1",
        "--stop-timeout",
        "7",
        "--read-only",
        "--tmpfs",
        "/run:size=1m",
        "--cap-drop",
        "NET_RAW",
        "--network",
        "none",
        "--health-cmd",
        "true",
        "--health-interval",
        "1m30s",
        "--init",
        "busybox",
        "sh",
        "-c",
        script,
    )
    assert res.returncode == 0, explain(res, ["run"])
    first, limits = res.stdout.decode().splitlines()
    assert first == "bar|file value|/tmp|1000:1000|boxname"
    assert limits.split()[3:5] == ["512", "1024"]
    info = cli_engine.inspect(name)
    host = info["HostConfig"]
    config = info["Config"]
    assert host["Memory"] == 64 * 1024 * 1024  # type: ignore[index]
    assert host["NanoCpus"] == 500_000_000  # type: ignore[index]
    assert host["PidsLimit"] == 100  # type: ignore[index]
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}  # type: ignore[index]
    assert host["ReadonlyRootfs"] is True  # type: ignore[index]
    assert host["Tmpfs"] == {"/run": "size=1m"}  # type: ignore[index]
    assert host["CapDrop"] == ["NET_RAW"]  # type: ignore[index]
    assert host["Init"] is True  # type: ignore[index]
    assert config["Labels"] == {"a": "b", "from.file": "yes"}  # type: ignore[index]
    assert config["StopSignal"] == "SIGUSR1"  # type: ignore[index]
    assert config["StopTimeout"] == 7  # type: ignore[index]
    assert config["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 90_000_000_000}  # type: ignore[index]


def test_run_volume_bind_and_entrypoint(cli_engine: CliEngine, scratch: Path) -> None:
    (scratch / "in.txt").write_text("from host\n")
    res = cli_engine.cli(
        "run", "--rm", "-v", f"{scratch}:/data", "--entrypoint", "cat", "busybox", "/data/in.txt"
    )
    assert res.returncode == 0, explain(res, ["run", "-v"])
    assert res.stdout == b"from host\n"
    res = cli_engine.cli(
        "run",
        "--rm",
        "--mount",
        f"type=bind,source={scratch},target=/m,readonly",
        "busybox",
        "sh",
        "-c",
        "cat /m/in.txt; touch /m/x",
    )
    assert res.stdout == b"from host\n"
    assert res.returncode != 0 and b"Read-only file system" in res.stderr


def test_run_cidfile_and_attach_flags(cli_engine: CliEngine, names: list[str], scratch: Path) -> None:
    name = new_name(names)
    cidfile = scratch / "cid"
    res = cli_engine.cli(
        "run",
        "--name",
        name,
        "--cidfile",
        str(cidfile),
        "-a",
        "stderr",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    )
    assert res.returncode == 0, explain(res, ["run", "-a"])
    assert res.stdout == b""  # only stderr was attached
    assert res.stderr == b"err\n"
    assert cidfile.read_text() == cli_engine.inspect(name)["Id"]


def test_create_then_start_attached(cli_engine: CliEngine, names: list[str]) -> None:
    name = new_name(names)
    cid = cli_engine.ok("create", "--name", name, "busybox", "sh", "-c", "echo created-ran; exit 4").strip()
    assert len(cid) == 64
    assert cli_engine.inspect(name)["State"]["Status"] == "created"  # type: ignore[index]
    res = cli_engine.cli("start", "-a", name)
    assert res.returncode == 4, explain(res, ["start", "-a"])
    assert res.stdout == b"created-ran\n"


def test_start_interactive_with_stdin(cli_engine: CliEngine, names: list[str]) -> None:
    name = new_name(names)
    cli_engine.ok("create", "-i", "--name", name, "busybox", "sh", "-c", "read x; echo got-$x")
    res = cli_engine.cli("start", "-a", "-i", name, input=b"line\n")
    assert res.returncode == 0, explain(res, ["start", "-ai"])
    assert res.stdout == b"got-line\n"


def test_start_several_and_unknown(cli_engine: CliEngine, names: list[str]) -> None:
    a, b = new_name(names), new_name(names)
    for n in (a, b):
        cli_engine.ok("create", "--name", n, "busybox", "sleep", "60")
    res = cli_engine.cli("start", a, b)
    assert res.returncode == 0, explain(res, ["start"])
    assert res.stdout.decode().split() == [a, b]
    res = cli_engine.cli("start", "no-such-container-" + unique())
    assert res.returncode == 1
    assert b"Error: failed to start containers:" in res.stderr


def test_sig_proxy_forwards_sigterm(cli_engine: CliEngine, names: list[str]) -> None:
    """Without -t, a SIGTERM to the client is sent on to the container (docker's --sig-proxy)."""
    name = new_name(names)
    script = 'trap "echo got-term; exit 9" TERM; echo ready; while true; do sleep 0.1; done'
    proc = subprocess.Popen(
        cli_engine.argv("run", "--name", name, "busybox", "sh", "-c", script),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_engine.env(),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 9, err
        assert out == b"got-term\n"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
