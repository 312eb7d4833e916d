"""skopeo, a real client, copies images to and from dockyard's registry both ways: anonymous on an
open registry, and with ``--dest-creds``/``--src-creds`` through token auth on a private one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.unit.registry.harness import RegistryServer, make_layer, make_oci_layout, running_registry

SKOPEO = shutil.which("skopeo")

pytestmark = [pytest.mark.compat]


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    assert SKOPEO, "skopeo is not installed: apt-get install -y skopeo (./scripts/install.sh test does)"
    return subprocess.run([SKOPEO, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    folder = str(tmp_path_factory.mktemp("oci") / "img")
    layers = [make_layer({f"file{i}": os.urandom(200_000)}) for i in range(3)]
    digest = make_oci_layout(folder, "v1", layers, Labels={"app": "demo"})
    return folder, digest


@pytest.fixture(scope="module")
def open_registry() -> Iterator[RegistryServer]:
    with running_registry() as server:
        yield server


def blobs_of(folder: str) -> set[str]:
    path = os.path.join(folder, "blobs", "sha256")
    return set(os.listdir(path)) if os.path.isdir(path) else set()


def test_skopeo_copies_to_and_from_dockyard(
    open_registry: RegistryServer, layout: tuple[str, str], tmp_path: str
) -> None:
    src, digest = layout
    ref = f"docker://{open_registry.addr}/skopeo{os.getpid()}/demo:v1"
    up = skopeo("copy", "--dest-tls-verify=false", f"oci:{src}:v1", ref)
    assert up.returncode == 0, up.stderr
    info = skopeo("inspect", "--tls-verify=false", ref)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["Digest"] == digest
    assert json.loads(info.stdout)["Labels"] == {"app": "demo"}
    back = os.path.join(str(tmp_path), "back")
    down = skopeo("copy", "--src-tls-verify=false", ref, f"oci:{back}:v1")
    assert down.returncode == 0, down.stderr
    assert blobs_of(back) == blobs_of(src)


def test_skopeo_converts_to_docker_schema2_and_back(
    open_registry: RegistryServer, layout: tuple[str, str], tmp_path: str
) -> None:
    src, _ = layout
    ref = f"docker://{open_registry.addr}/skopeo{os.getpid()}/schema2:v1"
    up = skopeo("copy", "--dest-tls-verify=false", "--format", "v2s2", f"oci:{src}:v1", ref)
    assert up.returncode == 0, up.stderr
    raw = skopeo("inspect", "--raw", "--tls-verify=false", ref)
    assert json.loads(raw.stdout)["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    down = skopeo("copy", "--src-tls-verify=false", ref, f"dir:{tmp_path}/dir")
    assert down.returncode == 0, down.stderr


def test_skopeo_with_credentials_on_a_private_registry(layout: tuple[str, str], tmp_path: str) -> None:
    src, digest = layout
    with running_registry(auth=True) as server:
        server.add_user("alice", "alice-secret-1")
        server.add_user("bob", "bob-secret-12")
        ref = f"docker://{server.addr}/alice/app:v1"
        anon = skopeo("copy", "--dest-tls-verify=false", f"oci:{src}:v1", ref)
        assert anon.returncode != 0
        up = skopeo(
            "copy", "--dest-tls-verify=false", "--dest-creds", "alice:alice-secret-1", f"oci:{src}:v1", ref
        )
        assert up.returncode == 0, up.stderr
        down = skopeo(
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            "alice:alice-secret-1",
            ref,
            f"oci:{tmp_path}/back:v1",
        )
        assert down.returncode == 0, down.stderr
        assert blobs_of(f"{tmp_path}/back") == blobs_of(src)
        # bob is signed in but it is alice's private repository: refused, nothing copied.
        other = skopeo(
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            "bob:bob-secret-12",
            ref,
            f"oci:{tmp_path}/bob:v1",
        )
        assert other.returncode != 0
        assert not blobs_of(f"{tmp_path}/bob")
        push_other = skopeo(
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            "bob:bob-secret-12",
            f"oci:{src}:v1",
            ref.replace(":v1", ":bob"),
        )
        assert push_other.returncode != 0
        info = skopeo("inspect", "--tls-verify=false", "--creds", "alice:alice-secret-1", ref)
        assert json.loads(info.stdout)["Digest"] == digest
