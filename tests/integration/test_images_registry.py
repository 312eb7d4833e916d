"""Pull and push against the reference registry (Debian's ``docker-registry``) on 127.0.0.1:
anonymous, htpasswd Basic and Bearer-token auth; indexes, gzip/zstd/plain layers, resumed and
corrupt downloads, hostile layers, monolithic and chunked uploads; Docker Hub refused at once.

``ReferenceRegistry`` and ``TokenServer`` are imported by tests/compat as well.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import gzip
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import bcrypt
import jwt
import pytest
import zstandard
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from dockyard.distribution.auth import Credentials
from dockyard.distribution.client import RegistryClient
from dockyard.distribution.endpoint import RegistryUnreachable
from dockyard.errors import NotFound, Unauthorized
from dockyard.images.service import ImageService
from dockyard.oci import mediatypes as mt
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import digest_of
from dockyard.oci.manifest import build_manifest, canonical
from dockyard.oci.reference import parse
from tests.conftest import remove_tree

REGISTRY = shutil.which("docker-registry")
pytestmark = pytest.mark.skipif(REGISTRY is None, reason="apt-get install -y docker-registry")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ReferenceRegistry:
    """docker-registry on a free 127.0.0.1 port, storage in a temp folder; stopped by its pid."""

    def __init__(self, auth: dict[str, Any] | None = None, extra_yaml: str = "") -> None:
        """``auth``: the config's auth section as a dict; ``extra_yaml``: more top-level sections."""
        self.dir = Path(tempfile.mkdtemp(prefix=f"dockyard-registry-{os.getpid()}-"))
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        auth_yaml = ""
        if auth is not None:
            auth_yaml = "auth:\n" + "".join(
                f"  {kind}:\n" + "".join(f"    {k}: {v}\n" for k, v in conf.items())
                for kind, conf in auth.items()
            )
        (self.dir / "config.yml").write_text(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.dir / 'data'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.host}\n{auth_yaml}{extra_yaml}"
        )
        log = open(self.dir / "registry.log", "wb")  # noqa: SIM115  (Popen dups it)
        try:
            self.proc = subprocess.Popen(
                [str(REGISTRY), "serve", str(self.dir / "config.yml")], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        finally:
            log.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # 401: up, and asking for auth
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    text = self.log()  # before stop() removes the folder
                    self.stop()
                    raise RuntimeError(f"docker-registry did not start:\n{text}") from None
                time.sleep(0.05)

    def log(self) -> str:
        return (self.dir / "registry.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class TokenServer:
    """A minimal Docker token server (docs/spec/auth/token.md): RS256 JWTs with an x5c header,
    granting what the scope asks to one user/password; anonymous requests get 401."""

    service = "dockyard-test"
    issuer = "dockyard-test-issuer"

    def __init__(self, folder: Path, user: str, password: str) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dockyard test token signer")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )  # fmt: skip
        self.cert_path = folder / "token.pem"
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                if self.headers.get("Authorization") != server.expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps({"token": server.token(self.path)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def token(self, path: str) -> str:
        from urllib.parse import parse_qs, urlparse

        access = []
        for scope in parse_qs(urlparse(path).query).get("scope", []):
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": "tester", "aud": self.service, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": uuid.uuid4().hex, "access": access}  # fmt: skip
        der = self.cert.public_bytes(serialization.Encoding.DER)
        return jwt.encode(
            claims, self.key, algorithm="RS256", headers={"x5c": [base64.b64encode(der).decode()]}
        )

    def auth_config(self) -> dict[str, Any]:
        return {"token": {"realm": self.url, "service": self.service, "issuer": self.issuer,
                          "rootcertbundle": str(self.cert_path)}}  # fmt: skip

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


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


def collect(agen: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        return [m async for m in agen]

    return asyncio.run(run())


def errors(msgs: list[dict[str, Any]]) -> list[str]:
    return [m["error"] for m in msgs if "error" in m]


def tar_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gzip_fixed(data: bytes) -> bytes:
    """gzip with a fixed header time: the same bytes give the same blob digest."""
    return gzip.compress(data, mtime=0)


async def upload_image(
    host: str,
    path: str,
    tag: str,
    layers: list[tuple[bytes, str]],
    *,
    docker: bool = False,
    arch: str = "amd64",
    creds: Credentials | None = None,
) -> tuple[str, bytes]:
    """Push handcrafted layers ((tar, compression)) and a config; returns (manifest digest, bytes)."""
    zstd = zstandard.ZstdCompressor()
    packed: dict[str, Callable[[bytes], bytes]] = {"": bytes, "gzip": gzip_fixed, "zstd": zstd.compress}
    created = "2024-01-01T00:00:00Z"
    config = canonical({
        "architecture": arch, "os": "linux", "config": {"Cmd": ["/bin/true"]}, "created": created,
        "rootfs": {"type": "layers", "diff_ids": [digest_of(t) for t, _ in layers]},
        "history": [{"created": created, "created_by": f"layer {i}"} for i in range(len(layers))],
    })  # fmt: skip
    descs = []
    async with RegistryClient(host, creds) as c:
        for data, kind in layers:
            blob = packed[kind](data)
            d = digest_of(blob)
            await c.upload_blob(path, d, len(blob), lambda b=blob: io.BytesIO(b))  # type: ignore[misc]
            descs.append(Descriptor(mt.layer_type(kind, docker=docker), d, len(blob)))
        cd = digest_of(config)
        await c.upload_blob(path, cd, len(config), lambda: io.BytesIO(config))
        config_type = mt.DOCKER_CONFIG if docker else mt.OCI_CONFIG
        raw = build_manifest(Descriptor(config_type, cd, len(config)), descs, docker=docker)
        digest = await c.put_manifest(path, tag, mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST, raw)
    return digest, raw


def test_push_then_pull_gives_the_same_image(
    registry: ReferenceRegistry, svc: ImageService, tmp_path: Path
) -> None:
    busybox = svc.bootstrap_busybox()
    ref = f"{registry.host}/dockyard/busybox:v1"
    svc.tag("busybox", f"{registry.host}/dockyard/busybox", "v1")
    pushed = collect(svc.push(ref, None))
    assert not errors(pushed), pushed
    assert pushed[0] == {"status": f"The push refers to repository [{registry.host}/dockyard/busybox]"}
    statuses = [m.get("status") for m in pushed]
    assert "Preparing" in statuses and "Pushed" in statuses
    digest = pushed[-1]["aux"]["Digest"]
    assert pushed[-2]["status"].startswith(f"v1: digest: {digest} size: ")
    again = collect(svc.push(ref, None))
    assert "Layer already exists" in [m.get("status") for m in again]
    other = ImageService(tmp_path / "other")
    try:
        msgs = collect(other.pull(ref, None, None))
        assert not errors(msgs), msgs
        st = [m["status"] for m in msgs]
        assert st[0] == "Pulling from dockyard/busybox" and msgs[0]["id"] == "v1"
        assert st[1] == "Pulling fs layer" and "Download complete" in st and "Pull complete" in st
        assert any(m.get("progressDetail", {}).get("total") for m in msgs if m["status"] == "Downloading")
        assert st[-2:] == [f"Digest: {digest}", f"Status: Downloaded newer image for {ref}"]
        img = other.resolve(ref)
        assert img.id == busybox and img.repo_digests == [f"{registry.host}/dockyard/busybox@{digest}"]
        assert other.resolve(f"{registry.host}/dockyard/busybox@{digest}").id == busybox
        msgs = collect(other.pull(ref, None, None))
        assert [m["status"] for m in msgs][1:] == [
            "Already exists",
            f"Digest: {digest}",
            f"Status: Image is up to date for {ref}",
        ]
    finally:
        other.close()


@pytest.mark.parametrize("docker", [False, True], ids=["oci", "schema2"])
def test_pull_plain_gzip_zstd_layers_from_an_index(
    registry: ReferenceRegistry, svc: ImageService, docker: bool, tmp_path: Path
) -> None:
    path = f"mixed/{'docker' if docker else 'oci'}"
    kinds = ["gzip", "", "gzip"] if docker else ["gzip", "zstd", ""]
    layers = [(tar_of({f"l{i}": os.urandom(50_000), "top": str(i).encode()}), k) for i, k in enumerate(kinds)]
    arm = [(tar_of({"arm": b"arm"}), "gzip")]

    async def build() -> str:
        amd_digest, amd_raw = await upload_image(registry.host, path, "amd", layers, docker=docker)
        arm_digest, arm_raw = await upload_image(registry.host, path, "arm", arm, docker=docker, arch="arm64")
        entry = mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST
        index = canonical({
            "schemaVersion": 2, "mediaType": mt.DOCKER_MANIFEST_LIST if docker else mt.OCI_INDEX,
            "manifests": [
                {"mediaType": entry, "digest": arm_digest, "size": len(arm_raw),
                 "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
                {"mediaType": entry, "digest": amd_digest, "size": len(amd_raw),
                 "platform": {"os": "linux", "architecture": "amd64"}},
            ],
        })  # fmt: skip
        async with RegistryClient(registry.host) as c:
            return await c.put_manifest(
                path, "multi", mt.DOCKER_MANIFEST_LIST if docker else mt.OCI_INDEX, index
            )

    index_digest = asyncio.run(build())
    ref = f"{registry.host}/{path}:multi"
    msgs = collect(svc.pull(ref, None, "linux/amd64"))
    assert not errors(msgs), msgs
    img = svc.resolve(ref)
    assert img.repo_digests == [f"{registry.host}/{path}@{index_digest}"]  # the index's digest, as Docker
    assert [la.media_type for la in img.layers] == [mt.layer_type(k, docker=docker) for k in kinds]
    target = tmp_path / "root"
    svc.prepare_rootfs("c", img.id, target)
    try:
        assert sorted(os.listdir(target)) == ["l0", "l1", "l2", "top"] and (target / "top").read_text() == "2"
    finally:
        svc.unmount_rootfs("c", target)
        svc.remove_rootfs("c")
    msgs = collect(svc.pull(ref, None, "linux/arm64"))
    assert not errors(msgs) and svc.resolve(ref).layers[0].size == 3
    with pytest.raises(NotFound, match="no matching manifest for linux/s390x"):
        collect(svc.pull(ref, None, "linux/s390x"))


def test_resumed_and_corrupt_ingests(registry: ReferenceRegistry, svc: ImageService) -> None:
    blob_tar = tar_of({"big": os.urandom(2_000_000)})
    asyncio.run(upload_image(registry.host, "resume/me", "t", [(blob_tar, "gzip")]))
    blob = gzip_fixed(blob_tar)
    digest = digest_of(blob)
    ref = f"{registry.host}/resume/me:t"
    # A pull that broke after 1 MB: the next one continues from there (Range) and completes.
    w = svc.content.writer(f"pull-{digest}", digest, len(blob))
    w.write(blob[: 1 << 20])
    w.close()
    msgs = collect(svc.pull(ref, None, None))
    assert not errors(msgs), msgs
    assert svc.content.has(digest) and svc.content.ingests() == []
    downloading = [m["progressDetail"]["current"] for m in msgs if m["status"] == "Downloading"]
    assert downloading and downloading[0] > 1 << 20  # counted from the resumed offset
    # A corrupt partial ingest: the digest check fails, the ingest is dropped, a new pull works.
    svc.remove(ref, True, False, lambda i: False)
    w = svc.content.writer(f"pull-{digest}", digest, len(blob))
    w.write(b"\0" * 1000)
    w.close()
    msgs = collect(svc.pull(ref, None, None))
    assert any("digest mismatch" in e or "not a valid tar" in e or "gzip" in e for e in errors(msgs)), msgs
    assert svc.content.ingests() == [] and svc.snapshots.layers() == []
    assert not errors(collect(svc.pull(ref, None, None)))


def test_hostile_layer_is_refused_and_leaves_nothing(registry: ReferenceRegistry, svc: ImageService) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("../../../tmp/owned")
        info.size = 1
        t.addfile(info, io.BytesIO(b"x"))
    asyncio.run(upload_image(registry.host, "evil/layer", "t", [(buf.getvalue(), "gzip")]))
    msgs = collect(svc.pull(f"{registry.host}/evil/layer:t", None, None))
    assert any("refusing layer entry '../../../tmp/owned'" in e for e in errors(msgs)), msgs
    assert svc.list() == [] and svc.snapshots.layers() == []
    assert os.listdir(svc.snapshots.root / "tmp") == []


def test_chunked_push(registry: ReferenceRegistry, svc: ImageService, tmp_path: Path) -> None:
    svc.bootstrap_busybox()
    svc.push_chunk_size = 256 * 1024
    ref = f"{registry.host}/chunked/busybox:latest"
    svc.tag("busybox", ref, None)
    assert not errors(collect(svc.push(ref, None)))
    other = ImageService(tmp_path / "o")
    try:
        assert not errors(collect(other.pull(ref, None, None)))
        assert other.resolve(ref).id == svc.resolve("busybox").id
    finally:
        other.close()


def test_unknown_tag_and_unreachable_registries(registry: ReferenceRegistry, svc: ImageService) -> None:
    with pytest.raises(NotFound, match=r"manifest for .*/nope/nope:latest not found: manifest unknown"):
        collect(svc.pull(f"{registry.host}/nope/nope", None, None))
    start = time.monotonic()
    with pytest.raises(RegistryUnreachable, match=r"cannot pull docker\.io/library/busybox:latest: no route"):
        collect(svc.pull("busybox", None, None))
    assert time.monotonic() - start < 0.5  # refused before any name is resolved
    with pytest.raises(RegistryUnreachable, match=r"cannot reach registry 127\.0\.0\.1:"):
        collect(svc.pull(f"127.0.0.1:{free_port()}/x", None, None))


def test_basic_auth_htpasswd(svc: ImageService, tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_bytes(b"alice:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)) + b"\n")
    reg = ReferenceRegistry({"htpasswd": {"realm": "dockyard-test", "path": str(htpasswd)}})
    try:
        svc.bootstrap_busybox()
        ref = f"{reg.host}/private/bb:latest"
        svc.tag("busybox", ref, None)
        with pytest.raises(Unauthorized, match="needs a login"):
            collect(svc.push(ref, None))
        wrong = collect(svc.push(ref, {"username": "alice", "password": "nope"}))
        assert any("refused the credentials" in e or "unauthorized" in e for e in errors(wrong)), wrong
        assert not errors(collect(svc.push(ref, {"username": "alice", "password": "s3cret"})))
        svc.remove(ref, False, False, lambda i: False)
        with pytest.raises(Unauthorized):
            collect(svc.pull(ref, None, None))
        assert not errors(collect(svc.pull(ref, {"username": "alice", "password": "s3cret"}, None)))
    finally:
        reg.stop()


def test_bearer_token_flow(svc: ImageService, tmp_path: Path) -> None:
    tokens = TokenServer(tmp_path, "bob", "pw")
    reg = ReferenceRegistry(tokens.auth_config())
    try:
        svc.bootstrap_busybox()
        ref = f"{reg.host}/team/bb:1"
        svc.tag("busybox", ref, None)
        with pytest.raises(Unauthorized, match="refused anonymous access"):
            collect(svc.push(ref, None))
        pushed = collect(svc.push(ref, {"username": "bob", "password": "pw"}))
        assert not errors(pushed), (pushed, reg.log())
        assert any("scope=repository:team/bb:pull,push" in r for r in tokens.requests), tokens.requests
        assert all("service=dockyard-test" in r for r in tokens.requests)
        svc.remove(ref, False, False, lambda i: False)
        assert not errors(collect(svc.pull(ref, {"username": "bob", "password": "pw"}, None)))
        assert svc.resolve(ref).id == svc.resolve("busybox").id
    finally:
        reg.stop()
        tokens.stop()


def test_ping_and_parse_helpers(registry: ReferenceRegistry) -> None:
    async def go() -> None:
        async with RegistryClient(registry.host) as c:
            await c.ping()
            with pytest.raises(NotFound):
                await c.get_manifest("x/y", "latest")
            assert not await c.blob_exists("x/y", digest_of(b"nothing"))

    asyncio.run(go())
    assert parse(f"{registry.host}/a").domain == registry.host
