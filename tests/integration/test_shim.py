"""The shim with real containers: busybox bundles run by dockyard-runtime (and runc).

Every test starts its containers through :func:`dockyard.engine.shim.start_shim`, runs
``<runtime> start`` itself as the engine does, and checks what a daemon sees: the attach stream
(stdcopy frames, or raw bytes with a TTY), the json-file log, exit.json through ``Shim.wait``.
The fixture force-deletes every container and waits for every shim process to be gone.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from dockyard.engine import shim as shim_mod
from dockyard.engine.shim import ExitStatus, Shim, ShimSpec, start_shim
from dockyard.engine.stdcopy import STDERR, STDOUT, Demuxer
from dockyard.errors import Conflict, SystemFailure
from tests.conftest import RUNTIMES, BundleFactory, mounts_under, remove_tree

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="containers need root (CI runs as root)")

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
    """Run a test's coroutine with a bound: a hung stream fails the test instead of the run."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def wait_gone(pid: int, timeout: float = 10) -> bool:
    """True once ``pid`` has exited (a zombie counts: init reaps orphans when it likes)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


@dataclass
class Env:
    """Containers made through shims, with a private runtime --root; cleaned up by the fixture."""

    runtime_path: str
    top: Path
    bundle: BundleFactory
    shims: list[Shim] = field(default_factory=list)
    cids: list[str] = field(default_factory=list)
    count: int = 0

    @property
    def root(self) -> str:
        return str(self.top / "root")

    @property
    def runtime(self) -> list[str]:
        return [self.runtime_path, "--root", self.root]

    def spec(
        self,
        args: Sequence[str],
        *,
        terminal: bool = False,
        state_dir: Path | None = None,
        log: bool = True,
        **kw: Any,
    ) -> ShimSpec:
        self.count += 1
        cid = f"shim-{os.getpid()}-{self.count}"
        self.cids.append(cid)
        state = state_dir or self.top / "state" / cid
        return ShimSpec(
            cid=cid,
            bundle=Path(self.bundle(list(args), terminal=terminal)),
            state_dir=state,
            runtime=self.runtime,
            tty=terminal,
            open_stdin=kw.pop("open_stdin", False),
            stdin_once=kw.pop("stdin_once", False),
            log_path=state / f"{cid}-json.log" if log else None,
            **kw,
        )

    async def start(self, spec: ShimSpec) -> Shim:
        shim = await start_shim(spec)
        self.shims.append(shim)
        return shim

    def rt(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.runtime, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30
        )

    def begin(self, cid: str) -> None:
        """``<runtime> start``, as the engine runs it once the attach streams are connected."""
        proc = self.rt("start", cid)
        assert proc.returncode == 0, proc.stderr

    def cleanup(self) -> None:
        for cid in self.cids:
            self.rt("delete", "--force", cid)  # gone already for most: that fails, fine
        for shim in self.shims:
            shim.kill()
        # Shim processes take no more containers: each exits once its containers did.
        shim_mod.stop_zygote()
        for shim in self.shims:
            assert wait_gone(shim.pid), f"shim {shim.pid} still runs"


@pytest.fixture(params=["dockyard"])
def env(request: pytest.FixtureRequest, bundle: BundleFactory) -> Iterator[Env]:
    path = RUNTIMES[request.param]
    if path is None:
        pytest.fail(f"runtime {request.param} is not installed (./scripts/test.sh installs it)")
    top = Path(f"/tmp/dy-shim-{os.getpid()}-{time.monotonic_ns()}")
    top.mkdir()
    e = Env(path, top, bundle)
    try:
        yield e
    finally:
        try:
            e.cleanup()
        finally:
            shim_mod.configure()  # the defaults, and no process left taking containers
            remove_tree(str(top))


both = pytest.mark.parametrize("env", ["dockyard", "runc"], indirect=True)


async def read_all(reader: asyncio.StreamReader) -> bytes:
    return await reader.read()


def frames(data: bytes) -> list[tuple[int, bytes]]:
    out = Demuxer().feed(data)
    return out


def joined(data: bytes, stream: int) -> bytes:
    return b"".join(p for s, p in frames(data) if s == stream)


def log_entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---------------------------------------------------------------- output, log, exit


@both
def test_output_reaches_log_and_attach_as_frames(env: Env) -> None:
    spec = env.spec(["sh", "-c", "echo out; echo err >&2; echo out2"])

    async def main() -> tuple[bytes, ExitStatus]:
        shim = await env.start(spec)
        reader, writer = await shim.attach(stdin=False, stdout=True, stderr=True)
        env.begin(spec.cid)
        data = await read_all(reader)
        writer.close()
        return data, await shim.wait()

    data, status = run(main())
    assert status.code == 0 and not status.oom_killed
    assert status.finished_at.endswith("Z") and len(status.finished_at) == 30
    assert joined(data, STDOUT) == b"out\nout2\n"
    assert joined(data, STDERR) == b"err\n"
    assert spec.log_path is not None
    entries = log_entries(spec.log_path)
    assert [(e["stream"], e["log"]) for e in entries if e["stream"] == "stdout"] == [
        ("stdout", "out\n"),
        ("stdout", "out2\n"),
    ]
    assert [e["log"] for e in entries if e["stream"] == "stderr"] == ["err\n"]
    assert all(set(e) == {"log", "stream", "time"} for e in entries)
    assert (spec.state_dir / "exit.json").exists()
    assert not (spec.state_dir / "shim.sock").exists()


@pytest.mark.parametrize(("script", "code"), [("exit 0", 0), ("exit 3", 3)])
def test_exit_codes(env: Env, script: str, code: int) -> None:
    spec = env.spec(["sh", "-c", script])

    async def main() -> ExitStatus:
        shim = await env.start(spec)
        env.begin(spec.cid)
        return await shim.wait()

    assert run(main()).code == code


def test_killed_from_outside_is_137(env: Env) -> None:
    # From outside: the init of a pid namespace ignores SIGKILL sent from inside it.
    spec = env.spec(["sleep", "1000"])

    async def main() -> ExitStatus:
        shim = await env.start(spec)
        env.begin(spec.cid)
        assert env.rt("kill", spec.cid, "KILL").returncode == 0
        return await shim.wait()

    assert run(main()).code == 137


@both
def test_create_failure_keeps_the_runtimes_message(env: Env) -> None:
    spec = env.spec(["nope"])
    with pytest.raises(SystemFailure) as err:
        run(env.start(spec))
    assert 'exec: "nope": executable file not found in $PATH' in str(err.value)
    assert not (spec.state_dir / "shim.sock").exists()
    assert not (spec.state_dir / "exit.json").exists()


def test_missing_runtime_is_named(env: Env) -> None:
    spec = env.spec(["true"])
    spec.runtime = [str(env.top / "no-such-runtime")]
    with pytest.raises(SystemFailure, match="no-such-runtime"):
        run(env.start(spec))


# ---------------------------------------------------------------- stdin, tty


def test_stdin_through_attach_and_stdin_once(env: Env) -> None:
    spec = env.spec(["cat"], open_stdin=True, stdin_once=True)

    async def main() -> tuple[bytes, ExitStatus]:
        shim = await env.start(spec)
        reader, writer = await shim.attach(stdin=True, stdout=True, stderr=True)
        env.begin(spec.cid)
        writer.write(b"hello\n")
        await writer.drain()
        first = await reader.readexactly(8 + 6)
        writer.write(b"world\n")
        await writer.drain()
        writer.write_eof()  # StdinOnce: cat sees the end of its input and exits
        rest = await read_all(reader)
        writer.close()
        return first + rest, await shim.wait()

    data, status = run(main())
    assert joined(data, STDOUT) == b"hello\nworld\n"
    assert status.code == 0


def test_stdin_stays_open_without_stdin_once(env: Env) -> None:
    spec = env.spec(["cat"], open_stdin=True, stdin_once=False)

    async def main() -> tuple[bytes, bytes, ExitStatus]:
        shim = await env.start(spec)
        r1, w1 = await shim.attach(stdin=True, stdout=True, stderr=False)
        env.begin(spec.cid)
        w1.write(b"one\n")
        w1.write_eof()
        got1 = await r1.readexactly(8 + 4)
        w1.close()
        # The first client left; cat still reads: a second client's bytes arrive.
        r2, w2 = await shim.attach(stdin=True, stdout=True, stderr=False)
        w2.write(b"two\n")
        await w2.drain()
        got2 = await r2.readexactly(8 + 4)
        w2.close()
        assert shim.exit_status() is None
        env.rt("kill", spec.cid, "KILL")
        return got1, got2, await shim.wait()

    got1, got2, status = run(main())
    assert joined(got1, STDOUT) == b"one\n" and joined(got2, STDOUT) == b"two\n"
    assert status.code == 137


def test_tty_is_raw_and_resizes(env: Env) -> None:
    spec = env.spec(
        ["sh", "-c", "stty size; read x; stty size; echo bye"],
        terminal=True,
        open_stdin=True,
        console_size=(24, 80),
    )

    async def main() -> tuple[bytes, ExitStatus]:
        shim = await env.start(spec)
        reader, writer = await shim.attach(stdin=True, stdout=True, stderr=True)
        env.begin(spec.cid)
        got = b""
        while b"24 80" not in got:
            got += await reader.read(4096)
        await shim.resize(30, 100)
        writer.write(b"go\r")
        await writer.drain()
        got += await read_all(reader)
        writer.close()
        return got, await shim.wait()

    data, status = run(main())
    assert status.code == 0
    text = data.replace(b"\r\n", b"\n")
    # Raw bytes: no stdcopy header in front (a frame would start with \x01\x00\x00\x00).
    assert text.startswith(b"24 80\n")
    assert b"30 100\nbye\n" in text
    assert spec.log_path is not None
    logged = "".join(e["log"] for e in log_entries(spec.log_path))
    assert {e["stream"] for e in log_entries(spec.log_path)} == {"stdout"}
    assert "24 80" in logged and "30 100" in logged


def test_long_state_dir_paths(env: Env) -> None:
    # sun_path holds 107 bytes: deeper state folders go through /proc/self/fd.
    deep = env.top / ("d" * 60) / ("e" * 60)
    spec = env.spec(["sh", "-c", "tty; echo done"], terminal=True, state_dir=deep / "c")
    assert len(str(spec.state_dir / "shim.sock")) > 107

    async def main() -> tuple[bytes, ExitStatus]:
        shim = await env.start(spec)
        reader, writer = await shim.attach(stdin=False, stdout=True, stderr=True)
        await shim.resize(10, 20)
        env.begin(spec.cid)
        data = await read_all(reader)
        writer.close()
        return data, await shim.wait()

    data, status = run(main())
    assert status.code == 0
    assert b"/dev/pts/" in data and b"done" in data


# ---------------------------------------------------------------- many clients, slow clients, replay


def test_many_clients_get_everything_beside_a_stalled_one(env: Env) -> None:
    # 2 MiB of output; one client never reads. The container must finish, the log and the
    # reading client must get everything.
    spec = env.spec(["sh", "-c", "yes 0123456789abcdef | head -c 2097152; echo end >&2"])

    async def main() -> tuple[bytes, bytes, ExitStatus]:
        shim = await env.start(spec)
        r_good, w_good = await shim.attach(stdin=False, stdout=True, stderr=True)
        r_err, w_err = await shim.attach(stdin=False, stdout=False, stderr=True)
        _r_stalled, w_stalled = await shim.attach(stdin=False, stdout=True, stderr=True)
        env.begin(spec.cid)
        good, only_err = await asyncio.gather(read_all(r_good), read_all(r_err))
        status = await shim.wait()
        for w in (w_good, w_err, w_stalled):
            w.close()
        return good, only_err, status

    good, only_err, status = run(main(), timeout=60)
    assert status.code == 0
    assert len(joined(good, STDOUT)) == 2 << 20
    assert joined(good, STDERR) == b"end\n"
    assert frames(only_err) == [(STDERR, b"end\n")]
    assert spec.log_path is not None
    assert sum(len(e["log"]) for e in log_entries(spec.log_path) if e["stream"] == "stdout") == 2 << 20


def test_slow_client_never_blocks_the_container(env: Env) -> None:
    spec = env.spec(["sh", "-c", "yes 0123456789abcdef | head -c 12582912"])

    async def main() -> tuple[ExitStatus, int]:
        shim = await env.start(spec)
        r_slow, w_slow = await shim.attach(stdin=False, stdout=True, stderr=True)
        env.begin(spec.cid)
        status = await shim.wait()  # returns although nobody reads the attach stream
        slow = await read_all(r_slow)
        w_slow.close()
        return status, len(slow)

    status, got = run(main(), timeout=60)
    assert status.code == 0
    assert got < 12 << 20  # dropped on the way (more than 4 MiB queued for it)


def test_attach_with_logs_replays_then_streams(env: Env) -> None:
    spec = env.spec(["sh", "-c", "echo one; echo two >&2; read x; echo three"], open_stdin=True)

    async def main() -> bytes:
        shim = await env.start(spec)
        env.begin(spec.cid)
        assert spec.log_path is not None
        for _ in range(500):
            if spec.log_path.exists() and spec.log_path.read_text().count("\n") >= 2:
                break
            await asyncio.sleep(0.01)
        reader, writer = await shim.attach(stdin=True, stdout=True, stderr=True, logs=True)
        writer.write(b"x\n")
        await writer.drain()
        data = await read_all(reader)
        writer.close()
        await shim.wait()
        return data

    got = frames(run(main()))
    # The replayed part, in the order the shim read the two pipes; then the live part.
    assert sorted(got[:2]) == [(STDOUT, b"one\n"), (STDERR, b"two\n")]
    assert got[2:] == [(STDOUT, b"three\n")]


def test_attach_after_exit_is_refused(env: Env) -> None:
    spec = env.spec(["true"])

    async def main() -> None:
        shim = await env.start(spec)
        env.begin(spec.cid)
        await shim.wait()
        with pytest.raises(Conflict, match="not running"):
            await shim.attach(stdin=False, stdout=True, stderr=True)

    run(main())


def test_log_driver_none_and_rotation(env: Env) -> None:
    none = env.spec(["sh", "-c", "echo quiet"], log=False)
    rot = env.spec(["sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line$i; i=$((i+1)); done"])
    rot.log_max_size = 2000
    rot.log_max_file = 3

    async def main() -> None:
        for spec in (none, rot):
            shim = await env.start(spec)
            env.begin(spec.cid)
            assert (await shim.wait()).code == 0

    run(main())
    assert not any(p.name.endswith(".log") for p in none.state_dir.iterdir())
    assert rot.log_path is not None
    names = sorted(p.name for p in rot.state_dir.iterdir() if "json.log" in p.name)
    assert names == [rot.log_path.name, rot.log_path.name + ".1", rot.log_path.name + ".2"]
    for p in rot.state_dir.iterdir():
        if "json.log" in p.name:
            assert p.stat().st_size <= 2000

    async def tail() -> list[bytes]:
        from dockyard.engine.logs import read_logs

        assert rot.log_path is not None
        return [data async for _, data in read_logs(rot.log_path)]

    lines = run(tail())
    # The kept files hold a contiguous end of the output.
    assert lines[-1] == b"line299\n"
    first = int(lines[0][4:-1])
    assert lines == [f"line{i}\n".encode() for i in range(first, 300)]


def test_logs_follow_a_running_container_across_rotations(env: Env) -> None:
    spec = env.spec(["sh", "-c", "i=0; while [ $i -lt 400 ]; do echo line$i; i=$((i+1)); done"])
    spec.log_max_size = 4000
    spec.log_max_file = 50  # enough files that nothing is dropped: every line must be read

    async def main() -> list[bytes]:
        from dockyard.engine.logs import read_logs

        shim = await env.start(spec)
        assert spec.log_path is not None
        follower = asyncio.create_task(_follow(read_logs, spec.log_path, shim))
        await asyncio.sleep(0.05)  # the follower waits at the end of the (empty) log
        env.begin(spec.cid)
        got = await follower
        await shim.wait()
        return got

    got = run(main())
    assert got == [f"line{i}\n".encode() for i in range(400)]
    assert spec.log_path is not None
    assert len(list(spec.state_dir.glob("*-json.log.*"))) >= 3  # it did rotate


async def _follow(read_logs: Any, path: Path, shim: Shim) -> list[bytes]:
    return [
        data
        async for _, data in read_logs(
            path, follow=True, until_exit=lambda: shim.exit_status() is not None, poll_interval=0.01
        )
    ]


# ---------------------------------------------------------------- living without the daemon


def test_reconnect_from_a_fresh_object(env: Env) -> None:
    spec = env.spec(["sh", "-c", "read x; echo got $x; exit 5"], open_stdin=True)

    async def main() -> tuple[bytes, ExitStatus]:
        first = await env.start(spec)
        env.begin(spec.cid)
        pid, init_pid = first.pid, first.init_pid
        del first  # "lost", as by a daemon that died
        again = Shim.reconnect(spec.state_dir)
        assert again is not None
        assert (again.pid, again.init_pid) == (pid, init_pid) and again.running
        reader, writer = await again.attach(stdin=True, stdout=True, stderr=True)
        writer.write(b"it\n")
        await writer.drain()
        data = await read_all(reader)
        writer.close()
        return data, await again.wait()

    data, status = run(main())
    assert joined(data, STDOUT) == b"got it\n"
    assert status.code == 5
    # After the end, a reconnect still finds the status.
    late = Shim.reconnect(spec.state_dir)
    assert late is not None and not late.running
    assert run(late.wait()).code == 5
    assert Shim.reconnect(env.top / "never") is None


_CHILD = """
import asyncio, json, os, sys
from pathlib import Path
from dockyard.engine.shim import ShimSpec, start_shim
spec = ShimSpec(**{**json.loads(sys.argv[1]), "bundle": Path(json.loads(sys.argv[1])["bundle"]),
                   "state_dir": Path(json.loads(sys.argv[1])["state_dir"]),
                   "log_path": Path(json.loads(sys.argv[1])["log_path"])})
shim = asyncio.run(start_shim(spec))
print(shim.pid, flush=True)
sys.stdin.read()  # until the test kills us
"""


def test_shim_outlives_a_killed_daemon(env: Env) -> None:
    """A "daemon" (a child process) starts the shim and is SIGKILLed; a new one reconnects."""
    spec = env.spec(["sh", "-c", "echo before; read x; echo after $x; exit 7"], open_stdin=True)
    doc = {
        "cid": spec.cid,
        "bundle": str(spec.bundle),
        "state_dir": str(spec.state_dir),
        "runtime": spec.runtime,
        "tty": False,
        "open_stdin": True,
        "stdin_once": False,
        "log_path": str(spec.log_path),
    }
    daemon = subprocess.Popen(
        [sys.executable, "-c", _CHILD, json.dumps(doc)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    try:
        assert daemon.stdout is not None
        shim_pid = int(daemon.stdout.readline())
        env.begin(spec.cid)
    finally:
        daemon.kill()
        daemon.wait()
    found = Shim.reconnect(spec.state_dir)
    assert found is not None and found.pid == shim_pid
    env.shims.append(found)
    assert found.running
    ppid = int(Path(f"/proc/{shim_pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert ppid != daemon.pid  # reparented: nobody in the dead daemon's tree

    async def main() -> tuple[bytes, ExitStatus]:
        reader, writer = await found.attach(stdin=True, stdout=True, stderr=True, logs=True)
        writer.write(b"restart\n")
        await writer.drain()
        data = await read_all(reader)
        writer.close()
        return data, await found.wait()

    data, status = run(main())
    assert joined(data, STDOUT) == b"before\nafter restart\n"
    assert status.code == 7


@pytest.mark.parametrize("group_size", [1, 16])
def test_kill_ends_the_containers_shim(env: Env, group_size: int) -> None:
    shim_mod.configure(group_size)
    spec = env.spec(["sleep", "1000"])

    async def main() -> ExitStatus:
        shim = await env.start(spec)  # created, never started: a failed `start`
        shim.kill()
        status = await shim.wait()
        shim.kill()  # idempotent
        return status

    status = run(main())
    assert status.code == 137
    assert not env.shims[0].running
    if group_size == 1:
        assert wait_gone(env.shims[0].pid)  # a process of one container ends with it
    else:
        assert not wait_gone(env.shims[0].pid, timeout=0.2)  # the spare waits for more


def test_grouped_shims_share_a_process_and_stay_apart(env: Env) -> None:
    shim_mod.configure(group_size=2)
    try:
        a = env.spec(["sh", "-c", "read x; echo a$x"], open_stdin=True)
        b = env.spec(["sh", "-c", "read x; echo b$x; exit 4"], open_stdin=True)
        c = env.spec(["true"])

        async def main() -> None:
            sa, sb = await env.start(a), await env.start(b)
            assert sa.pid == sb.pid  # one process, two containers
            sc = await env.start(c)
            assert sc.pid != sa.pid  # the group is full: a new process
            for cid in (a.cid, b.cid, c.cid):
                env.begin(cid)
            # Killing one container of the group leaves its neighbour alone.
            sa.kill()
            assert (await sa.wait()).code == 137
            assert sb.running and sb.exit_status() is None
            r, w = await sb.attach(stdin=True, stdout=True, stderr=True)
            w.write(b"!\n")
            await w.drain()
            assert joined(await read_all(r), STDOUT) == b"b!\n"
            w.close()
            assert (await sb.wait()).code == 4
            assert (await sc.wait()).code == 0
            # Both processes are empty now: one is kept as the spare, the other retired.
            pool = shim_mod._get_pool()
            for _ in range(200):
                pool.tidy()
                if len(pool.groups) == 1:
                    break
                await asyncio.sleep(0.01)
            assert len(pool.groups) == 1
            # The older process is the spare; the newer one exits.
            assert wait_gone(sc.pid, timeout=5) and not wait_gone(sa.pid, timeout=0.1)

        run(main())
    finally:
        shim_mod.configure()


def test_a_cancelled_start_kills_the_runtimes_create(env: Env) -> None:
    spec = env.spec(["true"])
    config = json.loads((spec.bundle / "config.json").read_text())
    config["hooks"] = {"prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"]}]}
    (spec.bundle / "config.json").write_text(json.dumps(config))
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        run(env.start(spec), timeout=1.0)
    # The shim killed the runtime: its create failed, its monitoring of the container ended.
    for _ in range(500):
        if not (spec.state_dir / "shim.sock").exists():
            break
        time.sleep(0.01)
    assert not (spec.state_dir / "shim.sock").exists()
    assert time.monotonic() - started < 10


def test_no_leaked_fds_processes_or_mounts(env: Env) -> None:
    # Listing opens one fd, the lowest free number: a leak shifts it to a number not seen before.
    fds_before = set(os.listdir("/proc/self/fd"))
    specs = [env.spec(["sh", "-c", "echo hi"]), env.spec(["sh", "-c", "tty"], terminal=True)]

    async def main() -> None:
        for spec in specs:
            shim = await env.start(spec)
            r, w = await shim.attach(stdin=False, stdout=True, stderr=True)
            env.begin(spec.cid)
            await read_all(r)
            w.close()
            await shim.wait()

    run(main())
    for spec in specs:
        assert env.rt("delete", spec.cid).returncode == 0
    shim_mod.stop_zygote()
    for shim in env.shims:
        assert wait_gone(shim.pid)
    assert set(os.listdir("/proc/self/fd")) <= fds_before
    assert mounts_under(str(env.top)) == []
    assert not os.listdir(env.root)
    for spec in specs:
        # Nothing of the shim is left but its records: exit.json, shim.pid, init.pid, the log.
        left = {p.name for p in spec.state_dir.iterdir()}
        assert left <= {"exit.json", "shim.pid", "init.pid", "runtime-log.json", f"{spec.cid}-json.log"}
