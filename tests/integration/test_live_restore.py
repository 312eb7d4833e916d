"""Live restore (issue 3, "Must show" 3), and its opposite.

With ``--live-restore`` a daemon killed with SIGKILL leaves its containers running: their shims
keep their stdio and keep writing their logs, and record the exit of one that ends meanwhile. A
new daemon on the same roots (and the same bridge) finds them: `docker ps` lists the running
ones, their logs have every line across the restart, the one that ended reports its exit code
and finish time, and `docker stop` works on the restored containers.

Without it, a SIGTERM'd daemon stops its containers, and the next one applies the restart
policies: an ``--restart always`` container comes back, the others stay exited.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.compat.engines import wait_for
from tests.daemon_harness import DOCKER_CLI, DockyardDaemon

pytestmark = [pytest.mark.root]

#: A counter every 50 ms; SIGTERM ends it with 0 (the trap runs once the current sleep is over).
COUNTER = "trap 'exit 0' TERM; i=0; while true; do echo $i; i=$((i+1)); sleep 0.05; done"
LATE = "while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 4"
NEVER = "0001-01-01T00:00:00Z"


class Restartable:
    """A daemon that can be replaced by a new one on the same roots and bridge."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.first = DockyardDaemon(*args)
        self.current = self.first
        self.all = [self.first]

    def start(self) -> DockyardDaemon:
        self.first.start()
        self.first.bootstrap()
        return self.first

    def restart(self) -> DockyardDaemon:
        d = DockyardDaemon(*self.args, root=str(self.first.root), bridge=self.first.bridge)
        self.all.append(d)
        self.current = d
        return d.start()

    def cleanup(self) -> None:
        for d in reversed(self.all):
            d.stop()
        self.current.cleanup()  # kills what is left under the exec root, drops the bridge, removes the root


@pytest.fixture
def daemons(request: pytest.FixtureRequest) -> Iterator[Restartable]:
    r = Restartable(*getattr(request, "param", ()))
    try:
        yield r
    finally:
        r.cleanup()


def _inspect(d: DockyardDaemon, ref: str) -> dict[str, Any]:
    return dict(json.loads(d.docker("inspect", ref).stdout)[0])


def _numbers(d: DockyardDaemon, ref: str) -> list[int]:
    return [int(line) for line in d.docker("logs", ref).stdout.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("daemons", [("--live-restore",)], indirect=True)
def test_sigkill_with_live_restore_keeps_containers_and_logs(daemons: Restartable) -> None:
    d = daemons.start()
    counters = [d.docker("run", "-d", "--name", f"count{i}", "busybox", "sh", "-c", COUNTER).stdout.strip()
                for i in range(2)]  # fmt: skip
    ender = d.docker("run", "-d", "--name", "ender", "busybox", "sh", "-c", "sleep 2; exit 3").stdout.strip()
    # Ends when told to, after the restart: its exit reaches the new daemon.
    late = d.docker("run", "-d", "--name", "late", "busybox", "sh", "-c", LATE).stdout.strip()
    for cid in counters:
        wait_for(lambda cid=cid: len(_numbers(d, cid)) >= 5, 10, "the counters to log")
    pids = {cid: _inspect(d, cid)["State"]["Pid"] for cid in [*counters, ender, late]}
    killed_at = time.monotonic()
    d.kill()

    # While no daemon runs: the containers go on, the ender ends (its shim records the code).
    assert all(_alive(pid) for pid in pids.values())
    wait_for(lambda: not _alive(pids[ender]), 10, "the ender to exit while the daemon is down")
    time.sleep(max(0.0, 2.5 - (time.monotonic() - killed_at)))
    down_for = time.monotonic() - killed_at

    d = daemons.restart()
    running = d.docker("ps", "-q", "--no-trunc").stdout.split()
    assert sorted(running) == sorted([*counters, late]), (running, d.log())
    for cid in counters:
        state = _inspect(d, cid)["State"]
        assert state["Running"] is True and state["Pid"] == pids[cid], state
    ended = _inspect(d, ender)["State"]
    assert ended["Status"] == "exited" and ended["ExitCode"] == 3, ended
    assert ended["FinishedAt"] != NEVER and ended["FinishedAt"] > ended["StartedAt"], ended
    assert d.docker("wait", ender).stdout.strip() == "3"

    # No lost line: every number from 0 up, in order, across the time the daemon was down, and
    # the logs keep growing after the restart (the new daemon reads what the shims write).
    for cid in counters:
        first = _numbers(d, cid)
        assert first == list(range(len(first))), f"{cid[:12]}: a gap or disorder in {first}"
        assert len(first) >= int(down_for / 0.05 / 3), (len(first), down_for)
        seen = len(first)
        wait_for(lambda cid=cid, seen=seen: len(_numbers(d, cid)) > seen + 5, 10, "more log lines")

    # The restored containers answer to the lifecycle commands, and their exits are seen.
    d.docker("exec", late, "touch", "/tmp/go")
    assert d.docker("wait", late).stdout.strip() == "4"
    assert d.docker("exec", counters[0], "echo", "alive").stdout == "alive\n"
    follow = subprocess.Popen([DOCKER_CLI, "logs", "-f", "--tail", "1", counters[0]], env=d.env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        assert follow.stdout is not None
        followed = [int(follow.stdout.readline()) for _ in range(5)]
        assert followed == list(range(followed[0], followed[0] + 5)), followed
        d.docker("stop", "-t", "5", *counters)
        follow.wait(timeout=15)  # logs -f of a restored container ends when it stops
    finally:
        follow.kill()
        follow.wait()
    for cid in counters:
        state = _inspect(d, cid)["State"]
        assert state["Status"] == "exited" and state["ExitCode"] == 0, state
        assert not _alive(pids[cid])
        numbers = _numbers(d, cid)
        assert numbers == list(range(len(numbers)))
    assert d.docker("ps", "-q").stdout.split() == []
    d.docker("rm", *counters, ender, late)


def test_sigterm_without_live_restore_stops_containers_and_restart_always_returns(
    daemons: Restartable,
) -> None:
    d = daemons.start()
    always = d.docker("run", "-d", "--name", "always", "--restart", "always", "busybox", "sh", "-c", COUNTER)
    always_id = always.stdout.strip()
    plain_id = d.docker("run", "-d", "--name", "plain", "busybox", "sh", "-c", COUNTER).stdout.strip()
    # Ends with 0 on the daemon's SIGTERM, so on-failure leaves it be (a sleep as pid 1 would be
    # SIGKILLed after the stop timeout, exit 137, and dockerd restarts on-failure ones then).
    once_id = d.docker(
        "run", "-d", "--name", "once", "--restart", "on-failure", "busybox", "sh", "-c", COUNTER
    )
    pids = {cid: _inspect(d, cid)["State"]["Pid"] for cid in (always_id, plain_id, once_id.stdout.strip())}
    wait_for(lambda: len(_numbers(d, always_id)) >= 3, 10, "the counter to log")

    assert d.stop() == 0, d.log()
    for cid, pid in pids.items():
        assert not _alive(pid), f"{cid[:12]} (pid {pid}) still runs after the daemon's SIGTERM"

    d = daemons.restart()

    def always_back() -> bool:
        state = _inspect(d, always_id)["State"]
        return bool(state["Running"]) and state["Pid"] != pids[always_id]

    wait_for(always_back, 20, "the --restart always container to be started again")
    plain = _inspect(d, plain_id)["State"]
    assert plain["Status"] == "exited" and plain["Running"] is False and plain["FinishedAt"] != NEVER, plain
    assert plain["ExitCode"] == 0, plain  # the daemon's SIGTERM reached the trap
    # Stopped by the daemon with exit 0: on-failure does not bring it back.
    once = _inspect(d, once_id.stdout.strip())["State"]
    assert once["Status"] == "exited" and once["ExitCode"] == 0, once
    assert d.docker("ps", "-q", "--no-trunc").stdout.split() == [always_id]
    # The restarted counter logs again from 0, after the lines of its first run.
    wait_for(lambda: _numbers(d, always_id).count(0) == 2, 10, "the restarted counter's first line")
    d.docker("rm", "-f", always_id, plain_id, once_id.stdout.strip())
