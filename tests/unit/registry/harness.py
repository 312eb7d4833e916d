"""Test helpers for the registry: real servers on loopback, images made on the spot, raw HTTP.

    free_port()                      a free TCP port on 127.0.0.1
    RegistryServer                   ``dockyard registry serve`` in a subprocess (stopped by pid)
    ReferenceRegistry                Debian's ``docker-registry`` (the Go reference) in a subprocess
    make_layer(files) -> bytes       a gzipped tar layer
    make_oci_layout(dir, tag, ...)   an OCI image layout skopeo can copy from
    Api                              small HTTP client (requests) with helpers to push blobs/manifests
    raw_request(...)                 http.client, for paths requests would normalise ("..")

Shared by tests/unit/registry, tests/integration/test_registry_*.py and tests/compat/test_registry_*.py.
Every server is stopped by its own pid in ``stop()`` (the fixtures call it in ``finally``).
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

PY = sys.executable
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def wait_http(url: str, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll until something answers HTTP(S) at ``url`` (any status; certificates not checked)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # urllib3's InsecureRequestWarning for verify=False
                requests.get(url, timeout=1, verify=False)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing answered at {url} within {timeout} s")


class RegistryServer:
    """``dockyard registry serve`` on 127.0.0.1:<free port> with its own storage folder."""

    def __init__(
        self,
        storage: str,
        *,
        auth: bool = False,
        extra: list[str] | None = None,
        env: dict[str, str] | None = None,
        settings: dict[str, Any] | None = None,
        port: int | None = None,
    ) -> None:
        self.storage = storage
        self._own_port = port is None
        self.port = port or free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.extra = list(extra or [])
        self.url = f"{'https' if '--tls-cert' in self.extra else 'http'}://{self.addr}"
        self.auth = auth
        self.env = dict(os.environ, **(env or {}))
        self.folder = tempfile.mkdtemp(prefix=f"dockyard-registry-{os.getpid()}-")
        self.config = os.path.join(self.folder, "registry.toml")
        lines = ["bcrypt_rounds = 4"]  # fast hashing in tests; production default is 12
        for k, v in (settings or {}).items():
            lines.append(f"{k} = {json.dumps(v)}")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        self.log_path = os.path.join(self.folder, "server.log")
        self.proc: subprocess.Popen[bytes] | None = None

    def cmd(self, *args: str) -> list[str]:
        return [PY, "-m", "dockyard.registry.cli", *args]

    def start(self) -> RegistryServer:
        # A free port found by bind-and-close may be taken by another process before the server
        # binds it (parallel test runs): pick another one then, when the port was ours to pick.
        for attempt in range(3):
            args = ["serve", "--config", self.config, "--addr", self.addr, "--storage", self.storage]
            args += self.extra
            if not self.auth:
                args.append("--no-auth")
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    self.cmd(*args), stdout=log, stderr=log, env=self.env, stdin=subprocess.DEVNULL
                )
            try:
                wait_http(self.url + "/v2/", proc=self.proc)
                return self
            except RuntimeError as e:
                if not self._own_port or attempt == 2 or "address already in use" not in self.log().lower():
                    raise RuntimeError(f"{e}; its log ends:\n{self.log()[-3000:]}") from None
            self.port = free_port()
            self.addr = f"127.0.0.1:{self.port}"
            self.url = self.url.rsplit(":", 1)[0] + f":{self.port}"
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: no cleanup runs in the server (the crash tests)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def admin(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run an account command (``user add alice --password-stdin`` ...) on this registry's data."""
        full = [args[0], "--config", self.config, "--storage", self.storage, *args[1:]]
        return subprocess.run(
            self.cmd(*full), input=input, capture_output=True, text=True, env=self.env, timeout=60
        )

    def add_user(self, name: str, password: str, *, admin: bool = False) -> None:
        extra = ["--admin"] if admin else []
        res = self.admin("user", "add", name, "--password-stdin", *extra, input=password + "\n")
        assert res.returncode == 0, res.stderr

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def running_registry(storage: str | None = None, **kwargs: Any) -> Iterator[RegistryServer]:
    own = storage is None
    folder = storage or tempfile.mkdtemp(prefix=f"dockyard-registry-data-{os.getpid()}-")
    server = RegistryServer(folder, **kwargs)
    try:
        yield server.start()
    finally:
        server.close()
        if own:
            shutil.rmtree(folder, ignore_errors=True)


class ReferenceRegistry:
    """Debian's docker-registry (distribution 2.8) with a filesystem store, deletes enabled."""

    BINARY = "/usr/bin/docker-registry"

    def __init__(self) -> None:
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.addr}"
        self.folder = tempfile.mkdtemp(prefix=f"dockyard-refregistry-{os.getpid()}-")
        self.config = os.path.join(self.folder, "config.yml")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                f"storage:\n  filesystem:\n    rootdirectory: {self.folder}/data\n"
                "  delete:\n    enabled: true\n"
                f"http:\n  addr: {self.addr}\n"
            )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ReferenceRegistry:
        log = open(os.path.join(self.folder, "log"), "ab")  # noqa: SIM115 -- kept by the child
        self.proc = subprocess.Popen(
            [self.BINARY, "serve", self.config], stdout=log, stderr=log, stdin=subprocess.DEVNULL
        )
        log.close()
        wait_http(self.url + "/v2/", proc=self.proc)
        return self

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        shutil.rmtree(self.folder, ignore_errors=True)


# ---------------------------------------------------------------- images


def make_layer(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def image_config(layers: list[bytes], **config: Any) -> bytes:
    diff_ids = [sha256(gzip.decompress(layer)) for layer in layers]
    doc = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], **config},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created": "2026-01-01T00:00:00Z", "created_by": f"layer {i}"} for i in range(len(layers))
        ],
    }
    return json.dumps(doc, sort_keys=True).encode()


def image_manifest(config: bytes, layers: list[bytes], *, docker: bool = False, **extra: Any) -> bytes:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
        "config": {
            "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
            "digest": sha256(config),
            "size": len(config),
        },
        "layers": [
            {"mediaType": DOCKER_LAYER if docker else OCI_LAYER, "digest": sha256(la), "size": len(la)}
            for la in layers
        ],
        **extra,
    }
    return json.dumps(doc, indent=2).encode()


def make_oci_layout(folder: str, tag: str, layers: list[bytes], **config: Any) -> str:
    """An OCI image layout at ``folder`` with one image tagged ``tag``; returns the manifest digest."""
    blobs = os.path.join(folder, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    cfg = image_config(layers, **config)
    manifest = image_manifest(cfg, layers)
    for data in [*layers, cfg, manifest]:
        with open(os.path.join(blobs, sha256(data).split(":")[1]), "wb") as f:
            f.write(data)
    with open(os.path.join(folder, "oci-layout"), "w", encoding="utf-8") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": sha256(manifest),
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    with open(os.path.join(folder, "index.json"), "w", encoding="utf-8") as f:
        json.dump(index, f)
    return sha256(manifest)


# ---------------------------------------------------------------- HTTP


class Api:
    """requests against one registry; ``auth`` is (user, password) for Basic, or a Bearer token."""

    def __init__(self, url: str, auth: tuple[str, str] | str | None = None) -> None:
        self.url = url
        self.url_label = url  # which implementation, for suites run against several
        self.s = requests.Session()
        if isinstance(auth, tuple):
            self.s.auth = auth
        elif isinstance(auth, str):
            self.s.headers["Authorization"] = f"Bearer {auth}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        kwargs.setdefault("allow_redirects", False)
        return self.s.request(method, self.url + path, **kwargs)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def head(self, path: str, **kw: Any) -> requests.Response:
        return self.request("HEAD", path, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PUT", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, **kw)

    def push_blob(self, name: str, data: bytes) -> str:
        """POST a session, PUT the whole blob with ?digest= (the common two-step push)."""
        r = self.post(f"/v2/{name}/blobs/uploads/")
        assert r.status_code == 202, (r.status_code, r.text)
        loc = r.headers["Location"]
        sep = "&" if "?" in loc else "?"
        d = sha256(data)
        target = loc if loc.startswith("http") else self.url + loc
        r = self.s.put(
            f"{target}{sep}digest={d}", data=data, headers={"Content-Type": "application/octet-stream"}
        )
        assert r.status_code == 201, (r.status_code, r.text)
        return d

    def push_manifest(self, name: str, ref: str, body: bytes, media_type: str) -> requests.Response:
        return self.put(f"/v2/{name}/manifests/{ref}", data=body, headers={"Content-Type": media_type})

    def push_image(
        self, name: str, tag: str, layers: list[bytes] | None = None, *, docker: bool = False, **extra: Any
    ) -> tuple[str, bytes]:
        layers = layers if layers is not None else [make_layer({"hello": f"{name}:{tag}".encode()})]
        cfg = image_config(layers)
        for blob in [cfg, *layers]:
            self.push_blob(name, blob)
        manifest = image_manifest(cfg, layers, docker=docker, **extra)
        r = self.push_manifest(name, tag, manifest, DOCKER_MANIFEST if docker else OCI_MANIFEST)
        assert r.status_code == 201, (r.status_code, r.text)
        return sha256(manifest), manifest


def raw_request(
    addr: str, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request with the path sent byte for byte (no dot-segment normalisation)."""
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def error_codes(resp: requests.Response) -> list[str]:
    return [e["code"] for e in resp.json().get("errors", [])]
