"""The real dockerd runs containers through dockyard-runtime exactly as through runc.

Issue 2, "Must show" 1. One dockerd per session (``engines.dockerd``: private data-root,
exec-root and socket, no bridge, ``--add-runtime dockyard=...``); every test runs once with
``--runtime dockyard`` and once with ``--runtime runc`` (dockerd's default, the control). When
runc passes and dockyard fails, the failure message carries dockerd's log since the test began.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Importing the session fixtures (`dockerd`, `tmux` and those they request) makes them visible here.
from tests.compat.engines import (  # noqa: F401
    RUNTIMES,
    Dockerd,
    Tmux,
    busybox_layer_fixture,
    dockerd_fixture,
    engines_dir_fixture,
    runtime_binary,
    tmux_fixture,
    unique,
    wait_for,
)

pytestmark = [pytest.mark.compat, pytest.mark.root]

SH = "sh"


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    """The dockerd runtime name: ``dockyard`` (ours) or ``runc`` (dockerd's default)."""
    name: str = request.param
    return name


@pytest.fixture
def names(dockerd: Dockerd) -> Iterator[list[str]]:
    """Container names for a test; every one is force-removed afterwards."""
    made: list[str] = []
    try:
        yield made
    finally:
        if made:
            dockerd("rm", "-f", *made, timeout=60)


def new_name(names: list[str]) -> str:
    name = unique("dy")
    names.append(name)
    return name


def run_detached(
    dockerd: Dockerd, names: list[str], runtime: str, *cmd: str, opts: tuple[str, ...] = ()
) -> str:
    """``docker run -d`` a busybox container on our runtime; return its name once it is running."""
    name = new_name(names)
    mark = dockerd.log_offset()
    res = dockerd(
        "run", "-d", "--name", name, "--runtime", runtime, "--network", "none", *opts, dockerd.image, *cmd
    )
    assert res.returncode == 0, dockerd.explain(res, f"docker run -d --runtime {runtime}", mark)
    return name


def file_size(path: Path) -> int:
    """The size of a file a container keeps appending to (0 while it does not exist yet)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def test_run_prints_pid_1_and_container_id_as_hostname(
    dockerd: Dockerd, runtime: str, tmp_path: Path
) -> None:
    """`docker run --rm`: the process is pid 1 of its own pid namespace, the hostname is the id."""
    cidfile = tmp_path / "cid"
    mark = dockerd.log_offset()
    res = dockerd(
        "run", "--rm", "--runtime", runtime, "--network", "none", "--cidfile", str(cidfile),
        dockerd.image, "sh", "-c", "echo $$; hostname",
    )  # fmt: skip
    assert res.returncode == 0, dockerd.explain(res, f"docker run --rm --runtime {runtime}", mark)
    cid = cidfile.read_text().strip()
    assert len(cid) == 64, cid
    assert res.stdout.decode().split() == ["1", cid[:12]]


def test_run_exit_code_and_stdin(dockerd: Dockerd, runtime: str) -> None:
    """The container's exit code comes back through the runtime; `-i` stdin reaches it."""
    mark = dockerd.log_offset()
    res = dockerd(
        "run", "--rm", "-i", "--runtime", runtime, "--network", "none", dockerd.image,
        "sh", "-c", "read line; echo got-$line; exit 42",
        input=b"hello\n",
    )  # fmt: skip
    assert res.returncode == 42, dockerd.explain(res, f"docker run -i --runtime {runtime}", mark)
    assert res.stdout.decode().strip() == "got-hello"


def test_run_interactive_tty_through_tmux(dockerd: Dockerd, runtime: str, tmux: Tmux) -> None:
    """`docker run -it` in a real terminal (tmux): the shell echoes, evaluates, and exits cleanly."""
    name = unique("dy")
    session = tmux.start(
        dockerd.cli(
            "run", "-it", "--rm", "--name", name, "--runtime", runtime, "--network", "none", dockerd.image, SH
        )
    )
    try:
        tmux.wait_text(session, lambda ls: any(line.endswith("#") for line in ls), 20, "the shell prompt")
        tmux.send(session, "echo hi-$((1+1)); tty")
        # `tty` prints after `echo`: wait for both lines, not only the first.
        screen = tmux.wait_text(
            session,
            lambda ls: "hi-2" in ls and any(line.startswith("/dev/pts/") for line in ls),
            10,
            "hi-2 and the tty's name",
        )
        assert "hi-2" in screen.splitlines()
        assert any(line.startswith("/dev/pts/") for line in screen.splitlines()), screen
        tmux.send(session, "exit")
        status = tmux.wait_exit(session, 20, "docker run -it to end after exit")
        assert status == 0, tmux.capture(session)
    finally:
        tmux.kill(session)
        dockerd("rm", "-f", name)


def test_exec_into_running_container(dockerd: Dockerd, runtime: str, names: list[str], tmux: Tmux) -> None:
    """`docker exec` joins the container: sees its pid 1, returns exit codes; `exec -it` gets a tty."""
    name = run_detached(dockerd, names, runtime, "sleep", "1000")
    mark = dockerd.log_offset()
    res = dockerd("exec", name, "cat", "/proc/1/cmdline")
    assert res.returncode == 0, dockerd.explain(res, f"docker exec ({runtime})", mark)
    assert res.stdout == b"sleep\x001000\x00"

    res = dockerd("exec", name, "sh", "-c", "echo $$ > /dev/null; hostname; exit 5")
    assert res.returncode == 5, dockerd.explain(res, f"docker exec exit code ({runtime})", mark)
    assert res.stdout.decode().strip() == dockerd.inspect(name)["Id"][:12]

    session = tmux.start(dockerd.cli("exec", "-it", name, SH))
    try:
        tmux.wait_text(
            session, lambda ls: any(line.endswith("#") for line in ls), 20, "the exec shell prompt"
        )
        tmux.send(session, "echo tty-$((6*7)); tty")
        screen = tmux.wait_text(session, lambda ls: "tty-42" in ls, 10, "tty-42")
        assert any(line.startswith("/dev/pts/") for line in screen.splitlines()), screen
        tmux.send(session, "exit 4")
        status = tmux.wait_exit(session, 20, "docker exec -it to end after exit")
        assert status == 4, tmux.capture(session)
    finally:
        tmux.kill(session)
    # The container itself is untouched by the exec sessions ending.
    assert dockerd.inspect(name)["State"]["Running"] is True


def test_stop_sends_sigterm_then_sigkill(dockerd: Dockerd, runtime: str, names: list[str]) -> None:
    """`docker stop`: a TERM handler's exit code is kept; a TERM-ignoring pid 1 is killed (137)."""
    # The ready file is written after the trap is set: a TERM before that would be ignored (pid 1
    # of a pid namespace gets no default action for signals it has no handler for).
    trapping = run_detached(
        dockerd,
        names,
        runtime,
        "sh",
        "-c",
        'trap "exit 3" TERM; touch /ready; while true; do sleep 0.1; done',
    )
    ignoring = run_detached(dockerd, names, runtime, "sh", "-c", 'trap "" TERM; touch /ready; sleep 1000')
    for name in (trapping, ignoring):
        upper = dockerd.upper_dir(name)
        wait_for(lambda upper=upper: (upper / "ready").exists(), 15, f"{name} to set its trap")

    mark = dockerd.log_offset()
    t0 = time.monotonic()
    res = dockerd("stop", "-t", "10", trapping)
    took = time.monotonic() - t0
    assert res.returncode == 0, dockerd.explain(res, f"docker stop ({runtime})", mark)
    state = dockerd.inspect(trapping)["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 3), state
    assert took < 5, f"docker stop took {took:.1f}s: SIGTERM did not reach the trap"

    t0 = time.monotonic()
    res = dockerd("stop", "-t", "2", ignoring)
    took = time.monotonic() - t0
    assert res.returncode == 0, dockerd.explain(res, f"docker stop -t 2 ({runtime})", mark)
    state = dockerd.inspect(ignoring)["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 137), state
    assert 1.8 <= took < 10, f"docker stop -t 2 took {took:.1f}s"


def test_pause_and_unpause(dockerd: Dockerd, runtime: str, names: list[str]) -> None:
    """`docker pause` freezes every process (a growing file stops); `unpause` lets it go on.

    The container appends a line every 50 ms: an append never leaves the file shorter, wherever
    the freeze lands (a rewritten counter could be caught empty, between truncate and write).
    """
    script = "while true; do echo x >> /count; sleep 0.05; done"
    name = run_detached(dockerd, names, runtime, "sh", "-c", script)
    counter = dockerd.upper_dir(name) / "count"
    wait_for(lambda: file_size(counter) > 4, 15, "the counter to start")

    mark = dockerd.log_offset()
    res = dockerd("pause", name)
    assert res.returncode == 0, dockerd.explain(res, f"docker pause ({runtime})", mark)
    # `pause` returns once the freezer reports FROZEN (runc waits for it): no tick after this.
    frozen = file_size(counter)
    state = dockerd.inspect(name)["State"]
    assert (state["Status"], state["Paused"]) == ("paused", True), state
    time.sleep(0.6)
    assert file_size(counter) == frozen, "the container kept running while paused"

    res = dockerd("unpause", name)
    assert res.returncode == 0, dockerd.explain(res, f"docker unpause ({runtime})", mark)
    state = dockerd.inspect(name)["State"]
    assert (state["Status"], state["Paused"], state["Running"]) == ("running", False, True), state
    wait_for(lambda: file_size(counter) > frozen, 5, "the counter to move again after unpause")


def test_memory_limit_oom_kills(dockerd: Dockerd, runtime: str, names: list[str]) -> None:
    """`--memory 32m`: holding 100 MB in a shell variable gets the container OOM-killed (137)."""
    name = new_name(names)
    mark = dockerd.log_offset()
    res = dockerd(
        "run", "--name", name, "--runtime", runtime, "--network", "none",
        "--memory", "32m", "--memory-swap", "32m", dockerd.image,
        "sh", "-c", 'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo survived ${#x}',
        timeout=60,
    )  # fmt: skip
    state = dockerd.inspect(name)["State"]
    assert res.returncode == 137, (
        dockerd.explain(res, f"docker run --memory 32m ({runtime})", mark) + f"\n{state}"
    )
    assert b"survived" not in res.stdout
    assert state["ExitCode"] == 137, state
    # dockerd learns of the OOM kill from containerd's TaskOOM event (the shim watches the
    # container's memory cgroup), so this also checks that the runtime put it in that cgroup.
    assert state["OOMKilled"] is True, state
    host_config = dockerd.inspect(name)["HostConfig"]
    assert host_config["Memory"] == 32 * 1024 * 1024


def test_top_and_update(dockerd: Dockerd, runtime: str, names: list[str]) -> None:
    """`docker top` (the runtime's ``ps --format json``) and `docker update` (``update --resources -``)."""
    script = "sleep 1000 & sleep 2000; exit 0"
    name = run_detached(dockerd, names, runtime, "sh", "-c", script)
    cid = dockerd.inspect(name)["Id"]
    mark = dockerd.log_offset()
    expected = sorted([f"sh -c {script}", "sleep 1000", "sleep 2000"])

    def top() -> list[str]:
        # dockerd runs the host's `ps` with these options and keeps the runtime's pids (`ps` verb).
        res = dockerd("top", name, "-o", "pid,args")
        assert res.returncode == 0, dockerd.explain(res, f"docker top ({runtime})", mark)
        return sorted(line.split(None, 1)[1] for line in res.stdout.decode().splitlines()[1:])

    commands: list[str] = []
    deadline = time.monotonic() + 5
    while commands != expected and time.monotonic() < deadline:
        commands = top()
        time.sleep(0.05)
    assert commands == expected

    res = dockerd("update", "--memory", "48m", "--memory-swap", "48m", name)
    assert res.returncode == 0, dockerd.explain(res, f"docker update ({runtime})", mark)
    cgroup = Path(dockerd.cgroup_parent.strip("/")) / cid
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():  # a pure cgroup v2 host
        limit = Path("/sys/fs/cgroup") / cgroup / "memory.max"
    else:
        limit = Path("/sys/fs/cgroup/memory") / cgroup / "memory.limit_in_bytes"
    assert limit.read_text().strip() == str(48 * 1024 * 1024)
    assert dockerd.inspect(name)["HostConfig"]["Memory"] == 48 * 1024 * 1024


def test_runtime_is_the_one_asked_for(dockerd: Dockerd, runtime: str, names: list[str]) -> None:
    """The container really runs on the named runtime, not on runc in disguise.

    dockerd 20.10 gives the shim ``BinaryName`` (the ``--add-runtime`` path; "runc" for runc) and
    ``Root: EXEC_ROOT/runtime-runc`` for every runtime (defaultV2ShimConfig uses the stock
    runtime's name); the shim records both in the bundle's options.json and calls
    ``BINARY --root ROOT/moby``. The runtime named must then answer ``state`` for the container
    with the pid dockerd knows.
    """
    name = run_detached(dockerd, names, runtime, "sleep", "1000")
    info = dockerd.inspect(name)
    assert info["HostConfig"]["Runtime"] == runtime
    cid, pid = info["Id"], info["State"]["Pid"]
    bundle = dockerd.exec_root / "containerd/daemon/io.containerd.runtime.v2.task/moby" / cid
    options = json.loads((bundle / "options.json").read_text())
    binary = runtime_binary(runtime)
    assert options["binary_name"] in (binary, runtime), options
    res = subprocess.run(
        [binary, "--root", f"{options['root']}/moby", "state", cid],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, f"{binary} state {cid}: {res.stderr}"
    state = json.loads(res.stdout)
    assert (state["id"], state["status"], state["pid"]) == (cid, "running", pid), state


def test_dockerd_lists_the_dockyard_runtime(dockerd: Dockerd) -> None:
    """dockerd accepted ``--add-runtime dockyard=...`` (it runs ``--version`` of it for `info`)."""
    out = dockerd.text("info", "--format", "{{json .Runtimes}}")
    assert '"dockyard"' in out and "dockyard-runtime" in out, out
    res = subprocess.run([dockerd.client, "--version"], capture_output=True, text=True, check=False)
    assert res.returncode == 0
