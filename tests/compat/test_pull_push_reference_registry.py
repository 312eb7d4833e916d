"""Interop of dockyard's image store with the real peers, through the reference registry
(Debian's docker-registry) and docker-archive files:

    dockyard push  -> docker pull, skopeo copy (to an OCI layout, and back as zstd) -> dockyard pull
    docker push    -> dockyard pull        docker save -> dockyard load
    dockyard save  -> docker load (and docker run of the loaded image)

The same image must keep the same id everywhere (the config digest is the id).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.images.service import ImageService
from tests.compat.engines import (  # noqa: F401
    Dockerd,
    busybox_layer_fixture,
    dockerd_fixture,
    engines_dir_fixture,
)
from tests.conftest import remove_tree
from tests.integration.test_images_registry import ReferenceRegistry

pytestmark = [pytest.mark.compat, pytest.mark.root]
SKOPEO = shutil.which("skopeo")


def collect(agen: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        return [m async for m in agen]

    msgs = asyncio.run(run())
    assert not [m for m in msgs if "error" in m], msgs
    return msgs


@pytest.fixture(scope="module")
def registry() -> Iterator[ReferenceRegistry]:
    reg = ReferenceRegistry()
    try:
        yield reg
    finally:
        reg.stop()


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[ImageService]:
    root = tmp_path / f"compat-images-{os.getpid()}"
    s = ImageService(root)
    try:
        yield s
    finally:
        s.close()
        remove_tree(str(root))


def test_dockyard_push_docker_pull_and_back(
    dockerd: Dockerd, registry: ReferenceRegistry, svc: ImageService
) -> None:
    image_id = svc.bootstrap_busybox()
    ref = f"{registry.host}/compat/dockyard-busybox:1"
    svc.tag("busybox", ref, None)
    collect(svc.push(ref, None))
    dockerd.text("pull", ref, timeout=60)
    assert dockerd.text("image", "inspect", "--format", "{{.Id}}", ref) == image_id
    out = dockerd.text("run", "--rm", "--network", "none", ref, "sh", "-c", "echo from-dockyard", timeout=60)
    assert out == "from-dockyard"
    dockerd("rmi", ref)


def test_docker_push_and_save_dockyard_pull_and_load(
    dockerd: Dockerd, registry: ReferenceRegistry, svc: ImageService, tmp_path: Path
) -> None:
    ref = f"{registry.host}/compat/from-docker:1"
    dockerd.text("tag", dockerd.image, ref)
    dockerd.text("push", ref, timeout=60)
    docker_id = dockerd.text("image", "inspect", "--format", "{{.Id}}", ref)
    collect(svc.pull(ref, None, None))
    assert svc.resolve(ref).id == docker_id
    archive = tmp_path / "docker-save.tar"
    dockerd.text("save", "-o", str(archive), dockerd.image, timeout=60)
    with open(archive, "rb") as f:
        msgs = list(svc.load(f))
    assert {"stream": f"Loaded image: {dockerd.image}\n"} in msgs
    assert svc.resolve(dockerd.image).id == docker_id
    dockerd("rmi", ref)


def test_dockyard_save_docker_load(dockerd: Dockerd, svc: ImageService, tmp_path: Path) -> None:
    image_id = svc.bootstrap_busybox()
    svc.tag("busybox", "dockyard-saved", "v1")
    archive = tmp_path / "dockyard-save.tar"
    with open(archive, "wb") as f:
        for chunk in svc.save(["dockyard-saved:v1"]):
            f.write(chunk)
    out = dockerd.text("load", "-i", str(archive), timeout=60)
    assert "Loaded image: dockyard-saved:v1" in out
    assert dockerd.text("image", "inspect", "--format", "{{.Id}}", "dockyard-saved:v1") == image_id
    assert dockerd.text("run", "--rm", "--network", "none", "dockyard-saved:v1", "echo", "loaded") == "loaded"
    dockerd("rmi", "dockyard-saved:v1")


@pytest.mark.skipif(SKOPEO is None, reason="apt-get install -y skopeo")
def test_skopeo_copies_our_push_and_we_load_its_oci_layout(
    dockerd: Dockerd, registry: ReferenceRegistry, svc: ImageService, tmp_path: Path
) -> None:
    image_id = svc.bootstrap_busybox()
    ref = f"{registry.host}/compat/skopeo:src"
    svc.tag("busybox", ref, None)
    collect(svc.push(ref, None))
    layout = tmp_path / "layout"
    skopeo("copy", "--src-tls-verify=false", f"docker://{ref}", f"oci:{layout}:x")
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs/sha256" / manifest_digest).read_text())
    assert manifest["config"]["digest"] == image_id
    # skopeo's copy back into another repository pulls into the same image.
    copy = f"{registry.host}/compat/skopeo-copy:1"
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:x", f"docker://{copy}")
    collect(svc.pull(copy, None, None))
    assert svc.resolve(copy).id == image_id
    # docker's gzip layers in an OCI layout written by skopeo: loaded as an OCI archive.
    pushed = f"{registry.host}/compat/for-skopeo:1"
    dockerd.text("tag", dockerd.image, pushed)
    dockerd.text("push", pushed, timeout=60)
    docker_layers = json.loads(
        dockerd.text("image", "inspect", "--format", "{{json .RootFS.Layers}}", pushed)
    )
    gz = tmp_path / "gz"
    skopeo("copy", "--src-tls-verify=false", f"docker://{pushed}", f"oci:{gz}:{pushed}")
    archive = tmp_path / "oci.tar"
    subprocess.run(["tar", "-C", str(gz), "-cf", str(archive), "."], check=True)
    other = ImageService(tmp_path / "other")
    try:
        with open(archive, "rb") as f:
            msgs = list(other.load(f))
        assert msgs[-1] == {"stream": f"Loaded image: {pushed}\n"}
        img = other.resolve(pushed)
        # skopeo rewrites the config for OCI (a new id); the layers are docker's, gzip as pushed.
        assert [la.diff_id for la in img.layers] == docker_layers
        assert img.layers[0].media_type.endswith("gzip")
    finally:
        other.close()
    dockerd("rmi", pushed)


def skopeo(*args: str) -> None:
    res = subprocess.run([str(SKOPEO), *args], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"skopeo {' '.join(args)}: {res.stderr}"
