"""Bad input never crashes the daemon (issue 3, "Must show" 4).

Malformed JSON, unknown and removed containers, bad image references, bad limits, a name already
in use, a hijacked attach stream the client drops, a client that hangs up in the middle of a
pull, garbage and oversized request lines: each gets Docker's status and message (or a closed
connection), and afterwards the daemon still answers /_ping and its process is alive (checked
after every test by an autouse fixture). The daemon is this module's own, so a crash here cannot
take other modules' tests down with it.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import struct
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from tests.compat.engines import unique, wait_for
from tests.daemon_harness import DOCKER_CLI, DockyardDaemon

pytestmark = [pytest.mark.root]

API = "/v1.45"


@pytest.fixture(scope="module")
def d() -> Iterator[DockyardDaemon]:
    with DockyardDaemon() as daemon:
        daemon.bootstrap()
        yield daemon


@pytest.fixture(autouse=True)
def still_alive(d: DockyardDaemon) -> Iterator[None]:
    yield
    assert d.proc is not None and d.proc.poll() is None, f"the daemon died:\n{d.log()}"
    assert d.ping(), f"the daemon no longer answers /_ping:\n{d.log()}"
    status, body = call(d, "GET", "/_ping")
    assert (status, body) == (200, b"OK"), (status, body)


# ---------------------------------------------------------------- plain HTTP


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._unix_path)
        self.sock = sock


def call(
    d: DockyardDaemon, method: str, path: str, body: bytes | None = None, timeout: float = 60.0
) -> tuple[int, bytes]:
    conn = _UnixConnection(str(d.socket), timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, API + path, body=body, headers=headers)
        res = conn.getresponse()
        return res.status, res.read()
    finally:
        conn.close()


def call_json(d: DockyardDaemon, method: str, path: str, body: object = None, expect: int = 200) -> Any:
    status, data = call(d, method, path, None if body is None else json.dumps(body).encode())
    assert status == expect, f"{method} {path}: HTTP {status}, expected {expect}: {data[:500]!r}\n{d.log()}"
    return json.loads(data) if data.strip() else None


def error_of(d: DockyardDaemon, method: str, path: str, body: bytes | None, expect: int) -> str:
    """The `message` of an error answer, after checking its status and that it is Docker's JSON."""
    status, data = call(d, method, path, body)
    assert status == expect, f"{method} {path}: HTTP {status}, expected {expect}: {data[:500]!r}"
    doc = json.loads(data)
    assert set(doc) == {"message"} and isinstance(doc["message"], str), doc
    return str(doc["message"])


def raw_exchange(d: DockyardDaemon, payload: bytes, timeout: float = 10.0, half_close: bool = True) -> bytes:
    """Send raw bytes (and half-close), read until the daemon closes or goes quiet."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(d.socket))
        try:
            s.sendall(payload)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the daemon may answer and stop reading before it has read everything: fine
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return out
    finally:
        s.close()


def q(**params: object) -> str:
    return "?" + urllib.parse.urlencode({k: str(v) for k, v in params.items()})


def run_detached(d: DockyardDaemon, *cmd: str, name: str | None = None) -> str:
    args = ["run", "-d"] + (["--name", name] if name else []) + ["busybox", *cmd]
    return d.docker(*args).stdout.strip()


# ---------------------------------------------------------------- bad requests


def test_malformed_json_on_create_is_400(d: DockyardDaemon) -> None:
    for body in (b'{"Image": "busybox",', b"not json at all", b"[1, 2, 3]", b'"a string"', b"\xff\xfe\x00"):
        message = error_of(d, "POST", "/containers/create", body, 400)
        assert message, body
    # Right JSON, wrong types: dockerd's decoder refuses them with 400 too.
    for body in (b'{"Image": 5}', b'{"Image": "busybox", "Cmd": "true", "HostConfig": {"Memory": "abc"}}',
                 b'{"Image": "busybox", "Env": {"A": "1"}}'):  # fmt: skip
        error_of(d, "POST", "/containers/create", body, 400)


def test_unknown_container_is_404_everywhere(d: DockyardDaemon) -> None:
    ghost = unique("ghost")
    cases = [
        ("GET", f"/containers/{ghost}/json", None),
        ("POST", f"/containers/{ghost}/start", None),
        ("POST", f"/containers/{ghost}/stop", None),
        ("POST", f"/containers/{ghost}/kill", None),
        ("POST", f"/containers/{ghost}/wait", None),
        ("GET", f"/containers/{ghost}/logs?stdout=1", None),
        ("GET", f"/containers/{ghost}/top", None),
        ("DELETE", f"/containers/{ghost}", None),
        ("POST", f"/containers/{ghost}/exec", b'{"Cmd": ["true"]}'),
        ("POST", f"/containers/{ghost}/rename?name={ghost}2", None),
        ("GET", f"/containers/{ghost}/archive?path=/", None),
    ]
    for method, path, body in cases:
        message = error_of(d, method, path, body, 404)
        assert message == f"No such container: {ghost}", (method, path, message)


def test_bad_image_reference_is_400(d: DockyardDaemon) -> None:
    # "UPPER/case" would be valid: an upper-case first component is a registry host (as in
    # distribution/reference); a single upper-case name is not.
    for ref in ("Not//Valid::ref", "UPPERCASE", "library/Busybox", "busybox:bad tag", ":latest"):
        body = json.dumps({"Image": ref, "Cmd": ["true"]}).encode()
        message = error_of(d, "POST", "/containers/create", body, 400)
        assert "invalid reference format" in message, (ref, message)
    message = error_of(d, "POST", "/images/create?fromImage=Not//Valid::ref", None, 400)
    assert "invalid reference format" in message
    res = d.docker("run", "--rm", "Not//Valid::ref", "true", check=False)
    assert res.returncode == 125 and "invalid reference format" in res.stderr, res


def test_missing_image_is_404(d: DockyardDaemon) -> None:
    body = json.dumps({"Image": f"{unique('nosuch')}:v1", "Cmd": ["true"]}).encode()
    assert "No such image: " in error_of(d, "POST", "/containers/create", body, 404)


@pytest.mark.parametrize("cli", ["docker", "dockyard"])
def test_memory_abc_via_the_cli_exits_125(d: DockyardDaemon, cli: str) -> None:
    name = unique("memabc")
    run = d.docker if cli == "docker" else d.dockyard
    res = run("run", "--rm", "--name", name, "--memory", "abc", "busybox", "true", check=False)
    assert res.returncode == 125, res
    assert "abc" in res.stderr, res.stderr
    assert name not in d.docker("ps", "-a", "--format", "{{.Names}}").stdout.split()


def test_name_already_in_use_is_409(d: DockyardDaemon) -> None:
    name = unique("dup")
    cid = d.docker("create", "--name", name, "busybox", "true").stdout.strip()
    try:
        body = json.dumps({"Image": "busybox", "Cmd": ["true"]}).encode()
        message = error_of(d, "POST", f"/containers/create{q(name=name)}", body, 409)
        assert f'The container name "/{name}" is already in use by container "{cid}"' in message, message
        res = d.docker("run", "--name", name, "busybox", "true", check=False)
        assert res.returncode == 125 and "is already in use" in res.stderr
        other = d.docker("create", "busybox", "true").stdout.strip()
        try:
            assert "already in use" in error_of(
                d, "POST", f"/containers/{other}/rename{q(name=name)}", None, 409
            )
        finally:
            d.docker("rm", other)
    finally:
        d.docker("rm", "-f", cid)


def test_removed_container_id_is_404(d: DockyardDaemon) -> None:
    cid = d.docker("create", "busybox", "true").stdout.strip()
    d.docker("rm", cid)
    for ref in (cid, cid[:12]):
        assert error_of(d, "GET", f"/containers/{ref}/json", None, 404) == f"No such container: {ref}"
        assert error_of(d, "POST", f"/containers/{ref}/start", None, 404) == f"No such container: {ref}"
        assert error_of(d, "DELETE", f"/containers/{ref}", None, 404) == f"No such container: {ref}"
    assert call(d, "DELETE", f"/containers/{cid}?force=1")[0] == 404
    res = d.docker("start", cid, check=False)
    assert res.returncode != 0 and "No such container" in res.stderr


def test_bad_query_values_are_400(d: DockyardDaemon) -> None:
    error_of(d, "GET", "/containers/json?filters=%7Bnot-json", None, 400)
    error_of(d, "GET", "/containers/json?filters=" + urllib.parse.quote('{"bogus":["x"]}'), None, 400)
    error_of(d, "GET", "/images/json?filters=" + urllib.parse.quote('{"dangling":["maybe"]}'), None, 400)


def test_unknown_path_and_future_api_version(d: DockyardDaemon) -> None:
    status, _ = call(d, "GET", "/no/such/endpoint")
    assert status == 404
    status, data = raw_exchange_status(d, b"GET /v9.99/version HTTP/1.0\r\n\r\n")
    assert status == 400 and b"9.99" in data


def raw_exchange_status(d: DockyardDaemon, payload: bytes) -> tuple[int, bytes]:
    out = raw_exchange(d, payload, half_close=False)
    assert out, f"no answer to {payload!r}"
    head = out.split(b"\r\n", 1)[0].split()
    return int(head[1]), out


# ---------------------------------------------------------------- broken connections


def test_garbage_and_huge_request_lines(d: DockyardDaemon) -> None:
    # (what is sent, whether a 2xx answer would be acceptable)
    cases = [
        (b"\x00\x01\x02\x03garbage\xff\r\n\r\n", False),
        (b"NOT-HTTP\r\n\r\n", False),
        (b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", False),  # a 100 kB request line
        (b"A" * 1_000_000, False),  # a megabyte without a line end
        (b"GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 200_000 + b"\r\n\r\n", False),
        (b"GET /_ping HTTP/1.1\r\nHost: x\r\n" + b"X-Many: 1\r\n" * 20_000 + b"\r\n", True),
        (b'POST /v1.45/containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\n{"Ima', False),
        (
            b"POST /v1.45/containers/create HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\nbad\r\n",
            False,
        ),
        (b"GET /_ping HTTP/9.9\r\n\r\n", False),
    ]
    for payload, may_succeed in cases:
        out = raw_exchange(d, payload, timeout=2)
        # An HTTP error or a closed connection; never a 5xx (the daemon failing inside), never a
        # hang, and no 2xx for garbage.
        if out:
            line = out.split(b"\r\n", 1)[0]
            assert line.startswith(b"HTTP/1."), (payload[:40], out[:200])
            status = int(line.split()[1])
            assert status < 500, (payload[:40], out[:300])
            assert may_succeed or status >= 400, (payload[:40], out[:300])
        assert d.ping(), f"no /_ping after {payload[:40]!r}:\n{d.log()}"


def test_many_half_open_connections(d: DockyardDaemon) -> None:
    """Connections that send half a request and stall do not block other clients."""
    stalled = []
    try:
        for _ in range(50):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(d.socket))
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n")
            stalled.append(s)
        assert call(d, "GET", "/version", timeout=10)[0] == 200
    finally:
        for s in stalled:
            s.close()


def _attach(d: DockyardDaemon, cid: str, params: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(str(d.socket))
    s.sendall(
        f"POST {API}/containers/{cid}/attach?{params} HTTP/1.1\r\nHost: docker\r\n"
        "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        assert chunk, "the daemon closed the attach before answering"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101 "), head
    return s


def _abort(s: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0) rather than a clean FIN: the rudest hang-up."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def _log_count(d: DockyardDaemon, cid: str) -> int:
    return len(d.docker("logs", cid).stdout.splitlines())


def test_interrupted_attach_stream(d: DockyardDaemon) -> None:
    script = "i=0; while true; do echo line$i; i=$((i+1)); sleep 0.02; done"
    cid = run_detached(d, "sh", "-c", script)
    try:
        attaches = [
            ("stream=1&stdout=1&stderr=1", False),
            ("stream=1&stdout=1&stderr=1&logs=1", True),
            ("stream=1&stdin=1&stdout=1", True),
        ]
        for params, rude in attaches:
            s = _attach(d, cid, params)
            got = b""
            while got.count(b"line") < 5:
                chunk = s.recv(4096)
                assert chunk, "the attach stream ended early"
                got += chunk
            _abort(s) if rude else s.close()
            time.sleep(0.2)
            state = call_json(d, "GET", f"/containers/{cid}/json")["State"]
            assert state["Running"] is True, state
        # The container keeps running and logging, the daemon keeps its output flowing.
        before = _log_count(d, cid)
        wait_for(lambda: _log_count(d, cid) > before + 10, 10, "more log lines after the hang-ups")
        # A stdin attach hang-up does not close the container's stdin for a later attach (no
        # StdinOnce): an interactive container is still there and reading.
        cat = d.docker("run", "-d", "-i", "busybox", "cat").stdout.strip()
        try:
            s = _attach(d, cat, "stream=1&stdin=1&stdout=1")
            s.sendall(b"first\n")
            wait_for(lambda: b"first" in _readable(s), 10, "the echo of the first attach")
            _abort(s)
            time.sleep(0.2)
            assert call_json(d, "GET", f"/containers/{cat}/json")["State"]["Running"] is True
            s = _attach(d, cat, "stream=1&stdin=1&stdout=1")
            s.sendall(b"second\n")
            wait_for(lambda: b"second" in _readable(s), 10, "the echo of the second attach")
            s.close()
        finally:
            d.docker("rm", "-f", cat)
    finally:
        d.docker("rm", "-f", cid)


def _readable(s: socket.socket) -> bytes:
    out = b""
    while select.select([s], [], [], 0.05)[0]:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    return out


def test_interrupted_logs_follow_and_exec_stream(d: DockyardDaemon) -> None:
    cid = run_detached(d, "sh", "-c", "while true; do echo tick; sleep 0.02; done")
    try:
        for _ in range(3):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(str(d.socket))
            s.sendall(
                f"GET {API}/containers/{cid}/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: x\r\n\r\n".encode()
            )
            got = b""
            while got.count(b"tick") < 5:
                got += s.recv(4096)
            _abort(s)
        loop = {"Cmd": ["sh", "-c", "while true; do echo e; sleep 0.01; done"], "AttachStdout": True}
        exec_id = call_json(d, "POST", f"/containers/{cid}/exec", loop, expect=201)["Id"]
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(str(d.socket))
        body = b'{"Detach": false, "Tty": false}'
        head = (
            f"POST {API}/exec/{exec_id}/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        s.sendall(head.encode() + body)
        got = b""
        while got.count(b"e\n") < 5:
            got += s.recv(4096)
        _abort(s)
        assert call_json(d, "GET", f"/containers/{cid}/json")["State"]["Running"] is True
        assert d.docker("exec", cid, "echo", "still").stdout == "still\n"
    finally:
        d.docker("rm", "-f", cid)


# ---------------------------------------------------------------- a pull the client abandons


class ThrottlingProxy:
    """A TCP proxy on loopback in front of the reference registry that sends the registry's
    answers in small slices, so a pull through it lasts long enough to be interrupted."""

    def __init__(self, target: str, slice_bytes: int = 16384, pause: float = 0.05) -> None:
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.slice_bytes = slice_bytes
        self.pause = pause
        self.throttle = True
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.sockets: list[socket.socket] = []
        self._accept_thread = threading.Thread(target=self._accept, daemon=True)
        self._accept_thread.start()

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.target, timeout=30)
            self.sockets += [client, upstream]
            for src, dst, slow in ((client, upstream, False), (upstream, client, True)):
                t = threading.Thread(target=self._pipe, args=(src, dst, slow), daemon=True)
                t.start()
                self.threads.append(t)

    def _pipe(self, src: socket.socket, dst: socket.socket, slow: bool) -> None:
        try:
            while not self.stopping.is_set():
                data = src.recv(self.slice_bytes if slow else 65536)
                if not data:
                    break
                dst.sendall(data)
                if slow and self.throttle:
                    time.sleep(self.pause)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.stopping.set()
        self.listener.close()
        for s in self.sockets:
            s.close()
        self._accept_thread.join(5)
        for t in self.threads:
            t.join(5)


def test_client_disconnects_mid_pull(d: DockyardDaemon, reference_registry: str) -> None:
    proxy = ThrottlingProxy(reference_registry)
    ref = f"{proxy.address}/library/pulled"
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(str(d.socket))
        s.sendall(f"POST {API}/images/create?fromImage={ref}&tag=1 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        got = b""
        while b"Downloading" not in got and b"Pulling fs layer" not in got:
            chunk = s.recv(4096)
            assert chunk, f"the pull ended before any layer progress: {got!r}"
            got += chunk
        assert b" 200 " in got.split(b"\r\n", 1)[0], got[:300]
        _abort(s)
        # The throttled layer takes seconds: the image cannot be complete yet (really mid-pull).
        assert call(d, "GET", f"/images/{ref}:1/json")[0] == 404
        # While the abandoned pull winds down the daemon keeps serving.
        for _ in range(5):
            assert call(d, "GET", "/version", timeout=10)[0] == 200
            time.sleep(0.1)
        proxy.throttle = False
        # A later pull of the same image succeeds and the image runs.
        out = d.docker("pull", f"{ref}:1", timeout=120).stdout
        assert f"{ref}:1" in out
        assert d.docker("run", "--rm", f"{ref}:1", "echo", "pulled").stdout == "pulled\n"
        d.docker("rmi", f"{ref}:1")
    finally:
        proxy.close()
        d.docker("rmi", f"{ref}:1", check=False)


def test_docker_cli_killed_mid_pull(d: DockyardDaemon, reference_registry: str) -> None:
    """The docker CLI itself killed during a pull (its connection dropped by the kernel)."""
    proxy = ThrottlingProxy(reference_registry, slice_bytes=8192, pause=0.05)
    ref = f"{proxy.address}/library/pulled:1"
    try:
        cli = subprocess.Popen([DOCKER_CLI, "pull", ref], env=d.env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)  # fmt: skip
        assert cli.stdout is not None
        first = cli.stdout.readline()
        assert first, "docker pull printed nothing"
        cli.kill()
        cli.wait()
        cli.stdout.close()
        assert call(d, "GET", "/version", timeout=10)[0] == 200
        proxy.throttle = False
        d.docker("pull", ref, timeout=120)
        assert d.docker("run", "--rm", ref, "true").returncode == 0
    finally:
        proxy.close()
        d.docker("rmi", ref, check=False)
