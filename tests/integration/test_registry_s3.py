"""The S3 driver against moto's standalone S3 server on loopback, with two registry replicas on one
bucket: what one replica stores, the other serves; an upload begun on one finishes on the other."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import boto3
import pytest
import requests

from tests.unit.registry.harness import (
    OCI_MANIFEST,
    Api,
    RegistryServer,
    free_port,
    make_layer,
    sha256,
    wait_http,
)

# Loopback only: dummy keys, no instance-metadata lookups, no user config files.
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    moto = os.path.join(os.path.dirname(sys.executable), "moto_server")
    proc = subprocess.Popen(
        [moto, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, **S3_ENV),
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url, proc=proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    name = f"registry-{os.getpid()}-{free_port()}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def replicas(s3_endpoint: str, bucket: str, tmp_path: str) -> Iterator[list[RegistryServer]]:
    servers = [
        RegistryServer(f"s3://{bucket}/store", extra=["--s3-endpoint", s3_endpoint], env=S3_ENV)
        for _ in range(2)
    ]
    try:
        for s in servers:
            s.start()
        yield servers
    finally:
        for s in servers:
            s.close()


def test_push_through_one_replica_pull_through_the_other(replicas: list[RegistryServer]) -> None:
    a, b = Api(replicas[0].url), Api(replicas[1].url)
    name = f"s3{os.getpid()}/app"
    big = make_layer({"big": os.urandom(9 * 1024 * 1024)})  # over one 8 MiB part: multipart upload
    digest, body = a.push_image(name, "v1", [big])
    got = b.get(f"/v2/{name}/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert got.status_code == 200
    assert got.content == body
    assert b.get(f"/v2/{name}/blobs/{sha256(big)}").content == big
    part = b.get(f"/v2/{name}/blobs/{sha256(big)}", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == big[100:200]
    assert b.get(f"/v2/{name}/tags/list").json()["tags"] == ["v1"]
    assert name in b.get("/v2/_catalog").json()["repositories"]
    assert b.delete(f"/v2/{name}/manifests/{digest}").status_code == 202
    assert a.get(f"/v2/{name}/manifests/v1").status_code == 404


def test_upload_started_on_one_replica_finishes_on_the_other(replicas: list[RegistryServer]) -> None:
    a, b = replicas
    name = f"s3{os.getpid()}/chunks"
    data = os.urandom(300_000)
    r = requests.post(f"{a.url}/v2/{name}/blobs/uploads/", timeout=10)
    loc = r.headers["Location"]
    r = requests.patch(f"{a.url}{loc}", data=data[:100_000], headers={"Content-Range": "0-99999"}, timeout=10)
    assert r.status_code == 202
    r = requests.patch(
        f"{b.url}{loc}", data=data[100_000:], headers={"Content-Range": f"100000-{len(data) - 1}"}, timeout=10
    )
    assert r.status_code == 202, r.text
    r = requests.put(f"{a.url}{loc}?digest={sha256(data)}", timeout=10)
    assert r.status_code == 201, r.text
    assert requests.get(f"{b.url}/v2/{name}/blobs/{sha256(data)}", timeout=10).content == data
    bad = requests.post(f"{a.url}/v2/{name}/blobs/uploads/?digest={sha256(b'x')}", data=b"y", timeout=10)
    assert bad.status_code == 400
    assert requests.head(f"{b.url}/v2/{name}/blobs/{sha256(b'x')}", timeout=10).status_code == 404


def test_tokens_from_one_replica_work_on_the_other(s3_endpoint: str, bucket: str, tmp_path: str) -> None:
    shared = str(tmp_path)
    extra = [
        "--s3-endpoint",
        s3_endpoint,
        "--accounts",
        f"{shared}/accounts.db",
        "--token-key",
        f"{shared}/key.pem",
    ]
    servers = [RegistryServer(f"s3://{bucket}/auth", auth=True, extra=extra, env=S3_ENV) for _ in range(2)]
    try:
        for s in servers:
            s.start()
        res = subprocess.run(
            servers[0].cmd(
                "user",
                "--config",
                servers[0].config,
                "--accounts",
                f"{shared}/accounts.db",
                "add",
                "alice",
                "--password-stdin",
            ),
            input="alice-pass-1\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 0, res.stderr
        tok = requests.get(
            f"{servers[0].url}/token",
            auth=("alice", "alice-pass-1"),
            timeout=10,
            params={"scope": "repository:alice/app:pull,push"},
        ).json()["token"]
        digest, _ = Api(servers[0].url, tok).push_image("alice/app", "v1")
        assert Api(servers[1].url, tok).get(f"/v2/alice/app/manifests/{digest}").status_code == 200
        assert Api(servers[1].url).get(f"/v2/alice/app/manifests/{digest}").status_code == 401
    finally:
        for s in servers:
            s.close()
