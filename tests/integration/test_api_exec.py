"""The exec endpoints through docker-py and a raw hijacked socket, against the engine served
in-process: create/start/inspect/resize, streams with and without a TTY, stdin, detach, the
126/127 start failures, errors with dockerd's statuses."""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import pytest

from tests.unit.engine.inproc_daemon import InprocDaemon

pytestmark = pytest.mark.root

# moby api/swagger.yaml, ExecInspect response.
EXEC_FIELDS = {
    "CanRemove", "ContainerID", "DetachKeys", "ExitCode", "ID", "OpenStderr", "OpenStdin", "OpenStdout",
    "ProcessConfig", "Running", "Pid",
}  # fmt: skip


@pytest.fixture(scope="module")
def daemon() -> Iterator[InprocDaemon]:
    with InprocDaemon() as d:
        yield d


@pytest.fixture(scope="module")
def box(daemon: InprocDaemon) -> Iterator[Any]:
    client = daemon.client()
    c = client.containers.run("busybox", ["sleep", "1000"], detach=True, name=f"exec{os.getpid()}")
    try:
        yield c
    finally:
        c.remove(force=True)
        client.close()


def test_exec_run_output_and_exit_code(box: Any) -> None:
    code, out = box.exec_run(["sh", "-c", "echo out; echo err >&2; exit 4"])
    assert code == 4 and sorted(out.splitlines()) == [b"err", b"out"]
    code, (out, err) = box.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
    assert (code, out, err) == (0, b"out\n", b"err\n")
    code, out = box.exec_run(
        ["sh", "-c", "echo $FOO; id -u; pwd"], environment={"FOO": "bar"}, user="1000", workdir="/tmp"
    )
    assert (code, out) == (0, b"bar\n1000\n/tmp\n")


def test_exec_with_a_tty(box: Any) -> None:
    code, out = box.exec_run(["sh", "-c", "tty; echo $TERM"], tty=True)
    assert code == 0 and re.fullmatch(rb"/dev/pts/\d+\nxterm\n", out.replace(b"\r\n", b"\n"))


def test_missing_binary_is_127_with_dockerds_message(box: Any) -> None:
    code, out = box.exec_run(["nope"])
    assert code == 127
    assert out == (
        b'OCI runtime exec failed: exec failed: unable to start container process: exec: "nope": '
        b"executable file not found in $PATH: unknown\r\n"
    )
    code, out = box.exec_run(["/etc"])
    assert code == 126 and b"permission denied" in out


def test_exec_inspect_and_detach(box: Any) -> None:
    api = box.client.api
    exec_id = api.exec_create(box.id, ["sh", "-c", "sleep 0.5; exit 3"])["Id"]
    assert not api.exec_start(exec_id, detach=True)  # an empty 200
    doc = api.exec_inspect(exec_id)
    assert set(doc) == EXEC_FIELDS
    assert doc["Running"] is True and doc["ExitCode"] is None and doc["ContainerID"] == box.id
    assert doc["ProcessConfig"] == {
        "tty": False,
        "entrypoint": "sh",
        "arguments": ["-c", "sleep 0.5; exit 3"],
        "privileged": False,
    }
    assert exec_id in (api.inspect_container(box.id)["ExecIDs"] or [])
    deadline = time.monotonic() + 10
    while api.exec_inspect(exec_id)["Running"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.exec_inspect(exec_id)["ExitCode"] == 3
    with pytest.raises(docker.errors.APIError, match="has already run") as info:
        api.exec_start(exec_id, detach=True)
    assert info.value.response.status_code == 409


def test_errors(daemon: InprocDaemon, box: Any) -> None:
    api = box.client.api
    with pytest.raises(docker.errors.NotFound, match="No such exec instance: nope"):
        api.exec_inspect("nope")
    with pytest.raises(docker.errors.NotFound):
        api.exec_start("nope")
    with pytest.raises(docker.errors.APIError, match="No exec command specified") as info:
        api.exec_create(box.id, [])
    assert info.value.response.status_code == 400
    stopped = box.client.containers.create("busybox", ["true"])
    try:
        with pytest.raises(docker.errors.APIError, match=f"container {stopped.id} is not running") as info:
            api.exec_create(stopped.id, ["true"])
        assert info.value.response.status_code == 409
    finally:
        stopped.remove()


def _hijack(daemon: InprocDaemon, path: str, body: dict[str, Any]) -> tuple[bytes, socket.socket]:
    data = json.dumps(body).encode()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(str(daemon.socket))
    s.sendall(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    return head, s


def _read_to_end(s: socket.socket) -> bytes:
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def test_hijacked_stdin_and_half_close(daemon: InprocDaemon, box: Any) -> None:
    api = box.client.api
    exec_id = api.exec_create(box.id, ["sh", "-c", "cat; echo done >&2"], stdin=True)["Id"]
    head, s = _hijack(daemon, f"/v1.44/exec/{exec_id}/start", {"Detach": False, "Tty": False})
    try:
        assert head.startswith(b"HTTP/1.1 101 UPGRADED\r\n")
        assert b"Content-Type: application/vnd.docker.multiplexed-stream" in head
        s.sendall(b"piped input\n")
        s.shutdown(socket.SHUT_WR)  # the client's stdin ended
        out = _read_to_end(s)
    finally:
        s.close()
    frames = []
    while out:
        stream, size = struct.unpack(">BxxxL", out[:8])
        frames.append((stream, out[8 : 8 + size]))
        out = out[8 + size :]
    assert (1, b"piped input\n") in frames and (2, b"done\n") in frames
    assert api.exec_inspect(exec_id)["ExitCode"] == 0


def test_hijacked_tty_and_resize(daemon: InprocDaemon, box: Any) -> None:
    api = box.client.api
    exec_id = api.exec_create(box.id, ["sh"], stdin=True, tty=True)["Id"]
    head, s = _hijack(
        daemon, f"/exec/{exec_id}/start", {"Detach": False, "Tty": True, "ConsoleSize": [24, 80]}
    )
    try:
        assert b"Content-Type: application/vnd.docker.raw-stream" in head
        api.exec_resize(exec_id, height=50, width=132)
        s.sendall(b"stty size; exit 6\n")
        out = _read_to_end(s)
    finally:
        s.close()
    assert b"24 80" in out or b"50 132" in out  # the size reached the terminal
    assert api.exec_inspect(exec_id)["ExitCode"] == 6
    with pytest.raises(docker.errors.NotFound):
        api.exec_resize("nope", height=1, width=1)


def test_client_leaving_keeps_the_exec_running(daemon: InprocDaemon, box: Any) -> None:
    api = box.client.api
    exec_id = api.exec_create(box.id, ["sh", "-c", "yes | head -c 20000000; sleep 0.3; exit 9"])["Id"]
    _head, s = _hijack(daemon, f"/exec/{exec_id}/start", {"Detach": False})
    s.close()
    deadline = time.monotonic() + 20
    while api.exec_inspect(exec_id)["ExitCode"] is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert api.exec_inspect(exec_id)["ExitCode"] == 9


DOCKER_CLI = "/usr/local/bin/docker"  # the docker 28 client


def test_docker_cli_exec(daemon: InprocDaemon, box: Any) -> None:
    env = dict(os.environ, DOCKER_HOST=f"unix://{daemon.socket}")

    def docker(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([DOCKER_CLI, *args], env=env, input=stdin, capture_output=True, timeout=60)

    r = docker("exec", box.name, "sh", "-c", "echo out; exit 3")
    assert (r.returncode, r.stdout) == (3, b"out\n")
    r = docker("exec", "-i", box.name, "cat", stdin=b"piped\n")
    assert (r.returncode, r.stdout) == (0, b"piped\n")
    r = docker("exec", "-u", "1000", "-w", "/tmp", "-e", "A=b", box.name, "sh", "-c", "id -u; pwd; echo $A")
    assert r.stdout == b"1000\n/tmp\nb\n"
    r = docker("exec", box.name, "nope")
    assert r.returncode == 127 and b'exec: "nope": executable file not found in $PATH' in r.stdout + r.stderr


def test_detach_keys_leave_the_exec_running(daemon: InprocDaemon, box: Any) -> None:
    api = box.client.api
    exec_id = api.exec_create(box.id, ["sh"], stdin=True, tty=True, detach_keys="ctrl-x,x")["Id"]
    _head, s = _hijack(daemon, f"/exec/{exec_id}/start", {"Detach": False, "Tty": True})
    try:
        s.sendall(b"echo before\n")
        time.sleep(0.3)
        s.sendall(b"\x18x")  # ctrl-x, x
        out = _read_to_end(s)  # the daemon closes the stream
    finally:
        s.close()
    assert b"before" in out
    doc = api.exec_inspect(exec_id)
    assert doc["Running"] is True and doc["DetachKeys"] == "ctrl-x,x"
    with pytest.raises(docker.errors.APIError, match="invalid detach keys") as info:
        api.exec_create(box.id, ["sh"], detach_keys="ctrl-xyz")
    assert info.value.response.status_code == 400


def test_start_tty_chooses_the_framing(box: Any) -> None:
    api = box.client.api
    # A terminal's output asked for without Tty at start comes as stdout frames (docker-py reads them).
    exec_id = api.exec_create(box.id, ["sh", "-c", "tty"], tty=True)["Id"]
    assert re.fullmatch(rb"/dev/pts/\d+\r\n", api.exec_start(exec_id, tty=False))
    # Pipes asked for with Tty come raw, stdout and stderr as one stream.
    exec_id = api.exec_create(box.id, ["sh", "-c", "echo a; sleep 0.1; echo b >&2"])["Id"]
    assert api.exec_start(exec_id, tty=True) == b"a\nb\n"
