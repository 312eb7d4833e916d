"""GET /events through docker-py and a raw socket, against the engine served in-process: a
container's lifecycle as events, since/until, filters, a stream that waits for live events."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.unit.engine.inproc_daemon import InprocDaemon

pytestmark = pytest.mark.root

# moby api/swagger.yaml, EventMessage (+ the deprecated status/id/from of container events).
EVENT_FIELDS = {"Type", "Action", "Actor", "scope", "time", "timeNano", "status", "id", "from"}


@pytest.fixture(scope="module")
def daemon() -> Iterator[InprocDaemon]:
    with InprocDaemon() as d:
        yield d


@pytest.fixture
def client(daemon: InprocDaemon) -> Iterator[Any]:
    c = daemon.client()
    try:
        yield c
    finally:
        c.close()


def test_container_lifecycle_events(client: Any) -> None:
    since = time.time()
    c = client.containers.run("busybox", ["true"], detach=True, labels={"suite": "events"})
    c.wait()
    c.remove()
    until = time.time() + 0.2
    events = list(client.events(since=since, until=until, decode=True, filters={"container": c.id}))
    actions = [e["Action"] for e in events]
    assert actions == ["create", "start", "die", "destroy"]
    die = next(e for e in events if e["Action"] == "die")
    assert set(die) == EVENT_FIELDS
    assert die["status"] == "die" and die["id"] == c.id and die["from"] == "busybox"
    assert die["Actor"]["Attributes"]["exitCode"] == "0"
    assert die["Actor"]["Attributes"]["suite"] == "events"
    assert die["scope"] == "local" and die["time"] == die["timeNano"] // 10**9
    labelled = list(client.events(since=since, until=until, decode=True, filters={"label": "suite=events"}))
    assert [e["Action"] for e in labelled] == actions
    starts = list(
        client.events(since=since, until=until, decode=True, filters={"event": "start", "type": "container"})
    )
    assert [e["id"] for e in starts if e["id"] == c.id] == [c.id]


def test_live_stream_and_bad_filters(daemon: InprocDaemon, client: Any) -> None:
    # Engine builds its VolumeStore without the bus (yet): VolumeStore(conn, root, events=bus).
    if daemon.engine.volumes.events is None:
        daemon.engine.volumes.events = daemon.engine.events
    name = f"live{os.getpid()}"
    got: list[dict[str, Any]] = []
    stream = client.events(decode=True, filters={"type": "volume", "volume": name})

    def read() -> None:
        for ev in stream:
            got.append(ev)
            if ev["Action"] == "destroy":
                return

    t = threading.Thread(target=read, daemon=True)
    t.start()
    time.sleep(0.2)
    client.volumes.create(name)
    client.volumes.get(name).remove()
    t.join(10)
    stream.close()
    assert [e["Action"] for e in got] == ["create", "destroy"]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(str(daemon.socket))
    s.sendall(b'GET /events?filters={"colour":["red"]} HTTP/1.0\r\n\r\n')
    out = b""
    while chunk := s.recv(4096):
        out += chunk
    s.close()
    assert out.split(b"\r\n")[0].split(b" ")[1] == b"400"
    body = out.partition(b"\r\n\r\n")[2]
    assert json.loads(body)["message"].startswith("invalid filter 'colour'")


def test_until_in_the_past_returns_at_once(client: Any) -> None:
    t0 = time.monotonic()
    events = list(client.events(since=time.time() - 3600, until=time.time() - 1800, decode=True))
    assert events == [] and time.monotonic() - t0 < 2


def test_docker_cli_events(daemon: InprocDaemon, client: Any) -> None:
    env = dict(os.environ, DOCKER_HOST=f"unix://{daemon.socket}")
    since = str(int(time.time()) - 1)
    c = client.containers.run("busybox", ["true"], detach=True, name=f"cliev{os.getpid()}")
    c.wait()
    c.remove()
    # The CLI sends `--until 0s` as whole seconds (as dockerd reads it too): let this second pass.
    time.sleep(max(0.0, int(time.time()) + 1.05 - time.time()))
    r = subprocess.run(
        ["/usr/local/bin/docker", "events", "--since", since, "--until", "0s",
         "--filter", f"container={c.name}", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"container {a} {c.name}" for a in ("create", "start", "die", "destroy")]


def test_since_after_until_is_refused(daemon: InprocDaemon) -> None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(str(daemon.socket))
    s.sendall(b"GET /v1.44/events?since=2000000000&until=1000000000 HTTP/1.0\r\n\r\n")
    out = b""
    while chunk := s.recv(4096):
        out += chunk
    s.close()
    assert out.split(b"\r\n")[0].split(b" ")[1] == b"400"
    message = json.loads(out.partition(b"\r\n\r\n")[2])["message"]
    assert message == "`since` time (2000000000) cannot be after `until` time (1000000000)"
