"""The container endpoints through docker-py and raw HTTP against the engine served in-process
(tests/unit/engine/inproc_daemon.py): lifecycle, errors with dockerd's statuses and messages,
inspect/list shapes, attach (hijacked and plain), logs, wait conditions, restart policies.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from tests.unit.engine.inproc_daemon import InprocDaemon

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def daemon() -> Iterator[InprocDaemon]:
    with InprocDaemon() as d:
        yield d


@pytest.fixture
def client(daemon: InprocDaemon) -> Iterator[Any]:
    c = daemon.client()
    before = {x.id for x in c.containers.list(all=True)}
    try:
        yield c
    finally:
        for x in c.containers.list(all=True):
            if x.id not in before:
                x.remove(force=True)
        c.close()


def unique(prefix: str) -> str:
    return f"{prefix}{os.getpid()}_{time.monotonic_ns() % 10**9}"


def raw(daemon: InprocDaemon, method: str, path: str, body: Any = None) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.0 request on the socket (no keep-alive): status, headers, body."""
    data = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Length: {len(data)}\r\n"
    if body is not None:
        head += "Content-Type: application/json\r\n"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    try:
        s.connect(str(daemon.socket))
        s.sendall(head.encode() + b"\r\n" + data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    finally:
        s.close()
    response = b"".join(chunks)
    header_blob, _, payload = response.partition(b"\r\n\r\n")
    lines = header_blob.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, payload


# ---------------------------------------------------------------- run, logs, wait


def test_run_prints_and_exit_code(client: Any) -> None:
    out = client.containers.run("busybox", ["sh", "-c", "echo hello; echo oops >&2"], remove=True)
    assert out == b"hello\n"
    with pytest.raises(docker.errors.ContainerError) as err:
        client.containers.run("busybox", ["sh", "-c", "exit 3"], remove=True)
    assert err.value.exit_status == 3


def test_logs_stdcopy_and_tty(client: Any) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "echo out; echo err >&2"], detach=True)
    assert c.wait()["StatusCode"] == 0
    assert c.logs(stdout=True, stderr=False) == b"out\n"
    assert c.logs(stdout=False, stderr=True) == b"err\n"
    stamped = c.logs(timestamps=True).splitlines()
    assert sorted(line.split(b" ", 1)[1] for line in stamped) == [b"err", b"out"]
    t = client.containers.run("busybox", ["echo", "tty"], detach=True, tty=True)
    assert t.wait()["StatusCode"] == 0
    assert t.logs() == b"tty\r\n"
    fresh = client.containers.create("busybox", ["true"])
    assert fresh.logs() == b""  # never started: no log yet, and no error


def test_logs_follow_ends_at_exit(client: Any) -> None:
    c = client.containers.run(
        "busybox", ["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.1; done"], detach=True
    )
    lines = list(c.logs(stream=True, follow=True))
    assert b"".join(lines) == b"1\n2\n3\n"


def test_wait_conditions(daemon: InprocDaemon, client: Any) -> None:
    c = client.containers.create("busybox", ["sh", "-c", "exit 5"])
    # not-running on a created container answers at once with 0, as dockerd
    assert c.wait(condition="not-running") == {"StatusCode": 0, "Error": None}
    c.start()
    assert c.wait(condition="not-running")["StatusCode"] == 5
    status, _, body = raw(daemon, "POST", f"/containers/{c.id}/wait?condition=bogus")
    assert status == 400 and b"condition" in body
    r = client.containers.create("busybox", ["true"], auto_remove=True)
    future = daemon.submit(daemon.engine.wait(r.id, "removed"))
    r.start()
    assert future.result(30) == {"StatusCode": 0, "Error": None}
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(r.id)


# ---------------------------------------------------------------- errors


def test_create_errors(daemon: InprocDaemon, client: Any) -> None:
    name = unique("dup")
    first = client.containers.create("busybox", ["true"], name=name)
    status, _, body = raw(daemon, "POST", f"/containers/create?name={name}", {"Image": "busybox"})
    assert status == 409
    assert json.loads(body)["message"] == (
        f'Conflict. The container name "/{name}" is already in use by container "{first.id}". '
        "You have to remove (or rename) that container to be able to reuse that name."
    )
    status, _, body = raw(daemon, "POST", "/containers/create?name=a", {"Image": "busybox"})
    assert status == 400
    assert (
        json.loads(body)["message"]
        == "Invalid container name (a), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
    )
    status, _, body = raw(daemon, "POST", "/containers/create", {"Image": "nope"})
    assert (status, json.loads(body)["message"]) == (404, "No such image: nope:latest")
    status, _, body = raw(
        daemon, "POST", "/containers/create", {"Image": "busybox", "HostConfig": {"Memory": 1000}}
    )
    assert (status, json.loads(body)["message"]) == (400, "Minimum memory limit allowed is 6MB")
    status, _, body = raw(
        daemon, "POST", "/containers/create", {"Image": "busybox", "HostConfig": {"Memory": "abc"}}
    )
    assert status == 400 and "Memory" in json.loads(body)["message"]
    status, _, body = raw(daemon, "POST", "/containers/create", None)
    assert status == 400
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(daemon.socket))
    s.sendall(b'POST /containers/create HTTP/1.0\r\nContent-Length: 9\r\n\r\n{"Image":')
    assert b" 400 " in s.recv(4096).split(b"\r\n")[0] + b" "
    s.close()
    status, _, body = raw(
        daemon,
        "POST",
        "/containers/create",
        {"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}},
    )
    assert status == 400 and "unknown policy 'sometimes'" in json.loads(body)["message"]
    status, _, body = raw(
        daemon, "POST", "/containers/create", {"Image": "busybox", "HostConfig": {"CapAdd": ["CAP_NOPE"]}}
    )
    assert (status, json.loads(body)["message"]) == (400, 'unknown capability: "CAP_NOPE"')


def test_unknown_container_and_state_errors(daemon: InprocDaemon, client: Any) -> None:
    for method, path in (
        ("GET", "/containers/nope/json"),
        ("POST", "/containers/nope/start"),
        ("POST", "/containers/nope/stop"),
        ("DELETE", "/containers/nope"),
        ("POST", "/containers/nope/wait"),
    ):
        status, _, body = raw(daemon, method, path)
        assert (status, json.loads(body)) == (404, {"message": "No such container: nope"}), path
    c = client.containers.create("busybox", ["sleep", "30"])
    status, _, _ = raw(daemon, "POST", f"/containers/{c.id}/stop")
    assert status == 304
    status, _, body = raw(daemon, "POST", f"/containers/{c.id}/kill")
    assert status == 409 and json.loads(body)["message"] == (
        f"Cannot kill container: {c.id}: Container {c.id} is not running"
    )
    c.start()
    status, _, _ = raw(daemon, "POST", f"/containers/{c.id}/start")
    assert status == 304
    status, _, body = raw(daemon, "DELETE", f"/containers/{c.id}")
    assert status == 409 and json.loads(body)["message"].startswith("You cannot remove a running container")
    status, _, body = raw(daemon, "POST", f"/containers/{c.id}/kill?signal=FOO")
    assert (status, json.loads(body)["message"]) == (400, "Invalid signal: FOO")
    c.remove(force=True)
    status, _, body = raw(daemon, "GET", f"/containers/{c.id}/json")
    assert status == 404


# ---------------------------------------------------------------- lifecycle


def test_stop_kill_restart_pause_rename(daemon: InprocDaemon, client: Any) -> None:
    c = client.containers.run("busybox", ["sleep", "60"], detach=True)
    t0 = time.monotonic()
    c.stop(timeout=1)  # sleep as pid 1 has no SIGTERM handler: the kernel ignores it, then SIGKILL
    c.reload()
    assert c.attrs["State"]["ExitCode"] == 137 and c.status == "exited"
    assert time.monotonic() - t0 >= 0.9
    trap = client.containers.run(
        "busybox", ["sh", "-c", "trap 'exit 7' TERM; trap 'exit 9' USR1; sleep 60 & wait"], detach=True
    )
    time.sleep(0.3)
    trap.stop(timeout=10)
    trap.reload()
    assert trap.attrs["State"]["ExitCode"] == 7
    trap.start()
    trap.reload()
    pid = trap.attrs["State"]["Pid"]
    trap.restart(timeout=10)
    trap.reload()
    assert trap.status == "running" and trap.attrs["State"]["Pid"] != pid
    trap.pause()
    trap.reload()
    assert trap.status == "paused" and trap.attrs["State"]["Paused"] is True
    trap.unpause()
    time.sleep(0.3)
    trap.kill(signal="SIGUSR1")
    assert trap.wait()["StatusCode"] == 9
    new = unique("renamed")
    trap.rename(new)
    assert client.containers.get(new).id == trap.id


def test_restart_policy_on_failure(client: Any) -> None:
    c = client.containers.run(
        "busybox",
        ["sh", "-c", "exit 2"],
        detach=True,
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 2},
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        c.reload()
        if c.attrs["RestartCount"] == 2 and c.status == "exited":
            break
        time.sleep(0.1)
    assert c.attrs["RestartCount"] == 2 and c.attrs["State"]["ExitCode"] == 2 and c.status == "exited"
    c.update(restart_policy={"Name": "no"})
    c.start()  # a start by hand begins the policy afresh, as dockerd's ResetRestartManager
    c.wait()
    c.reload()
    assert c.attrs["RestartCount"] == 0


def test_list_filters(client: Any) -> None:
    label = unique("lbl")
    a = client.containers.run("busybox", ["sleep", "30"], detach=True, labels={label: "a"})
    b = client.containers.create("busybox", ["true"], labels={label: "b"})
    assert [x.id for x in client.containers.list(filters={"label": label})] == [a.id]
    assert {x.id for x in client.containers.list(all=True, filters={"label": label})} == {a.id, b.id}
    assert [x.id for x in client.containers.list(filters={"label": f"{label}=b", "status": "created"})] == [
        b.id
    ]
    assert [x.id for x in client.containers.list(all=True, filters={"id": b.id[:10]})] == [b.id]
    assert [x.id for x in client.containers.list(all=True, filters={"name": b.name})] == [b.id]
    assert [x.id for x in client.containers.list(all=True, filters={"label": label, "ancestor": "busybox"})]
    summary = client.api.containers(all=True, filters={"label": label})[0]
    assert summary["Id"] == b.id  # newest first
    assert summary["Status"] == "Created" and summary["State"] == "created" and summary["Command"] == "true"
    with pytest.raises(docker.errors.APIError):
        client.containers.list(filters={"bogus": "1"})


def test_inspect_fields(daemon: InprocDaemon, client: Any) -> None:
    c = client.containers.run(
        "busybox",
        ["sleep", "30"],
        detach=True,
        environment={"A": "1"},
        mem_limit="64m",
        network_mode="bridge",
    )
    doc = client.api.inspect_container(c.id)
    for key in (
        "Id", "Created", "Path", "Args", "State", "Image", "ResolvConfPath", "HostnamePath", "HostsPath",
        "LogPath", "Name", "RestartCount", "Driver", "Platform", "MountLabel", "ProcessLabel",
        "AppArmorProfile", "ExecIDs", "HostConfig", "GraphDriver", "Mounts", "Config", "NetworkSettings",
    ):  # fmt: skip
        assert key in doc, key
    state = doc["State"]
    assert state["Status"] == "running" and state["Running"] and state["Pid"] > 0
    assert state["StartedAt"].endswith("Z") and state["FinishedAt"] == "0001-01-01T00:00:00Z"
    assert doc["Path"] == "sleep" and doc["Args"] == ["30"]
    assert doc["HostConfig"]["Memory"] == 64 * 1024**2 and doc["HostConfig"]["MemorySwap"] == 128 * 1024**2
    assert doc["HostConfig"]["ShmSize"] == 64 * 1024**2
    assert doc["Config"]["Env"][0].startswith("PATH=") and "A=1" in doc["Config"]["Env"]
    assert doc["Config"]["Hostname"] == c.id[:12]
    net = doc["NetworkSettings"]["Networks"]["bridge"]
    assert net["IPAddress"] and net["Gateway"] and net["MacAddress"].startswith("02:42:")
    assert doc["NetworkSettings"]["IPAddress"] == net["IPAddress"]
    assert Path(doc["HostnamePath"]).read_text().strip() == c.id[:12]
    mem_limit = f"/sys/fs/cgroup/memory/dockyard/{c.id}/memory.limit_in_bytes"
    assert Path(mem_limit).read_text().strip() == str(64 * 1024**2)
    top = c.top()
    assert top["Titles"][:2] == ["UID", "PID"] and top["Processes"][0][-1] == "sleep 30"


# ---------------------------------------------------------------- attach


def hijack(daemon: InprocDaemon, path: str, upgrade: bool = True) -> tuple[socket.socket, bytes, bytes]:
    """POST an attach; returns the socket, the response head and what came after it."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(str(daemon.socket))
    extra = "Connection: Upgrade\r\nUpgrade: tcp\r\n" if upgrade else ""
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n{extra}\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        assert chunk, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return s, head, rest


def read_all(s: socket.socket, rest: bytes) -> bytes:
    data = rest
    while chunk := s.recv(65536):
        data += chunk
    return data


def frames(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    while data:
        stream, size = data[0], int.from_bytes(data[4:8], "big")
        out.append((stream, data[8 : 8 + size]))
        data = data[8 + size :]
    return out


def test_attach_stdin_and_stdcopy(daemon: InprocDaemon, client: Any) -> None:
    status, _, body = raw(
        daemon,
        "POST",
        "/containers/create",
        {"Image": "busybox", "Cmd": ["sh", "-c", "read x; echo got $x; echo bye >&2"], "OpenStdin": True,
         "StdinOnce": True, "AttachStdin": True},
    )  # fmt: skip
    assert status == 201
    c = client.containers.get(json.loads(body)["Id"])
    s, head, rest = hijack(daemon, f"/containers/{c.id}/attach?stream=1&stdin=1&stdout=1&stderr=1")
    try:
        assert head.startswith(b"HTTP/1.1 101 UPGRADED") and b"Upgrade: tcp" in head
        assert b"application/vnd.docker.multiplexed-stream" in head
        c.start()  # attached before the start, as `docker start -a`: nothing is lost
        s.sendall(b"hi\n")
        s.shutdown(socket.SHUT_WR)  # stdin ends; the output keeps coming
        got = frames(read_all(s, rest))
    finally:
        s.close()
    assert (1, b"got hi\n") in got and (2, b"bye\n") in got
    assert c.wait()["StatusCode"] == 0


def test_attach_tty_plain_http_and_logs(daemon: InprocDaemon, client: Any) -> None:
    c = client.containers.run(
        "busybox", ["sh", "-c", "echo first; sleep 0.5; echo second"], detach=True, tty=True
    )
    s, head, rest = hijack(daemon, f"/containers/{c.id}/attach?stream=1&stdout=1&logs=1", upgrade=False)
    try:
        assert head.startswith(b"HTTP/1.1 200 OK") and b"application/vnd.docker.raw-stream" in head
        out = read_all(s, rest)
    finally:
        s.close()
    assert out == b"first\r\nsecond\r\n"  # the log replayed, then the live stream, raw with a TTY
    s, head, rest = hijack(daemon, f"/containers/{c.id}/attach?logs=1&stdout=1")
    try:
        assert read_all(s, rest) == b"first\r\nsecond\r\n"
    finally:
        s.close()


def test_docker_py_attach_and_resize(client: Any) -> None:
    c = client.containers.run(
        "busybox", ["sh", "-c", "sleep 0.3; stty size; echo done"], detach=True, tty=True
    )
    c.resize(height=33, width=101)
    out = b"".join(c.attach(stream=True, logs=True))
    assert b"33 101" in out and b"done" in out
    with pytest.raises(docker.errors.APIError) as err:
        c.resize(height=10, width=10)
    assert err.value.status_code == 409


# ---------------------------------------------------------------- shapes against the reference


def test_json_shapes_match_the_engine_api(daemon: InprocDaemon, client: Any) -> None:
    from tests.compat.api_schema import assert_matches

    status, _, body = raw(daemon, "POST", "/containers/create", {"Image": "busybox", "Cmd": ["sleep", "30"]})
    created = json.loads(body)
    assert status == 201
    assert_matches("ContainerCreateResponse", created)
    cid = created["Id"]
    assert_matches("ContainerInspectResponse", client.api.inspect_container(cid))
    client.api.start(cid)
    running = client.api.inspect_container(cid)
    assert_matches("ContainerInspectResponse", running)
    for item in client.api.containers(all=True):
        assert_matches("ContainerSummary", item)
    assert_matches("ContainerSummary", client.api.containers(all=True, size=True)[0], require_all=False)
    assert_matches("ContainerTopResponse", client.api.top(cid))
    status, _, body = raw(daemon, "POST", f"/containers/{cid}/update", {"CpuShares": 512})
    assert status == 200
    assert_matches("ContainerUpdateResponse", json.loads(body))
    client.api.kill(cid)
    status, _, body = raw(daemon, "POST", f"/containers/{cid}/wait")
    assert_matches("ContainerWaitResponse", json.loads(body))
    assert_matches("ContainerInspectResponse", client.api.inspect_container(cid))
    for change in client.api.diff(cid) or []:
        assert_matches("FilesystemChange", change)
    status, _, body = raw(daemon, "POST", "/containers/prune")
    assert_matches("ContainerPruneResponse", json.loads(body))
    status, _, body = raw(daemon, "GET", "/containers/nope/json")
    assert_matches("ErrorResponse", json.loads(body))


# ---------------------------------------------------------------- health and events


def test_healthcheck_feeds_state_and_events(daemon: InprocDaemon, client: Any) -> None:
    since = time.time()
    c = client.containers.run(
        "busybox",
        ["sh", "-c", "sleep 0.5; touch /tmp/ok; sleep 30"],
        detach=True,
        stop_signal="SIGKILL",
        healthcheck={"test": ["CMD-SHELL", "test -e /tmp/ok"], "interval": 200_000_000, "retries": 1},
    )
    deadline = time.monotonic() + 20
    health: dict[str, Any] = {}
    while time.monotonic() < deadline:
        health = client.api.inspect_container(c.id)["State"].get("Health") or {}
        if health.get("Status") == "healthy":
            break
        time.sleep(0.1)
    assert health["Status"] == "healthy" and health["FailingStreak"] == 0 and health["Log"]
    assert "(healthy)" in client.api.containers(filters={"id": c.id})[0]["Status"]
    assert [x.id for x in client.containers.list(filters={"health": "healthy", "id": c.id})] == [c.id]
    c.kill()
    events = client.events(since=since, until=time.time() + 0.5, decode=True, filters={"container": c.id})
    actions = [e["Action"] for e in events]
    assert actions[:2] == ["create", "start"] and "health_status: healthy" in actions
    assert actions[-2:] == ["kill", "die"] or actions[-2:] == ["die", "kill"]


def test_detach_keys_end_the_attach_not_the_container(daemon: InprocDaemon, client: Any) -> None:
    _, _, body = raw(
        daemon,
        "POST",
        "/containers/create",
        {"Image": "busybox", "Cmd": ["cat"], "Tty": True, "OpenStdin": True, "StopSignal": "SIGKILL"},
    )
    cid = json.loads(body)["Id"]
    client.api.start(cid)
    s, _, rest = hijack(daemon, f"/containers/{cid}/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-x")
    try:
        s.sendall(b"hello\n")
        out = rest
        while b"hello" not in out:
            out += s.recv(4096)
        s.sendall(b"\x18")  # ctrl-x
        tail = read_all(s, b"")  # returns: the daemon ended the attach (a hang would time out)
        assert b"\x18" not in tail  # the sequence is not passed on to the container
    finally:
        s.close()
    assert client.api.inspect_container(cid)["State"]["Running"] is True
