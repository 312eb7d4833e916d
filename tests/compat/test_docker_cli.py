"""The real docker CLI against `dockyard daemon` (issue 3, "Must show" 1).

The docker 28 client (/usr/local/bin/docker) and Debian's docker.io 20.10 client (/usr/bin/docker,
API 1.41 in its paths) run with DOCKER_HOST on our socket; each command the issue names is a
test. The daemon is the session's (tests/conftest.py `dockyard_daemon`), with the built-in
busybox image.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.engines import Tmux, engines_dir_fixture, tmux_fixture, unique  # noqa: F401
from tests.daemon_harness import DOCKER_CLI, DockyardDaemon

pytestmark = [pytest.mark.compat, pytest.mark.root]

OLD_CLI = "/usr/bin/docker"  # Debian's docker.io 20.10 client
CLIENTS = [pytest.param(DOCKER_CLI, id="docker28"), pytest.param(OLD_CLI, id="docker20")]


@pytest.fixture
def d(dockyard_daemon: DockyardDaemon) -> Iterator[DockyardDaemon]:
    """The session daemon; containers a test leaves are removed after it."""
    before = set(dockyard_daemon.docker("ps", "-aq", "--no-trunc").stdout.split())
    yield dockyard_daemon
    after = set(dockyard_daemon.docker("ps", "-aq", "--no-trunc").stdout.split())
    leftover = sorted(after - before)
    if leftover:
        dockyard_daemon.docker("rm", "-f", *leftover, check=False)


@pytest.mark.parametrize("cli", CLIENTS)
def test_run_rm_prints_pid_1_and_hostname(d: DockyardDaemon, cli: str) -> None:
    name = unique("rm")
    res = d.docker("run", "--rm", "--name", name, "busybox", "sh", "-c", "echo $$; hostname", cli=cli)
    pid, hostname = res.stdout.split()
    assert pid == "1"
    assert len(hostname) == 12 and all(c in "0123456789abcdef" for c in hostname)
    names = d.docker("ps", "-a", "--format", "{{.Names}}", cli=cli).stdout.split()
    assert name not in names  # --rm removed it


def test_run_detached_ps_logs_follow_stop_rm(d: DockyardDaemon) -> None:
    name = unique("det")
    script = "i=0; while true; do echo line$i; i=$((i+1)); sleep 0.1; done"
    cid = d.docker("run", "-d", "--name", name, "busybox", "sh", "-c", script).stdout.strip()
    assert len(cid) == 64
    ps = d.docker("ps", "--format", "{{.ID}} {{.Names}} {{.Status}}").stdout
    assert f"{cid[:12]} {name} Up" in ps
    follow = subprocess.Popen(
        [DOCKER_CLI, "logs", "-f", name], env=d.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert follow.stdout is not None
        first = [follow.stdout.readline().decode().strip() for _ in range(3)]
        assert first == ["line0", "line1", "line2"]
        # sh as pid 1 ignores SIGTERM: stop waits -t seconds, then SIGKILL (exit 137).
        d.docker("stop", "-t", "1", name)
        follow.wait(timeout=15)  # logs -f ends when the container stops
    finally:
        follow.kill()
        follow.wait()
    state = json.loads(d.docker("inspect", "-f", "{{json .State}}", name).stdout)
    assert state["Status"] == "exited" and state["ExitCode"] == 137 and state["Running"] is False
    ps_a = d.docker("ps", "-a", "--filter", f"name={name}", "--format", "{{.Status}}").stdout
    assert ps_a.startswith("Exited (137)")
    d.docker("rm", name)
    assert name not in d.docker("ps", "-a", "--format", "{{.Names}}").stdout.split()


def test_run_it_through_tmux(d: DockyardDaemon, tmux: Tmux) -> None:
    session = tmux.start(["env", *[f"{k}={v}" for k, v in d.env().items() if k.startswith("DOCKER")],
                          DOCKER_CLI, "run", "-it", "--rm", "busybox", "sh"])  # fmt: skip
    tmux.wait_text(session, lambda ls: any(line.endswith("#") for line in ls), 20, "the shell prompt")
    tmux.send(session, "echo hi-$((1+1)); tty")
    screen = tmux.wait_text(
        session,
        lambda ls: "hi-2" in ls and any(line.startswith("/dev/pts/") for line in ls),
        20,
        "the output",
    )
    assert "/dev/pts/0" in screen
    tmux.send(session, "exit 3")
    assert tmux.wait_exit(session, 20, "docker run -it to end after exit") == 3


def test_exec_it_through_tmux_and_exec_exit_codes(d: DockyardDaemon, tmux: Tmux) -> None:
    name = unique("exec")
    d.docker("run", "-d", "--name", name, "busybox", "sleep", "1000")
    res = d.docker("exec", name, "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert (res.returncode, res.stdout, res.stderr) == (3, "out\n", "err\n")
    assert (
        d.docker("exec", "-e", "X=1", "-w", "/tmp", name, "sh", "-c", "echo $X $(pwd)").stdout == "1 /tmp\n"
    )
    assert d.docker("exec", name, "nope", check=False).returncode == 127
    session = tmux.start(["env", *[f"{k}={v}" for k, v in d.env().items() if k.startswith("DOCKER")],
                          DOCKER_CLI, "exec", "-it", name, "sh"])  # fmt: skip
    tmux.wait_text(session, lambda ls: any(line.endswith("#") for line in ls), 20, "the exec shell prompt")
    tmux.send(session, "echo in-$((20+2)); ps | grep -c 'sleep 1000'")
    tmux.wait_text(session, lambda ls: "in-22" in ls, 20, "the exec output")
    tmux.send(session, "exit")
    assert tmux.wait_exit(session, 20, "docker exec -it to end") == 0
    d.docker("rm", "-f", name)


def test_exit_codes_as_docker(d: DockyardDaemon) -> None:
    assert d.docker("run", "--rm", "busybox", "sh", "-c", "exit 3", check=False).returncode == 3
    missing = d.docker("run", "--rm", "busybox", "no-such-command", check=False)
    assert missing.returncode == 127, missing.stderr
    assert "no-such-command" in missing.stderr
    not_exec = d.docker("run", "--rm", "busybox", "/etc/passwd", check=False)
    assert not_exec.returncode == 126, not_exec.stderr
    bad = d.docker("run", "--rm", "--memory", "abc", "busybox", "true", check=False)
    assert bad.returncode == 125 and "abc" in bad.stderr


def test_piped_stdin(d: DockyardDaemon) -> None:
    res = d.docker("run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo done", input=b"hi\nthere\n")
    assert res.stdout == "hi\nthere\ndone\n"


@pytest.mark.parametrize("cli", CLIENTS)
def test_images_tag_inspect_rmi(d: DockyardDaemon, cli: str) -> None:
    images = d.docker("images", "--format", "{{.Repository}}:{{.Tag}}", cli=cli).stdout.split()
    assert "busybox:latest" in images
    tag = unique("tagged")
    d.docker("tag", "busybox", f"{tag}:v1", cli=cli)
    info = json.loads(d.docker("inspect", "--type", "image", f"{tag}:v1", cli=cli).stdout)[0]
    base = json.loads(d.docker("image", "inspect", "busybox", cli=cli).stdout)[0]
    assert info["Id"] == base["Id"] and f"{tag}:v1" in info["RepoTags"]
    out = d.docker("rmi", f"{tag}:v1", cli=cli).stdout
    assert f"Untagged: {tag}:v1" in out
    assert "busybox:latest" in d.docker("images", "--format", "{{.Repository}}:{{.Tag}}", cli=cli).stdout


def test_inspect_stats_top(d: DockyardDaemon) -> None:
    name = unique("top")
    cid = d.docker("run", "-d", "--name", name, "--memory", "64m", "busybox", "sleep", "1000").stdout.strip()
    info = json.loads(d.docker("inspect", name).stdout)[0]
    assert info["Id"] == cid and info["Name"] == f"/{name}" and info["State"]["Running"] is True
    assert info["HostConfig"]["Memory"] == 64 * 1024 * 1024 and info["State"]["Pid"] > 0
    stats = d.docker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}}", name).stdout
    fields = stats.split()
    assert fields[0] == name and fields[-1] == "1" and "64MiB" in stats
    top = d.docker("top", name).stdout.splitlines()
    assert top[0].split()[:2] == ["UID", "PID"] and any("sleep 1000" in line for line in top[1:])
    d.docker("rm", "-f", name)


def test_cp_both_ways(d: DockyardDaemon, tmp_path: Path) -> None:
    name = unique("cp")
    d.docker("run", "-d", "--name", name, "busybox", "sleep", "1000")
    src = tmp_path / "hello.txt"
    src.write_text("hello from the host\n")
    d.docker("cp", str(src), f"{name}:/tmp/")
    assert d.docker("exec", name, "cat", "/tmp/hello.txt").stdout == "hello from the host\n"
    d.docker("exec", name, "sh", "-c", "mkdir -p /out/sub && echo inner > /out/sub/f")
    d.docker("cp", f"{name}:/out", str(tmp_path / "copied"))
    assert (tmp_path / "copied" / "sub" / "f").read_text() == "inner\n"
    missing = d.docker("cp", f"{name}:/nope", str(tmp_path), check=False)
    assert missing.returncode != 0 and "Could not find the file /nope" in missing.stderr
    d.docker("rm", "-f", name)


def test_commit_diff_and_run_the_new_image(d: DockyardDaemon) -> None:
    name = unique("commit")
    d.docker("run", "--name", name, "busybox", "sh", "-c", "echo committed > /marker; rm /etc/group")
    diff = d.docker("diff", name).stdout.splitlines()
    assert "A /marker" in diff and "D /etc/group" in diff
    image = unique("img")
    d.docker("commit", "-m", "a marker", "-c", "ENV FROM_COMMIT=1", name, f"{image}:v1")
    out = d.docker("run", "--rm", f"{image}:v1", "sh", "-c", "cat /marker; echo $FROM_COMMIT")
    assert out.stdout == "committed\n1\n"
    assert d.docker("run", "--rm", f"{image}:v1", "test", "-e", "/etc/group", check=False).returncode == 1
    d.docker("rm", name)
    d.docker("rmi", f"{image}:v1")


def test_save_pipe_load(d: DockyardDaemon, tmp_path: Path) -> None:
    image = unique("saved")
    d.docker("tag", "busybox", f"{image}:v1")
    archive = tmp_path / "img.tar"
    d.docker("save", "-o", str(archive), f"{image}:v1")
    d.docker("rmi", f"{image}:v1")
    loaded = d.docker("load", "-i", str(archive)).stdout
    assert f"Loaded image: {image}:v1" in loaded
    assert d.docker("run", "--rm", f"{image}:v1", "echo", "ok").stdout == "ok\n"
    d.docker("rmi", f"{image}:v1")


def test_volume_create_ls_use_rm(d: DockyardDaemon) -> None:
    vol = unique("vol")
    assert d.docker("volume", "create", vol).stdout.strip() == vol
    assert vol in d.docker("volume", "ls", "--format", "{{.Name}}").stdout.split()
    d.docker("run", "--rm", "-v", f"{vol}:/data", "busybox", "sh", "-c", "echo kept > /data/f")
    assert d.docker("run", "--rm", "-v", f"{vol}:/data", "busybox", "cat", "/data/f").stdout == "kept\n"
    d.docker("volume", "rm", vol)
    assert vol not in d.docker("volume", "ls", "--format", "{{.Name}}").stdout.split()


def test_wait_returns_exit_code(d: DockyardDaemon) -> None:
    name = unique("wait")
    d.docker("run", "-d", "--name", name, "busybox", "sh", "-c", "sleep 0.3; exit 7")
    assert d.docker("wait", name).stdout.strip() == "7"
    d.docker("rm", name)


def test_events_since_until(d: DockyardDaemon) -> None:
    since = str(int(time.time()) - 1)
    name = unique("ev")
    d.docker("run", "--rm", "--name", name, "busybox", "true")
    until = str(int(time.time()) + 1)
    res = d.docker("events", "--since", since, "--until", until, "--filter", f"container={name}",
                   "--format", "{{.Type}} {{.Action}}")  # fmt: skip
    actions = [line.split()[1] for line in res.stdout.splitlines() if line.startswith("container ")]
    for expected in ("create", "start", "die", "destroy"):
        assert expected in actions, res.stdout
    assert actions.index("create") < actions.index("start") < actions.index("die") < actions.index("destroy")


def test_pull_from_reference_registry(d: DockyardDaemon, reference_registry: str) -> None:
    """The reference registry (Debian's docker-registry) on loopback holds an image skopeo put
    there; docker pull through our daemon, then run it."""
    ref = f"{reference_registry}/library/pulled:1"
    out = d.docker("pull", ref).stdout
    assert f"Status: Downloaded newer image for {ref}" in out
    assert d.docker("run", "--rm", ref, "echo", "pulled").stdout == "pulled\n"
    again = d.docker("pull", ref).stdout
    assert f"Status: Image is up to date for {ref}" in again
    d.docker("rmi", ref)
