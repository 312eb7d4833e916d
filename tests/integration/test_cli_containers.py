"""Container commands of ``dockyard`` against the engine: ps, inspect, logs, exec, wait, rm and the rest.

Where docker's output format is the point, the real docker CLI's output on the same engine is
the expected value (``cli_engine.docker``).
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import time
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


def started(engine: CliEngine, names: list[str], *cmd: str, opts: tuple[str, ...] = ()) -> str:
    name = new_name(names)
    engine.ok("run", "-d", "--name", name, *opts, "busybox", *cmd)
    return name


def test_ps_table_matches_docker(cli_engine: CliEngine, names: list[str]) -> None:
    started(cli_engine, names, "sleep", "60", opts=("-l", "tier=web"))
    stopped = new_name(names)
    assert cli_engine.cli("run", "--name", stopped, "busybox", "sh", "-c", "exit 2").returncode == 2
    filters = ("--filter", "label=tier=web")
    ours = cli_engine.ok("ps", *filters).splitlines()
    theirs = cli_engine.docker("ps", *filters).stdout.splitlines()
    titles = [cell.strip() for cell in ours[0].split("  ") if cell.strip()]
    assert titles == ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert [line.split()[0] for line in ours] == [line.split()[0] for line in theirs]
    # The time columns may tick between the two calls; the rest must be byte for byte docker's.
    fmt = ("--format", "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Ports}}\t{{.Names}}\t{{.Labels}}")
    assert cli_engine.ok("ps", "-a", *fmt, *filters) == cli_engine.docker("ps", "-a", *fmt, *filters).stdout
    name_filter = ("--filter", f"name={stopped}")
    quiet = cli_engine.ok("ps", "-aq", *name_filter).split()
    assert quiet == cli_engine.docker("ps", "-aq", *name_filter).stdout.split()
    assert len(quiet) == 1 and len(quiet[0]) == 12
    assert cli_engine.ok("ps", "-q", *name_filter) == ""  # not running: only with -a


def test_ps_format_fields(cli_engine: CliEngine, names: list[str]) -> None:
    name = started(cli_engine, names, "sleep", "60", opts=("-l", "color=blue", "-l", "size=xl"))
    row = cli_engine.ok(
        "ps",
        "--filter",
        f"name={name}",
        "--format",
        '{{.Names}}|{{.Label "color"}}|{{.Labels}}|{{.State}}|{{.Command}}',
    )
    assert row.strip() == f'{name}|blue|color=blue,size=xl|running|"sleep 60"'
    data = json.loads(cli_engine.ok("ps", "--filter", f"name={name}", "--format", "{{json .}}"))
    assert data["Names"] == name and data["State"] == "running"
    assert set(data) >= {"ID", "Image", "Command", "CreatedAt", "RunningFor", "Status", "Ports", "Labels"}
    assert data["RunningFor"].endswith(" ago")
    no_trunc = cli_engine.ok("ps", "--no-trunc", "--filter", f"name={name}", "--format", "{{.ID}}").strip()
    assert no_trunc == cli_engine.inspect(name)["Id"]
    size = cli_engine.ok("ps", "-s", "--filter", f"name={name}").splitlines()
    assert size[0].endswith("SIZE") and "virtual" in size[1]


def test_ps_last_and_latest(cli_engine: CliEngine, names: list[str]) -> None:
    first = new_name(names)
    second = new_name(names)
    cli_engine.ok("create", "--name", first, "busybox", "true")
    cli_engine.ok("create", "--name", second, "busybox", "true")
    assert cli_engine.ok("ps", "-l", "--format", "{{.Names}}").split() == [second]
    assert cli_engine.ok("ps", "-n", "2", "--format", "{{.Names}}").split() == [second, first]


def test_ps_bad_template_fails(cli_engine: CliEngine, names: list[str]) -> None:
    name = started(cli_engine, names, "sleep", "60")
    res = cli_engine.cli("ps", "--filter", f"name={name}", "--format", "{{.Bogus}}")
    assert res.returncode == 1
    assert "can't evaluate field Bogus" in res.stderr.decode()


def test_inspect_format(cli_engine: CliEngine, names: list[str]) -> None:
    name = started(cli_engine, names, "sleep", "60", opts=("-l", "k=v"))
    out = cli_engine.ok(
        "inspect",
        "-f",
        '{{.State.Status}} {{.Name}} {{index .Config.Labels "k"}} {{json .Config.Cmd}} '
        "{{range .Config.Cmd}}<{{.}}>{{end}} {{.HostConfig.NetworkMode}}",
        name,
    )
    assert out.strip() == f'running /{name} v ["sleep","60"] <sleep><60> default'
    data = json.loads(cli_engine.ok("inspect", name))
    assert isinstance(data, list) and data[0]["Name"] == f"/{name}"
    assert json.loads(cli_engine.ok("container", "inspect", "-f", "{{json .Config}}", name))["Cmd"] == [
        "sleep",
        "60",
    ]


def test_inspect_missing_and_bad_key(cli_engine: CliEngine, names: list[str]) -> None:
    missing = "no-such-object-" + unique()
    res = cli_engine.cli("inspect", missing)
    assert res.returncode == 1
    assert res.stdout == b"[]\n"
    assert res.stderr.decode().strip() == f"Error: No such object: {missing}"
    res = cli_engine.cli("container", "inspect", missing)
    assert res.returncode == 1
    assert res.stderr.decode().strip() == f"Error response from daemon: No such container: {missing}"
    name = started(cli_engine, names, "sleep", "60")
    res = cli_engine.cli("inspect", "-f", "{{.State.Bogus}}", name)
    assert res.returncode == 1
    assert 'map has no entry for key "Bogus"' in res.stderr.decode()


def test_logs_streams_timestamps_tail_and_follow(cli_engine: CliEngine, names: list[str]) -> None:
    name = new_name(names)
    cli_engine.ok("run", "--name", name, "busybox", "sh", "-c", "echo one; echo two >&2; echo three")
    res = cli_engine.cli("logs", name)
    assert res.returncode == 0
    assert (res.stdout, res.stderr) == (b"one\nthree\n", b"two\n")
    # stdout and stderr are separate pipes: their relative order in the log is not fixed.
    tail = cli_engine.cli("logs", "--tail", "1", name)
    assert (tail.stdout + tail.stderr) in (b"three\n", b"two\n")
    stamped = cli_engine.ok("logs", "-t", name).splitlines()
    assert [line.split(" ", 1)[1] for line in stamped] == ["one", "three"]
    assert all(line.split(" ", 1)[0].endswith("Z") and "T" in line for line in stamped)
    assert cli_engine.ok("logs", "--since", "1h", name) == "one\nthree\n"
    assert cli_engine.ok("logs", "--until", "2000-01-01", name) == ""

    live = started(cli_engine, names, "sh", "-c", "for i in 1 2 3; do echo tick$i; sleep 0.2; done; sleep 60")
    proc = subprocess.Popen(cli_engine.argv("logs", "-f", live), stdout=subprocess.PIPE, env=cli_engine.env())
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        assert lines == [b"tick1\n", b"tick2\n", b"tick3\n"]
    finally:
        proc.kill()
        proc.wait()


def test_exec_output_exit_code_env_user_workdir(cli_engine: CliEngine, names: list[str]) -> None:
    name = started(cli_engine, names, "sleep", "60")
    res = cli_engine.cli(
        "exec",
        "-e",
        "X=1",
        "-u",
        "1000",
        "-w",
        "/tmp",
        name,
        "sh",
        "-c",
        'echo "$X $(id -u) $(pwd)"; echo err >&2; exit 5',
    )
    assert res.returncode == 5, explain(res, ["exec"])
    assert (res.stdout, res.stderr) == (b"1 1000 /tmp\n", b"err\n")
    res = cli_engine.cli("exec", "-i", name, "cat", input=b"piped\n")
    assert (res.returncode, res.stdout) == (0, b"piped\n")
    res = cli_engine.cli("exec", name, "no-such-command")
    assert res.returncode in (126, 127), explain(res, ["exec"])
    cli_engine.ok("exec", "-d", name, "touch", "/detached")
    deadline = time.monotonic() + 10
    while cli_engine.cli("exec", name, "test", "-e", "/detached").returncode != 0:
        assert time.monotonic() < deadline, "exec -d did not run its command"
        time.sleep(0.1)


def test_wait_stop_kill_restart_rm(cli_engine: CliEngine, names: list[str]) -> None:
    name = new_name(names)
    assert cli_engine.cli("run", "--name", name, "busybox", "sh", "-c", "exit 6").returncode == 6
    assert cli_engine.ok("wait", name).strip() == "6"
    running = started(cli_engine, names, "sleep", "60")
    assert cli_engine.ok("stop", "-t", "1", running).strip() == running
    assert cli_engine.ok("wait", running).strip() == "137"
    assert cli_engine.ok("restart", "-t", "1", running).strip() == running
    assert cli_engine.inspect(running)["State"]["Running"] is True  # type: ignore[index]
    assert cli_engine.ok("kill", "-s", "KILL", running).strip() == running
    assert cli_engine.ok("rm", running).strip() == running
    res = cli_engine.cli("rm", running, "also-missing-" + unique())
    assert res.returncode == 1
    assert res.stderr.decode().count("Error response from daemon: No such container:") == 2
    live = started(cli_engine, names, "sleep", "60")
    res = cli_engine.cli("rm", live)
    assert res.returncode == 1 and b"Error response from daemon:" in res.stderr
    assert cli_engine.ok("rm", "-f", "-v", live).strip() == live


def test_pause_unpause_rename_update_top(cli_engine: CliEngine, names: list[str]) -> None:
    name = started(cli_engine, names, "sleep", "60")
    cli_engine.ok("pause", name)
    assert cli_engine.inspect(name)["State"]["Paused"] is True  # type: ignore[index]
    cli_engine.ok("unpause", name)
    assert cli_engine.inspect(name)["State"]["Paused"] is False  # type: ignore[index]
    new = unique()
    names.append(new)
    cli_engine.ok("rename", name, new)
    assert cli_engine.inspect(new)["Name"] == f"/{new}"
    assert cli_engine.ok("update", "--memory", "48m", "--memory-swap", "96m", new).strip() == new
    assert cli_engine.inspect(new)["HostConfig"]["Memory"] == 48 * 1024 * 1024  # type: ignore[index]
    res = cli_engine.cli("update", new)
    assert res.returncode == 1 and b"you must provide one or more flags" in res.stderr
    top = cli_engine.ok("top", new).splitlines()
    assert top[0].split()[:3] == ["UID", "PID", "PPID"] and top[0].index("PID") == 20
    assert top[1].split()[-2:] == ["sleep", "60"]
    assert cli_engine.ok("top", new, "-o", "pid,args").splitlines()[1].split()[1:] == ["sleep", "60"]


def test_stats_no_stream(cli_engine: CliEngine, names: list[str]) -> None:
    name = started(cli_engine, names, "sleep", "60")
    out = cli_engine.ok("stats", "--no-stream", name).splitlines()
    assert out[0].split("   ")[:2] == ["CONTAINER ID", "NAME"]
    assert "MEM USAGE / LIMIT" in out[0]
    fields = out[1].split()
    assert fields[1] == name and fields[2].endswith("%") and fields[-1] == "1"
    row = cli_engine.ok("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", name)
    assert row.strip() == f"{name} 1"


def test_stats_streams_a_live_table(cli_engine: CliEngine, names: list[str]) -> None:
    name = started(cli_engine, names, "sleep", "60")
    proc = subprocess.Popen(
        cli_engine.argv("stats", "--format", "{{.Name}} {{.PIDs}}", name),
        stdout=subprocess.PIPE,
        env=cli_engine.env(),
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
    finally:
        proc.kill()
        proc.wait()
    # Not a terminal: plain redraws, no cursor moves; one line per refresh for one container.
    assert lines == [f"{name} 1\n".encode()] * 2


def test_port_diff_export_commit(cli_engine: CliEngine, names: list[str], scratch: Path) -> None:
    name = started(cli_engine, names, "sh", "-c", "mkdir /made && echo x > /made/f && sleep 60")
    deadline = time.monotonic() + 10
    while "A /made/f" not in cli_engine.ok("diff", name):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert cli_engine.ok("diff", name) == cli_engine.docker("diff", name).stdout
    assert cli_engine.ok("port", name) == ""
    out = scratch / "fs.tar"
    cli_engine.ok("export", "-o", str(out), name)
    with tarfile.open(out) as tar:
        assert "made/f" in tar.getnames() and "bin/busybox" in tar.getnames()
    res = cli_engine.cli("export", name)
    assert res.returncode == 0 and res.stdout[257:262] == b"ustar"
    repo = f"dyc-commit{unique()}"
    image_id = cli_engine.ok(
        "commit", "-m", "made by test", "-c", "ENV COMMITTED=1", name, f"{repo}:t"
    ).strip()
    try:
        assert image_id.startswith("sha256:")
        res = cli_engine.cli("run", "--rm", f"{repo}:t", "sh", "-c", "cat /made/f; echo $COMMITTED")
        assert res.stdout == b"x\n1\n", explain(res, ["run"])
        assert (
            cli_engine.ok("history", "--format", "{{.Comment}}", f"{repo}:t").splitlines()[0]
            == "made by test"
        )
    finally:
        cli_engine.docker("rmi", "-f", f"{repo}:t")


def test_cp_both_ways(cli_engine: CliEngine, names: list[str], scratch: Path) -> None:
    name = started(cli_engine, names, "sleep", "60")
    (scratch / "file.txt").write_text("hello\n")
    tree = scratch / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "deep.txt").write_text("deep\n")
    cli_engine.ok("cp", str(scratch / "file.txt"), f"{name}:/tmp/")
    cli_engine.ok("cp", str(tree), f"{name}:/tmp/newtree")
    cli_engine.ok("cp", str(scratch / "file.txt"), f"{name}:/tmp/renamed.txt")
    out = cli_engine.ok(
        "exec", name, "sh", "-c", "cat /tmp/file.txt /tmp/newtree/sub/deep.txt /tmp/renamed.txt"
    )
    assert out == "hello\ndeep\nhello\n"
    back = scratch / "back"
    cli_engine.ok("cp", f"{name}:/tmp/newtree", str(back))
    assert (back / "sub" / "deep.txt").read_text() == "deep\n"
    contents = scratch / "contents"
    contents.mkdir()
    cli_engine.ok("cp", f"{name}:/tmp/newtree/.", str(contents))
    assert (contents / "sub" / "deep.txt").read_text() == "deep\n"
    cli_engine.ok("cp", f"{name}:/etc/hostname", str(scratch / "hostname"))
    assert (scratch / "hostname").read_text().strip() == cli_engine.inspect(name)["Config"]["Hostname"]  # type: ignore[index]
    res = cli_engine.cli("cp", f"{name}:/tmp/file.txt", "-")
    assert res.returncode == 0
    with tarfile.open(fileobj=__import__("io").BytesIO(res.stdout)) as tar:
        member = tar.getmember("file.txt")
        assert tar.extractfile(member).read() == b"hello\n"  # type: ignore[union-attr]
    piped = subprocess.run(
        ["tar", "-C", str(tree), "-cf", "-", "sub"], capture_output=True, check=True
    ).stdout
    cli_engine.ok("cp", "-", f"{name}:/tmp", input=piped)
    assert cli_engine.ok("exec", name, "cat", "/tmp/sub/deep.txt") == "deep\n"
    res = cli_engine.cli("cp", f"{name}:/no/such/path", str(scratch / "x"))
    assert res.returncode == 1 and b"Error response from daemon:" in res.stderr


def test_container_prune_and_aliases(cli_engine: CliEngine, names: list[str]) -> None:
    name = new_name(names)
    cli_engine.ok("create", "--name", name, "-l", f"prune-me={name}", "busybox", "true")
    listed = cli_engine.ok("container", "ls", "-a", "--filter", f"name={name}", "--format", "{{.Names}}")
    assert listed.split() == [name]
    out = cli_engine.ok("container", "prune", "-f", "--filter", f"label=prune-me={name}")
    assert out.startswith("Deleted Containers:\n")
    assert out.rstrip().endswith("Total reclaimed space: 0B")
    assert cli_engine.docker("ps", "-aq", "--filter", f"name={name}").stdout.strip() == ""
