"""The oras Python package (a real OCI 1.1 client) pushes an artifact whose ``subject`` is an image,
the referrers API lists it, and oras pulls it back: on a registry with accounts (token auth)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import oras.client  # type: ignore[import-untyped]
import oras.oci  # type: ignore[import-untyped]
import pytest
import requests

from tests.unit.registry.harness import OCI_MANIFEST, Api, RegistryServer, running_registry

pytestmark = [pytest.mark.compat]


@pytest.fixture(scope="module")
def server() -> Iterator[RegistryServer]:
    with running_registry(auth=True) as srv:
        srv.add_user("alice", "alice-pass-1")
        yield srv


def test_oras_pushes_and_pulls_an_artifact_with_a_subject(
    server: RegistryServer, tmp_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tok = requests.get(
        f"{server.url}/token",
        auth=("alice", "alice-pass-1"),
        timeout=10,
        params={"scope": "repository:alice/app:pull,push"},
    ).json()["token"]
    subject_digest, subject_body = Api(server.url, tok).push_image("alice/app", "v1")

    monkeypatch.chdir(str(tmp_path))  # oras only pushes files below the working directory
    with open("sbom.json", "w", encoding="utf-8") as f:
        f.write('{"packages": ["busybox"]}')
    client = oras.client.OrasClient(hostname=server.addr, insecure=True)
    client.login(username="alice", password="alice-pass-1", hostname=server.addr)
    subject = oras.oci.Subject(mediaType=OCI_MANIFEST, digest=subject_digest, size=len(subject_body))
    resp = client.push(
        target=f"{server.addr}/alice/app:sbom",
        files=["sbom.json:application/vnd.example.sbom+json"],
        manifest_annotations={"org.example.kind": "sbom"},
        subject=subject,
        quiet=True,
    )
    assert resp.status_code == 201
    assert resp.headers["OCI-Subject"] == subject_digest
    artifact_digest = resp.headers["Docker-Content-Digest"]

    api = Api(server.url, tok)
    listed = api.get(f"/v2/alice/app/referrers/{subject_digest}").json()["manifests"]
    assert [m["digest"] for m in listed] == [artifact_digest]
    assert listed[0]["annotations"] == {"org.example.kind": "sbom"}

    out = os.path.join(str(tmp_path), "out")
    files = client.pull(target=f"{server.addr}/alice/app:sbom", outdir=out)
    assert [os.path.basename(p) for p in files] == ["sbom.json"]
    with open(files[0], encoding="utf-8") as f:
        assert f.read() == '{"packages": ["busybox"]}'
