"""The volume endpoints through docker-py and raw HTTP, against the engine served in-process:
create/list/inspect/remove/prune with dockerd's shapes and statuses, copy-up from the image,
anonymous volumes, volumes in use."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import pytest

from tests.unit.engine.inproc_daemon import InprocDaemon

pytestmark = pytest.mark.root

# moby api/swagger.yaml, definitions.Volume: required fields (UsageData only with /system/df).
VOLUME_FIELDS = {"Name", "Driver", "Mountpoint", "Labels", "Scope", "Options", "CreatedAt"}


@pytest.fixture(scope="module")
def daemon() -> Iterator[InprocDaemon]:
    with InprocDaemon() as d:
        yield d


@pytest.fixture
def client(daemon: InprocDaemon) -> Iterator[Any]:
    c = daemon.client()
    before_c = {x.id for x in c.containers.list(all=True)}
    before_v = {v.name for v in c.volumes.list()}
    try:
        yield c
    finally:
        for x in c.containers.list(all=True):
            if x.id not in before_c:
                x.remove(force=True)
        for v in c.volumes.list():
            if v.name not in before_v:
                v.remove(force=True)
        c.close()


def unique(prefix: str) -> str:
    return f"{prefix}{os.getpid()}_{time.monotonic_ns() % 10**9}"


def raw(daemon: InprocDaemon, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    data = b"" if body is None else json.dumps(body).encode()
    head = f"{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Length: {len(data)}\r\n"
    head += "Content-Type: application/json\r\n"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    try:
        s.connect(str(daemon.socket))
        s.sendall(head.encode() + b"\r\n" + data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    finally:
        s.close()
    status = int(out.split(b" ", 2)[1])
    return status, out.split(b"\r\n\r\n", 1)[1]


def test_create_inspect_list_remove(client: Any, daemon: InprocDaemon) -> None:
    name = unique("vol")
    vol = client.volumes.create(name, labels={"team": "a"})
    assert vol.name == name
    doc = client.api.inspect_volume(name)
    assert set(doc) == VOLUME_FIELDS
    assert doc["Driver"] == "local" and doc["Scope"] == "local" and doc["Labels"] == {"team": "a"}
    assert doc["Mountpoint"] == str(daemon.data_root / "volumes" / name / "_data")
    assert name in [v.name for v in client.volumes.list(filters={"label": "team=a"})]
    assert name not in [v.name for v in client.volumes.list(filters={"label": "team=b"})]
    listing = client.api.volumes()
    assert set(listing) == {"Volumes", "Warnings"}
    vol.remove()
    with pytest.raises(docker.errors.NotFound, match="no such volume"):
        client.volumes.get(name)


def test_statuses_and_messages(daemon: InprocDaemon) -> None:
    status, body = raw(daemon, "POST", "/v1.44/volumes/create", {"Name": "bad/name"})
    assert status == 400 and b"includes invalid characters for a local volume name" in body
    status, body = raw(daemon, "GET", "/volumes/nope")
    assert (status, json.loads(body)) == (404, {"message": "get nope: no such volume"})
    status, body = raw(daemon, "DELETE", "/volumes/nope")
    assert status == 404
    assert raw(daemon, "DELETE", "/volumes/nope?force=1")[0] == 204
    status, body = raw(daemon, "GET", '/volumes?filters={"colour":["red"]}')
    assert status == 400 and b"invalid filter 'colour'" in body
    status, body = raw(
        daemon, "POST", "/volumes/create", {"Name": "v" + unique("x"), "DriverOpts": {"size": "1"}}
    )
    assert status == 400 and 'invalid option: "size"' in json.loads(body)["message"]
    name = unique("raw")
    status, body = raw(daemon, "POST", "/volumes/create", {"Name": name})
    assert status == 201 and json.loads(body)["Name"] == name
    assert raw(daemon, "DELETE", f"/volumes/{name}")[0] == 204


def test_volume_in_use_and_copy_up(client: Any) -> None:
    name = unique("etc")
    out = client.containers.run(
        "busybox",
        ["sh", "-c", "ls /etc; echo note > /etc/added"],
        volumes={name: {"bind": "/etc", "mode": "rw"}},
        remove=True,
    )
    assert b"passwd" in out  # the image's /etc was copied into the empty volume on first use
    keeper = client.containers.create("busybox", ["cat", "/etc/added"], volumes=[f"{name}:/etc"])
    with pytest.raises(
        docker.errors.APIError, match=rf"remove {name}: volume is in use - \[{keeper.id}\]"
    ) as info:
        client.volumes.get(name).remove()
    assert info.value.response.status_code == 409
    keeper.start()
    assert keeper.wait()["StatusCode"] == 0
    assert keeper.logs() == b"note\n"
    keeper.remove()
    client.volumes.get(name).remove()


def test_anonymous_volumes_and_prune(client: Any) -> None:
    # Config.Volumes, what `docker run -v /data` sends: an anonymous volume.
    c = client.containers.get(client.api.create_container("busybox", ["true"], volumes=["/data"])["Id"])
    mounts = client.api.inspect_container(c.id)["Mounts"]
    (mount,) = [m for m in mounts if m["Destination"] == "/data"]
    anon = mount["Name"]
    assert len(anon) == 64 and mount["Type"] == "volume"
    assert client.api.inspect_volume(anon)["Labels"] == {"com.docker.volume.anonymous": ""}
    named = client.volumes.create(unique("named")).name
    # In use: prune keeps it.
    assert anon not in (client.api.prune_volumes().get("VolumesDeleted") or [])
    c.remove()
    result = client.api.prune_volumes()
    assert anon in result["VolumesDeleted"] and named not in result["VolumesDeleted"]
    assert isinstance(result["SpaceReclaimed"], int)
    client.volumes.get(named).remove()


def test_prune_all_and_old_api_versions(daemon: InprocDaemon, client: Any) -> None:
    keep = client.volumes.create(unique("keep"), labels={"keep": "1"}).name
    drop = client.volumes.create(unique("drop")).name
    status, body = raw(daemon, "POST", '/v1.44/volumes/prune?filters={"label!":["keep"]}')
    assert status == 200 and drop not in (json.loads(body)["VolumesDeleted"] or [])
    status, body = raw(daemon, "POST", '/v1.41/volumes/prune?filters={"label!":["keep"]}')
    deleted = json.loads(body)["VolumesDeleted"]
    assert status == 200 and drop in deleted and keep not in deleted
    client.volumes.get(keep).remove()


def test_volume_events(daemon: InprocDaemon, client: Any) -> None:
    # Engine builds its VolumeStore without the bus (yet): VolumeStore(conn, root, events=bus).
    if daemon.engine.volumes.events is None:
        daemon.engine.volumes.events = daemon.engine.events
    since = time.time()
    name = unique("evt")
    client.volumes.create(name)
    client.volumes.get(name).remove()
    events = client.events(since=since, until=time.time() + 0.5, filters={"type": "volume"}, decode=True)
    got = [(e["Action"], e["Actor"]["ID"]) for e in events if e["Actor"]["ID"] == name]
    assert got == [("create", name), ("destroy", name)]


def test_docker_cli_volume_commands(daemon: InprocDaemon, client: Any) -> None:
    env = dict(os.environ, DOCKER_HOST=f"unix://{daemon.socket}")
    name = unique("cli")

    def docker(*args: str) -> str:
        r = subprocess.run(
            ["/usr/local/bin/docker", *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 0, r.stderr
        return r.stdout

    assert docker("volume", "create", "--label", "k=v", name).strip() == name
    assert name in docker("volume", "ls", "-q", "--filter", "label=k=v").split()
    assert json.loads(docker("volume", "inspect", name))[0]["Labels"] == {"k": "v"}
    assert docker("volume", "rm", name).strip() == name
    assert name not in docker("volume", "ls", "-q").split()
