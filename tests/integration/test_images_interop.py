"""Interop with the real peers (must-show 1 of the image issue): images pushed by dockyard are
pulled by skopeo and unpacked by umoci; images pushed by skopeo (gzip and zstd layers) are pulled
and run by dockyard; the real dockerd's `docker save` loads into dockyard and dockyard's save
loads back into dockerd; skopeo reads dockyard's save as oci-archive and docker-archive, and
dockyard loads what skopeo writes in both formats."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.images.service import ImageService
from tests.compat.engines import (  # noqa: F401  (fixtures)
    Dockerd,
    busybox_layer_fixture,
    dockerd_fixture,
    engines_dir_fixture,
    write_oci_archive,
)
from tests.conftest import remove_tree
from tests.integration.test_images_registry import ReferenceRegistry, collect, errors

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("docker-registry", "skopeo", "umoci")),
    reason="apt-get install -y docker-registry skopeo umoci",
)


@pytest.fixture(scope="module")
def registry() -> Iterator[ReferenceRegistry]:
    reg = ReferenceRegistry()
    try:
        yield reg
    finally:
        reg.stop()


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[ImageService]:
    root = tmp_path / f"images-{os.getpid()}"
    s = ImageService(root)
    try:
        yield s
    finally:
        s.close()
        remove_tree(str(root))


def run(*argv: str, timeout: float = 120) -> str:
    res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"{' '.join(argv)}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res.stdout


def test_pushed_by_dockyard_pulled_by_skopeo_unpacked_by_umoci(
    registry: ReferenceRegistry, svc: ImageService, tmp_path: Path
) -> None:
    svc.bootstrap_busybox()
    ref = f"{registry.host}/interop/busybox:v1"
    svc.tag("busybox", ref, None)
    assert not errors(collect(svc.push(ref, None)))
    layout = tmp_path / "layout"
    run("skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}", f"oci:{layout}:v1")
    bundle = tmp_path / "bundle"
    run("umoci", "unpack", "--image", f"{layout}:v1", str(bundle))
    assert (bundle / "rootfs" / "bin" / "busybox").is_file()
    config = json.loads((bundle / "config.json").read_text())
    assert config["process"]["args"] == svc.resolve("busybox").config["config"]["Cmd"]


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_pushed_by_skopeo_pulled_and_run_by_dockyard(
    registry: ReferenceRegistry, dockyard_daemon: Any, busybox_layer: Path, tmp_path: Path, compression: str
) -> None:
    # A layer of its own per compression: skopeo would reuse a blob it pushed before in another one.
    layer = tmp_path / "layer.tar"
    shutil.copy(busybox_layer, layer)
    with tarfile.open(layer, "a") as t:
        info = tarfile.TarInfo("compression")
        info.size = len(compression)
        t.addfile(info, io.BytesIO(compression.encode()))
    archive = write_oci_archive(layer, tmp_path / "oci.tar", "skopeo")
    ref = f"{registry.host}/interop/skopeo-{compression}:1"
    run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"--dest-compress-format={compression}",
        f"oci-archive:{archive}", f"docker://{ref}")  # fmt: skip
    raw = json.loads(run("skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"))
    assert raw["layers"][0]["mediaType"].endswith("tar+" + compression)
    d = dockyard_daemon
    try:
        d.docker("pull", "-q", ref)
        assert (
            d.docker("run", "--rm", ref, "echo", f"hi from {compression}").stdout
            == f"hi from {compression}\n"
        )
    finally:
        d.docker("rmi", "-f", ref, check=False)


def test_docker_save_loads_into_dockyard_and_back(
    dockerd: Dockerd, dockyard_daemon: Any, tmp_path: Path
) -> None:
    saved = tmp_path / "dockerd-save.tar"
    dockerd.text("tag", dockerd.image, "interop/from-dockerd:1")
    dockerd.text("save", "-o", str(saved), "interop/from-dockerd:1")
    docker_id = dockerd.inspect("interop/from-dockerd:1")["Id"]
    d = dockyard_daemon
    try:
        out = d.docker("load", "-i", str(saved)).stdout
        assert "Loaded image: interop/from-dockerd:1" in out
        ours = json.loads(d.docker("image", "inspect", "interop/from-dockerd:1").stdout)[0]
        assert ours["Id"] == docker_id
        assert d.docker("run", "--rm", "interop/from-dockerd:1", "echo", "loaded").stdout == "loaded\n"
        back = tmp_path / "dockyard-save.tar"
        d.docker("tag", "interop/from-dockerd:1", "interop/from-dockyard:2")
        d.docker("save", "-o", str(back), "interop/from-dockyard:2")
        out = dockerd.text("load", "-i", str(back))
        assert "interop/from-dockyard:2" in out
        assert dockerd.inspect("interop/from-dockyard:2")["Id"] == docker_id
    finally:
        d.docker("rmi", "-f", "interop/from-dockerd:1", "interop/from-dockyard:2", check=False)
        dockerd("rmi", "-f", "interop/from-dockerd:1", "interop/from-dockyard:2")


def test_skopeo_reads_our_save_in_both_formats_and_we_load_its_archives(
    svc: ImageService, tmp_path: Path
) -> None:
    busybox = svc.bootstrap_busybox()
    saved = tmp_path / "save.tar"
    saved.write_bytes(b"".join(svc.save(["busybox"])))
    as_oci = tmp_path / "skopeo-oci.tar"
    as_docker = tmp_path / "skopeo-docker.tar"
    run(
        "skopeo",
        "copy",
        "--quiet",
        f"oci-archive:{saved}:latest",
        f"oci-archive:{as_oci}:busybox:oci",
    )
    run(
        "skopeo",
        "copy",
        "--quiet",
        f"docker-archive:{saved}",
        f"docker-archive:{as_docker}:skopeo/busybox:docker",
    )
    other = ImageService(tmp_path / "other")
    try:
        with open(as_docker, "rb") as f:
            msgs = list(other.load(f))
        assert {"stream": "Loaded image: skopeo/busybox:docker\n"} in msgs
        assert other.resolve("skopeo/busybox:docker").id == busybox
        with open(as_oci, "rb") as f:
            msgs = list(other.load(f))
        assert msgs[-1]["stream"].startswith("Loaded image")
        assert other.inspect("skopeo/busybox:docker")["RootFS"] == svc.inspect("busybox")["RootFS"]
    finally:
        other.close()
