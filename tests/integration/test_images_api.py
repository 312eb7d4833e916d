"""The image endpoints of the Engine API, served by aiohttp on a unix socket with only the
system and image handlers, driven by docker-py and the real docker CLI (28 and Debian's 20.10)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from aiohttp import web

from dockyard.daemon.app import create_app
from dockyard.daemon.context import DaemonContext
from dockyard.daemon.handlers import images as images_handler
from dockyard.daemon.handlers import system as system_handler
from dockyard.daemon.options import DaemonOptions
from dockyard.images.service import ImageService
from tests.conftest import remove_tree
from tests.integration.test_images_registry import ReferenceRegistry

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts need root")
CLIENTS = [c for c in ("/usr/local/bin/docker", "/usr/bin/docker") if os.access(c, os.X_OK)]


class ImagesDaemon:
    """ImageService behind create_app() on a unix socket, its loop on a thread of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.svc = ImageService(root / "data")
        ctx = DaemonContext(DaemonOptions(data_root=root / "data"))
        ctx.images = self.svc
        app = create_app(ctx, [system_handler.routes(ctx), images_handler.routes(ctx)])
        self.sock = str(root / "d.sock")
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.UnixSite(self.runner, self.sock).start())
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()
        self.svc.close()

    def cli(self, client: str, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DOCKER_HOST": f"unix://{self.sock}", "DOCKER_CONFIG": str(self.root / "cfg")}
        return subprocess.run([client, *args], input=input.decode("latin-1") if input else None, env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.fixture(scope="module")
def daemon() -> Iterator[ImagesDaemon]:
    root = Path(tempfile.mkdtemp(prefix=f"dockyard-images-api-{os.getpid()}-"))
    d = ImagesDaemon(root)
    try:
        d.svc.bootstrap_busybox()
        yield d
    finally:
        d.stop()
        remove_tree(str(root))


@pytest.fixture(scope="module")
def registry() -> Iterator[ReferenceRegistry]:
    reg = ReferenceRegistry()
    try:
        yield reg
    finally:
        reg.stop()


@pytest.fixture
def client(daemon: ImagesDaemon) -> Iterator[docker.DockerClient]:
    c = docker.DockerClient(base_url=f"unix://{daemon.sock}", version="1.44")
    try:
        yield c
    finally:
        c.close()


def test_docker_py_list_inspect_history_tag_remove(client: docker.DockerClient, daemon: ImagesDaemon) -> None:
    img = client.images.get("busybox")
    assert img.tags == ["busybox:latest"] and img.attrs["Config"]["Cmd"] == ["sh"]
    assert [i.id for i in client.images.list()] == [img.id]
    assert client.images.list(filters={"dangling": True}) == []
    assert img.history()[0]["Id"] == img.id
    assert img.tag("localhost:5000/team/bb", "v1")
    assert client.images.get("localhost:5000/team/bb:v1").id == img.id  # slashes in the path
    assert client.api.remove_image("localhost:5000/team/bb:v1") == [{"Untagged": "localhost:5000/team/bb:v1"}]
    with pytest.raises(docker.errors.ImageNotFound, match="No such image: nope:latest"):
        client.images.get("nope")
    with pytest.raises(docker.errors.APIError) as e:
        client.images.get("Bad:Name")
    assert e.value.status_code == 400
    assert client.images.prune() == {"ImagesDeleted": None, "SpaceReclaimed": 0}


def test_docker_py_save_load_and_import(client: docker.DockerClient, daemon: ImagesDaemon) -> None:
    data = b"".join(client.images.get("busybox").save(named=True))
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert "manifest.json" in tf.getnames()
    client.images.get("busybox").tag("copy", "1")
    client.api.remove_image("copy:1")
    loaded = client.images.load(data)
    assert [i.tags for i in loaded] == [["busybox:latest"]]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("hello")
        info.size = 3
        t.addfile(info, io.BytesIO(b"hi\n"))
    out = client.api.import_image_from_data(
        buf.getvalue(), repository="imported", tag="t1", changes=["CMD /hello"]
    )
    image_id = json.loads(out)["status"]
    assert client.images.get("imported:t1").id == image_id
    assert client.images.get("imported:t1").attrs["Config"]["Cmd"] == ["/bin/sh", "-c", "/hello"]
    client.images.remove("imported:t1")


@pytest.mark.parametrize("cli", CLIENTS)
def test_docker_cli_push_pull_tag_rmi_save_load(
    daemon: ImagesDaemon, registry: ReferenceRegistry, cli: str
) -> None:
    name = f"{registry.host}/cli/busybox:{os.path.basename(os.path.dirname(cli))}"
    assert daemon.cli(cli, "tag", "busybox", name).returncode == 0
    res = daemon.cli(cli, "push", name)
    assert res.returncode == 0, res.stderr
    assert (
        "Pushed" in res.stdout or "Layer already exists" in res.stdout
    ) and "digest: sha256:" in res.stdout
    res = daemon.cli(cli, "rmi", name)
    assert res.returncode == 0 and f"Untagged: {name}" in res.stdout, res.stderr
    res = daemon.cli(cli, "pull", name)
    assert res.returncode == 0, res.stderr
    assert "Pull complete" in res.stdout or "Already exists" in res.stdout
    assert f"Status: Downloaded newer image for {name}" in res.stdout
    res = daemon.cli(cli, "images", "--format", "{{.Repository}}:{{.Tag}}")
    assert name in res.stdout.split() and "busybox:latest" in res.stdout.split()
    res = daemon.cli(cli, "inspect", "--format", "{{.Id}} {{.Os}}", name)
    assert res.stdout.strip() == f"{daemon.svc.resolve('busybox').id} linux", res.stderr
    res = daemon.cli(cli, "history", "-q", "busybox")
    assert res.returncode == 0 and res.stdout.split()[0] == daemon.svc.resolve("busybox").short_id
    archive = Path(daemon.root) / "saved.tar"
    assert daemon.cli(cli, "save", "-o", str(archive), name).returncode == 0
    assert daemon.cli(cli, "rmi", name).returncode == 0
    res = daemon.cli(cli, "load", "-i", str(archive))
    assert res.returncode == 0 and f"Loaded image: {name}" in res.stdout, res.stderr
    res = daemon.cli(cli, "pull", f"{registry.host}/cli/missing")
    assert res.returncode != 0 and "not found" in res.stderr
    res = daemon.cli(cli, "pull", "busybox:unknown-tag")
    assert res.returncode != 0 and "no route to the internet" in res.stderr
    daemon.cli(cli, "rmi", name)
    archive.unlink()


def test_stream_errors_after_start_are_json_lines(daemon: ImagesDaemon, registry: ReferenceRegistry) -> None:
    c = docker.APIClient(base_url=f"unix://{daemon.sock}", version="1.44")
    try:
        with pytest.raises(docker.errors.NotFound):
            c.pull(f"{registry.host}/nothing/here", tag="latest")
        with pytest.raises(docker.errors.APIError, match="no route to the internet"):
            c.pull("busybox", tag="latest")
    finally:
        c.close()
    assert shutil.which("true")
