"""docker cp through docker-py and raw HTTP, against the engine served in-process: archives out
of and into running and stopped containers, their volumes, the stat header, dockerd's errors."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import subprocess
import tarfile
from collections.abc import Iterator
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
    before_v = {v.name for v in c.volumes.list()}
    try:
        yield c
    finally:
        for x in c.containers.list(all=True):
            if x.id not in before:
                x.remove(force=True, v=True)
        for v in c.volumes.list():
            if v.name not in before_v:
                v.remove(force=True)
        c.close()


def tar_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o640
            info.uid = info.gid = 1000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def members(stream: Iterator[bytes]) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        for m in tar.getmembers():
            f = tar.extractfile(m) if m.isfile() else None
            out[m.name] = f.read() if f else None
    return out


def test_copy_out_of_a_running_container(client: Any) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "echo made > /tmp/made; sleep 1000"], detach=True)
    for _ in range(100):
        if c.exec_run(["test", "-f", "/tmp/made"]).exit_code == 0:
            break
    stream, stat = c.get_archive("/tmp/made")
    assert stat["name"] == "made" and stat["size"] == 5 and stat["mode"] == 0o644 and stat["linkTarget"] == ""
    assert members(stream) == {"made": b"made\n"}
    stream, stat = c.get_archive("/etc")
    assert stat["mode"] & (1 << 31)  # Go's os.ModeDir
    got = members(stream)
    assert "etc/passwd" in got and got["etc/passwd"] and b"root" in got["etc/passwd"]


def test_copy_into_a_running_container(client: Any) -> None:
    c = client.containers.run("busybox", ["sleep", "1000"], detach=True)
    assert c.put_archive("/tmp", tar_of({"in/file.txt": b"copied in\n"}))
    code, out = c.exec_run(["sh", "-c", "cat /tmp/in/file.txt; stat -c '%u:%g %a' /tmp/in/file.txt"])
    assert (code, out) == (0, b"copied in\n1000:1000 640\n")


def test_copy_uid_gid_gives_files_the_containers_user(daemon: InprocDaemon, client: Any) -> None:
    """`docker cp -a` (copyUIDGID=1): new files belong to the container's user (Config.User,
    by name through its /etc/passwd), not to the uid/gid in the tar."""
    c = client.containers.run("busybox", ["sleep", "1000"], detach=True, user="nobody")
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(str(daemon.socket))
    body = tar_of({"owned.txt": b"x\n"})
    head = (
        f"PUT /containers/{c.id}/archive?path=/tmp&copyUIDGID=1 HTTP/1.1\r\nHost: d\r\n"
        f"Content-Type: application/x-tar\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer
    code, out = c.exec_run(["stat", "-c", "%u:%g", "/tmp/owned.txt"])
    assert (code, out) == (0, b"65534:65534\n")


def test_stopped_container_and_its_volume(client: Any) -> None:
    vol = client.volumes.create(f"cp{os.getpid()}").name
    c = client.containers.create("busybox", ["cat", "/data/note", "/root/note"], volumes=[f"{vol}:/data"])
    assert c.put_archive("/data", tar_of({"note": b"in the volume\n"}))
    assert c.put_archive("/root", tar_of({"note": b"in the rootfs\n"}))
    c.start()
    assert c.wait()["StatusCode"] == 0
    assert c.logs() == b"in the volume\nin the rootfs\n"
    stream, _stat = c.get_archive("/data/note")
    assert members(stream) == {"note": b"in the volume\n"}
    vol_data = client.api.inspect_volume(vol)["Mountpoint"]
    with open(os.path.join(vol_data, "note"), "rb") as f:
        assert f.read() == b"in the volume\n"


def test_errors_and_head(daemon: InprocDaemon, client: Any) -> None:
    c = client.containers.create("busybox", ["true"], name=f"cperr{os.getpid()}")
    with pytest.raises(
        docker.errors.NotFound, match=f"Could not find the file /nope in container cperr{os.getpid()}"
    ):
        c.get_archive("/nope")
    with pytest.raises(docker.errors.APIError, match="extraction point is not a directory"):
        c.put_archive("/etc/passwd", tar_of({"x": b"x"}))
    with pytest.raises(docker.errors.NotFound):
        c.put_archive("/no/such/dir", tar_of({"x": b"x"}))
    status, headers, _ = raw(daemon, "HEAD", f"/containers/{c.id}/archive?path=/bin/sh")
    assert status == 200
    stat = json.loads(base64.b64decode(headers["x-docker-container-path-stat"]))
    assert stat["name"] == "sh" and stat["mode"] & (1 << 27) and stat["linkTarget"] == "/bin/busybox"
    status, _, body = raw(daemon, "GET", f"/containers/{c.id}/archive")
    assert status == 400 and b"no path given" in body
    status, _, body = raw(daemon, "GET", "/containers/nosuchcontainer/archive?path=/")
    assert status == 404


def raw(daemon: InprocDaemon, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    try:
        s.connect(str(daemon.socket))
        s.sendall(f"{method} {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    finally:
        s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, body


def test_docker_cli_cp_both_ways(daemon: InprocDaemon, client: Any, tmp_path: Any) -> None:
    env = dict(os.environ, DOCKER_HOST=f"unix://{daemon.socket}")
    c = client.containers.run("busybox", ["sleep", "1000"], detach=True)
    src = tmp_path / "from-host.txt"
    src.write_text("from the host\n")

    def docker(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["/usr/local/bin/docker", *args], env=env, capture_output=True, timeout=60)

    assert docker("cp", str(src), f"{c.id}:/tmp/renamed.txt").returncode == 0
    assert c.exec_run(["cat", "/tmp/renamed.txt"]).output == b"from the host\n"
    r = docker("cp", f"{c.id}:/etc", str(tmp_path / "etc-copy"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "etc-copy" / "passwd").read_text().startswith("root:")
    r = docker("cp", f"{c.id}:/nope", str(tmp_path))
    assert r.returncode != 0 and b"Could not find the file /nope in container" in r.stderr
