"""The shim's small parts: stdcopy framing, its state helpers, its event loop."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from dockyard.engine import shim_state as st
from dockyard.engine.shim_loop import IN, Loop
from dockyard.engine.stdcopy import STDERR, STDOUT, Demuxer, demux, frame

# ---------------------------------------------------------------- stdcopy


def test_frame_header() -> None:
    assert frame(STDOUT, b"hi\n") == b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"
    assert frame(STDERR, b"") == b"\x02\x00\x00\x00\x00\x00\x00\x00"
    assert frame(STDOUT, b"x" * 70000)[4:8] == (70000).to_bytes(4, "big")


def test_demuxer_takes_any_cut() -> None:
    data = frame(STDOUT, b"one") + frame(STDERR, b"two\n") + frame(STDOUT, b"x" * 300)
    want = [(STDOUT, b"one"), (STDERR, b"two\n"), (STDOUT, b"x" * 300)]
    for cut in range(1, 17):
        d = Demuxer()
        got = []
        for i in range(0, len(data), cut):
            got += d.feed(data[i : i + cut])
        assert got == want and d.pending == 0


def test_demux_refuses_raw_and_short_data() -> None:
    with pytest.raises(ValueError, match="not multiplexed"):
        demux(b"hello world, raw tty output")
    with pytest.raises(ValueError, match="trailing"):
        demux(frame(STDOUT, b"abc")[:-1])


# ---------------------------------------------------------------- state helpers


def test_start_time_tells_a_process_from_a_reused_pid() -> None:
    proc = subprocess.Popen(["sleep", "10"])
    try:
        started = st.start_time(proc.pid)
        assert started is not None and st.alive(proc.pid, started)
        assert not st.alive(proc.pid, started + 1)  # same pid, another process
    finally:
        proc.kill()
    # Killed but not reaped: a zombie has exited.
    time.sleep(0.05)
    assert not st.alive(proc.pid, started)
    proc.wait()
    assert st.start_time(proc.pid) is None and not st.alive(proc.pid, started)


def test_start_time_of_a_process_with_parens_in_its_name(tmp_path: Path) -> None:
    exe = tmp_path / "we ird) (name"
    os.symlink("/bin/sleep", exe)
    proc = subprocess.Popen([str(exe), "10"])
    try:
        with open("/proc/self/stat") as f:
            own = int(f.read().rsplit(")", 1)[1].split()[19])
        assert st.start_time(proc.pid) is not None
        assert st.start_time(os.getpid()) == own
    finally:
        proc.kill()
        proc.wait()


def test_unix_path_goes_through_proc_when_too_long(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 50) / ("y" * 50)
    deep.mkdir(parents=True)
    path = str(deep / "shim.sock")
    assert st.needs_dir_fd(path)
    dir_fd = os.open(deep, os.O_PATH | os.O_DIRECTORY)
    try:
        short = st.unix_path(path, dir_fd)
        assert short == f"/proc/self/fd/{dir_fd}/shim.sock"
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(short)
            server.listen(1)
            assert os.path.exists(path)  # the socket is where the long name says
            with socket.socket(socket.AF_UNIX) as client:
                client.connect(short)
    finally:
        os.close(dir_fd)
    assert st.unix_path("/run/x/shim.sock", 5) == "/run/x/shim.sock"


def test_read_json(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"pid": 5}')
    (tmp_path / "b.json").write_text("[1, 2]")
    (tmp_path / "c.json").write_text("{torn")
    assert st.read_json(str(tmp_path / "a.json")) == {"pid": 5}
    assert st.read_json(str(tmp_path / "b.json")) is None
    assert st.read_json(str(tmp_path / "c.json")) is None
    assert st.read_json(str(tmp_path / "none.json")) is None


# ---------------------------------------------------------------- the loop


def test_loop_reaps_children_and_keeps_early_statuses() -> None:
    loop = Loop()
    try:
        fast = subprocess.Popen(["sh", "-c", "exit 7"])
        time.sleep(0.1)
        loop.reap()  # reaped before anyone asked: kept
        got: dict[str, int] = {}
        loop.watch_child(fast.pid, lambda s: got.__setitem__("fast", os.waitstatus_to_exitcode(s)))
        assert got == {"fast": 7}
        slow = subprocess.Popen(["sh", "-c", "sleep 0.1; kill -TERM $$"])

        def on_slow(status: int) -> None:
            got["slow"] = os.waitstatus_to_exitcode(status)
            loop.running = False

        loop.watch_child(slow.pid, on_slow)
        loop.call_later(10, lambda: setattr(loop, "running", False))
        loop.run()  # woken by SIGCHLD through the wakeup fd
        assert got["slow"] == -15
        fast.returncode = slow.returncode = 0  # reaped by the loop: keep Popen from waiting
    finally:
        loop.close()


def test_loop_timers_and_fds() -> None:
    loop = Loop()
    a, b = socket.socketpair()
    order: list[str] = []
    try:
        loop.call_later(0.05, lambda: order.append("late"))
        loop.call_later(0.0, lambda: order.append("soon"))

        def readable(_ev: int) -> None:
            order.append(a.recv(10).decode())
            loop.remove(a.fileno())

        loop.add(a.fileno(), IN, readable)
        b.send(b"fd")
        loop.call_later(0.1, lambda: setattr(loop, "running", False))
        loop.run()
        assert order[-1] == "late" and set(order) == {"soon", "fd", "late"}
    finally:
        a.close()
        b.close()
        loop.close()


def test_loop_survives_a_handler_that_raises() -> None:
    loop = Loop()
    a, b = socket.socketpair()
    errors: list[BaseException] = []
    loop.on_error = errors.append
    try:

        def broken(_ev: int) -> None:
            raise RuntimeError("bug")

        loop.add(a.fileno(), IN, broken)
        b.send(b"x")  # level-triggered: it would raise on every wait if it stayed
        loop.call_later(0.05, lambda: setattr(loop, "running", False))
        loop.run()
        assert [str(e) for e in errors] == ["bug"]
        assert not loop.watching(a.fileno())
    finally:
        a.close()
        b.close()
        loop.close()
