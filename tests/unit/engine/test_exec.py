"""docker exec through a real OCI runtime, against a running busybox container.

Runs against dockyard-runtime and runc alike (the ``runtime`` fixture): the ExecManager only
uses the runtime's command line. The helpers here (``Box``, ``box``) are shared with the stats
and health tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dockyard.engine.events import EventBus
from dockyard.engine.exec import ExecManager, ExecSession, ExecTarget, StartError, merge_env
from dockyard.engine.stdcopy import Demuxer
from dockyard.errors import Conflict, InvalidArgument, NotFound
from tests.conftest import BundleFactory, Runtime, remove_tree


@dataclass
class Box:
    """A running busybox container started with an OCI runtime's ``run --detach``."""

    runtime: Runtime
    cid: str
    pid: int
    bundle: str

    def process(self) -> dict[str, Any]:
        with open(os.path.join(self.bundle, "config.json"), encoding="utf-8") as f:
            proc: dict[str, Any] = json.load(f)["process"]
        return proc

    def target(self, status: str = "running") -> ExecTarget:
        return ExecTarget(
            container_id=self.cid,
            name="/box",
            image="busybox",
            pid=self.pid,
            status=status,
            process=self.process(),
            labels={"team": "x"},
        )


def start_box(
    runtime: Runtime, bundle: BundleFactory, args: list[str] | None = None, **overrides: Any
) -> Box:
    path = bundle(args or ["sleep", "1000"], **overrides)
    cid = runtime.new_id()
    subprocess.run(
        runtime.cmd("run", "--detach", "--bundle", path, cid),
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=30,
    )
    state = json.loads(runtime("state", cid, check=True).stdout)
    return Box(runtime, cid, int(state["pid"]), path)


@pytest.fixture
def box(runtime: Runtime, bundle: BundleFactory) -> Box:
    return start_box(runtime, bundle)


@pytest.fixture
def manager(runtime: Runtime) -> Iterator[ExecManager]:
    work = tempfile.mkdtemp(prefix=f"dockyard-exec-{os.getpid()}-")
    try:
        yield ExecManager([runtime.path, "--root", runtime.root], Path(work), EventBus())
    finally:
        remove_tree(work)


async def read_all(session: ExecSession) -> bytes:
    out = bytearray()
    while True:
        chunk = await asyncio.wait_for(session.read(), 20)
        if not chunk:
            return bytes(out)
        out += chunk


def streams(data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for stream, payload in Demuxer().feed(data):
        out[stream] = out.get(stream, b"") + payload
    return out


async def run(manager: ExecManager, box: Box, config: dict[str, Any], **start: Any) -> tuple[bytes, int, str]:
    exec_id = manager.create(box.target(), config)
    session = await manager.start(exec_id, box.target(), detach=False, **start)
    data = await read_all(session)
    return data, await session.wait(), exec_id


ATTACH = {"AttachStdout": True, "AttachStderr": True}


def test_output_is_framed_and_the_exit_code_kept(manager: ExecManager, box: Box) -> None:
    async def main() -> None:
        data, code, exec_id = await run(
            manager, box, {"Cmd": ["sh", "-c", "echo out; echo err >&2; exit 3"], **ATTACH}
        )
        assert streams(data) == {1: b"out\n", 2: b"err\n"}
        assert code == 3
        doc = manager.inspect(exec_id)
        assert doc["ExitCode"] == 3 and doc["Running"] is False and doc["ContainerID"] == box.cid
        assert doc["ProcessConfig"] == {
            "tty": False,
            "entrypoint": "sh",
            "arguments": ["-c", "echo out; echo err >&2; exit 3"],
            "privileged": False,
        }
        assert doc["Pid"] > 0 and doc["OpenStdout"] and not doc["OpenStdin"]
        assert set(doc) == {
            "ID", "Running", "ExitCode", "ProcessConfig", "OpenStdin", "OpenStderr", "OpenStdout",
            "CanRemove", "ContainerID", "DetachKeys", "Pid",
        }  # fmt: skip

    asyncio.run(main())


def test_env_user_and_working_dir(manager: ExecManager, box: Box) -> None:
    async def main() -> None:
        config = {
            "Cmd": ["sh", "-c", 'echo "$FOO $PATH $HOME"; id -u; id -g; pwd'],
            "Env": ["FOO=bar"],
            "User": "user",
            "WorkingDir": "/tmp",
            **ATTACH,
        }
        data, code, _ = await run(manager, box, config)
        lines = streams(data)[1].decode().splitlines()
        assert code == 0
        assert lines[0].startswith("bar /") and lines[0].endswith(" /home/user")
        assert lines[1:] == ["1000", "1000", "/tmp"]
        data, code, _ = await run(manager, box, {"Cmd": ["id", "-u"], "User": "nobody:0", **ATTACH})
        assert streams(data)[1] == b"65534\n"

    asyncio.run(main())


def test_stdin_is_piped_and_closed(manager: ExecManager, box: Box) -> None:
    async def main() -> None:
        exec_id = manager.create(box.target(), {"Cmd": ["cat"], "AttachStdin": True, **ATTACH})
        session = await manager.start(exec_id, box.target(), detach=False)
        await session.write(b"hello ")
        await session.write(b"world\n")
        await session.close_stdin()
        data = await read_all(session)
        assert streams(data) == {1: b"hello world\n"}
        assert await session.wait() == 0

    asyncio.run(main())


def test_missing_command_reports_like_dockerd(manager: ExecManager, box: Box) -> None:
    async def main() -> None:
        data, code, exec_id = await run(manager, box, {"Cmd": ["nope"], **ATTACH})
        assert code == 127 and manager.inspect(exec_id)["ExitCode"] == 127
        assert streams(data)[1] == (
            b'OCI runtime exec failed: exec failed: unable to start container process: exec: "nope": '
            b"executable file not found in $PATH: unknown\r\n"
        )
        data, code, _ = await run(manager, box, {"Cmd": ["/etc"], **ATTACH})
        assert code == 126 and b'exec: "/etc": permission denied' in data
        data, code, _ = await run(manager, box, {"Cmd": ["/no/such"], **ATTACH})
        assert code == 127 and b"no such file or directory" in data
        data, code, _ = await run(manager, box, {"Cmd": ["true"], "User": "ghost", **ATTACH})
        assert code == 126 and b"unable to find user ghost: no matching entries in passwd file" in data

    asyncio.run(main())


def test_runtime_failure_is_reported_from_its_log(manager: ExecManager, box: Box) -> None:
    async def main() -> None:
        # The command exists, so only the runtime can refuse: here an rlimit no kernel knows.
        target = box.target()
        target.process["rlimits"] = [{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]
        exec_id = manager.create(target, {"Cmd": ["true"], **ATTACH})
        session = await manager.start(exec_id, target, detach=False)
        data = await read_all(session)
        assert await session.wait() == 126
        text = streams(data)[1].decode()
        assert text.startswith("OCI runtime exec failed: ") and text.endswith(": unknown\r\n")
        assert "RLIMIT_BOGUS" in text

    asyncio.run(main())


def test_tty_exec_gets_a_terminal_of_the_asked_size(manager: ExecManager, box: Box) -> None:
    async def main() -> None:
        config = {"Cmd": ["sh", "-c", "stty size; tty; echo $TERM"], "Tty": True, **ATTACH}
        data, code, _ = await run(manager, box, config, console_size=(31, 97))
        text = data.replace(b"\r\n", b"\n").decode()
        assert code == 0
        assert text.splitlines()[:3] == ["31 97", "/dev/pts/0", "xterm"]

    asyncio.run(main())


def test_tty_input_and_exit(manager: ExecManager, box: Box) -> None:
    async def main() -> None:
        exec_id = manager.create(box.target(), {"Cmd": ["sh"], "Tty": True, "AttachStdin": True, **ATTACH})
        session = await manager.start(exec_id, box.target(), detach=False)
        await session.write(b"echo $((6*7))\n")
        await session.write(b"exit 5\n")
        data = await read_all(session)
        assert b"42" in data
        assert await session.wait() == 5

    asyncio.run(main())


def test_resize_reaches_the_process(manager: ExecManager, box: Box) -> None:
    # A foreground `exec -t` copies its terminal's size to the container's pty on SIGWINCH.
    async def main() -> None:
        exec_id = manager.create(box.target(), {"Cmd": ["sh"], "Tty": True, "AttachStdin": True, **ATTACH})
        session = await manager.start(exec_id, box.target(), detach=False, console_size=(10, 20))
        await asyncio.sleep(0.3)
        await manager.resize(exec_id, 40, 120)
        await asyncio.sleep(0.3)
        await session.write(b"stty size; exit\n")
        data = await read_all(session)
        assert b"40 120" in data

    asyncio.run(main())


def test_detached_exec_records_its_exit(manager: ExecManager, box: Box) -> None:
    async def main() -> None:
        exec_id = manager.create(box.target(), {"Cmd": ["sh", "-c", "sleep 0.3; exit 7"]})
        session = await manager.start(exec_id, box.target(), detach=True)
        doc = manager.inspect(exec_id)
        assert doc["Running"] is True and doc["ExitCode"] is None
        assert exec_id in manager.list_for(box.cid)
        assert await asyncio.wait_for(session.wait(), 10) == 7
        assert manager.inspect(exec_id)["ExitCode"] == 7
        with pytest.raises(Conflict, match="has already run"):
            await manager.start(exec_id, box.target(), detach=True)
        bad = manager.create(box.target(), {"Cmd": ["nope"]})
        with pytest.raises(StartError, match="executable file not found") as info:
            await manager.start(bad, box.target(), detach=True)
        assert info.value.exit_code == 127 and manager.inspect(bad)["ExitCode"] == 127

    asyncio.run(main())


def test_events_of_an_exec(manager: ExecManager, box: Box) -> None:
    async def main() -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []

        async def listen() -> None:
            async for ev in manager.events.subscribe(filters={"container": [box.cid]}):
                got.append(ev)
                if ev["Action"] == "exec_die":
                    return

        task = asyncio.ensure_future(listen())
        await asyncio.sleep(0.01)
        await run(manager, box, {"Cmd": ["true"], **ATTACH})
        await asyncio.wait_for(task, 10)
        return got

    got = asyncio.run(main())
    assert [e["Action"] for e in got] == ["exec_create: true", "exec_start: true", "exec_die"]
    attrs = got[2]["Actor"]["Attributes"]
    assert attrs["exitCode"] == "0" and attrs["name"] == "box" and attrs["team"] == "x" and attrs["execID"]


def test_create_checks(manager: ExecManager, box: Box) -> None:
    with pytest.raises(Conflict, match=f"^container {box.cid} is not running$"):
        manager.create(box.target("exited"), {"Cmd": ["true"]})
    with pytest.raises(Conflict, match="is paused, unpause the container before exec"):
        manager.create(box.target("paused"), {"Cmd": ["true"]})
    with pytest.raises(InvalidArgument, match="No exec command specified"):
        manager.create(box.target(), {"Cmd": []})
    with pytest.raises(InvalidArgument, match="not an absolute path"):
        manager.create(box.target(), {"Cmd": ["true"], "WorkingDir": "tmp"})
    with pytest.raises(NotFound, match="No such exec instance: abc"):
        manager.inspect("abc")


def test_probe_output_and_timeout(manager: ExecManager, box: Box) -> None:
    async def main() -> None:
        code, out = await manager.run_probe(box.target(), ["sh", "-c", "echo fine; echo warn >&2"], 10)
        # One stream, as dockerd keeps it; runc copies stdout and stderr apart, so no order here.
        assert code == 0 and sorted(out.splitlines()) == ["fine", "warn"]
        code, out = await manager.run_probe(
            box.target(), ["sh", "-c", "head -c 10000 /dev/zero | tr '\\0' a"], 10
        )
        assert code == 0 and out == "a" * 4096
        code, out = await manager.run_probe(box.target(), ["sleep", "30"], 0.5)
        assert (code, out) == (-1, "Health check exceeded timeout (500ms)")
        # The timed-out process was killed, not left running in the container.
        ps = box.runtime("ps", "--format", "json", box.cid).stdout
        assert len(json.loads(ps)) == 1
        assert manager.list_for(box.cid) == []

    asyncio.run(main())


def test_merge_env_replaces_in_place() -> None:
    assert merge_env(["A=1", "B=2"], ["B=3", "C=4"]) == ["A=1", "B=3", "C=4"]
    assert merge_env(["A=1", "B=2"], ["A"]) == ["B=2"]


def test_slow_reader_gets_all_output(manager: ExecManager, box: Box) -> None:
    async def main() -> None:
        exec_id = manager.create(box.target(), {"Cmd": ["head", "-c", "3000000", "/dev/zero"], **ATTACH})
        session = await manager.start(exec_id, box.target(), detach=False)
        await asyncio.sleep(1.5)  # the process is held up by the full queue, not its output lost
        total = sum(len(p) for s, p in Demuxer().feed(await read_all(session)) if s == 1)
        assert total == 3_000_000 and await session.wait() == 0

    asyncio.run(main())


# runc in the foreground copies the process's output through pipes of its own and waits for
# them to close: with runc the stream lasts as long as the background child.
@pytest.mark.parametrize("runtime", ["dockyard"], indirect=True)
def test_background_child_does_not_hold_the_stream(manager: ExecManager, box: Box) -> None:
    async def main() -> float:
        t0 = time.monotonic()
        data, code, _ = await run(manager, box, {"Cmd": ["sh", "-c", "sleep 30 & echo started"], **ATTACH})
        assert (code, streams(data)) == (0, {1: b"started\n"})
        return time.monotonic() - t0

    assert asyncio.run(main()) < 10
