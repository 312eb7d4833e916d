"""A registry that serves whatever it is given: crafted images for the hostile-input suite.

The reference registry checks digests when content is pushed, so it cannot serve a blob that
lies about its digest, an index that names itself, or a 100 MiB manifest. This one serves
``manifests[(repo, ref)]`` and ``blobs[digest]`` exactly as set, on 127.0.0.1, and:

    Range requests (206), so resumed pulls can be tested
    pushes: POST/PATCH/PUT uploads (``uploaded[digest]``, digest checked) and manifest PUTs
            (``pushed[(repo, tag)]``), each request in ``requests`` as "METHOD path"
    counts the blob bytes it sent (``sent[digest]``)
    ``cut[digest] = n``: the next download of that blob stops after n bytes (the connection is
                         closed mid-body, as a network drop), once
    ``rate``: bytes per second per blob download (None: as fast as it goes)
    ``headers_only_length``: declare a Content-Length without sending all of it (manifests)

It is stopped by its fixture; its thread is a daemon thread of the test process.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class StaticRegistry:
    def __init__(self) -> None:
        self.manifests: dict[tuple[str, str], tuple[str, bytes | Callable[[], Iterator[bytes]]]] = {}
        self.blobs: dict[str, bytes] = {}
        self.foreign: dict[str, bytes] = {}  # served at /foreign/<digest>, not under /v2/
        self.sent: dict[str, int] = {}
        self.cut: dict[str, int] = {}
        self.rate: float | None = None
        self.requests: list[str] = []
        self.uploads: dict[str, bytearray] = {}  # upload id -> bytes so far
        self.uploaded: dict[str, bytes] = {}  # blobs pushed, by digest
        self.pushed: dict[tuple[str, str], tuple[str, bytes]] = {}  # manifests pushed: media type, bytes
        self.lock = threading.Lock()
        self.active = 0  # blob downloads in progress, and the most seen at once
        self.max_active = 0
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self.do_GET(head=True)

            def do_GET(self, head: bool = False) -> None:
                self.head = head  # an error answer to HEAD has no body either
                registry.requests.append(f"{self.command} {self.path}")
                path = self.path.split("?")[0]
                if path == "/v2/":
                    return self._send(200, b"{}", "application/json", head)
                if "/manifests/" in path:
                    repo, ref = path[len("/v2/") :].split("/manifests/")
                    found = registry.manifests.get((repo, ref))
                    if found is None:
                        return self._error(404, "MANIFEST_UNKNOWN", "manifest unknown")
                    media_type, body = found
                    if callable(body):
                        return self._stream(body(), media_type)
                    return self._send(200, body, media_type, head)
                if path.startswith("/foreign/"):
                    digest = path.rsplit("/", 1)[1]
                    data = registry.foreign.get(digest)
                    if data is None:
                        return self._error(404, "BLOB_UNKNOWN", "no such foreign blob")
                    return self._blob(digest, data, head)
                if "/blobs/" in path:
                    digest = path.rsplit("/", 1)[1]
                    data = registry.blobs.get(digest)
                    if data is None:
                        return self._error(404, "BLOB_UNKNOWN", "blob unknown to registry")
                    return self._blob(digest, data, head)
                if path.endswith("/tags/list"):
                    repo = path[len("/v2/") : -len("/tags/list")]
                    tags = sorted(r for (p, r), _ in registry.manifests.items() if p == repo and ":" not in r)
                    return self._send(200, canonical({"name": repo, "tags": tags}), "application/json", head)
                return self._error(404, "NAME_UNKNOWN", "unknown")

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_POST(self) -> None:
                registry.requests.append(f"POST {self.path}")
                path = self.path.split("?")[0]
                if not path.endswith("/blobs/uploads/"):
                    return self._error(404, "NAME_UNKNOWN", "unknown")
                self._body()
                with registry.lock:
                    upload = f"u{len(registry.uploads)}"
                    registry.uploads[upload] = bytearray()
                self.send_response(202)
                self.send_header("Location", f"{path}{upload}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_PATCH(self) -> None:
                registry.requests.append(f"PATCH {self.path}")
                upload = self.path.split("?")[0].rsplit("/", 1)[1]
                registry.uploads[upload] += self._body()
                self.send_response(202)
                self.send_header("Location", self.path.split("?")[0])
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_PUT(self) -> None:
                registry.requests.append(f"PUT {self.path}")
                path, _, query = self.path.partition("?")
                body = self._body()
                if "/manifests/" in path:
                    repo, ref = path[len("/v2/") :].split("/manifests/")
                    media_type = self.headers.get("Content-Type", "")
                    registry.pushed[(repo, ref)] = (media_type, body)
                    self.send_response(201)
                    self.send_header("Docker-Content-Digest", sha(body))
                    self.send_header("Content-Length", "0")
                    return self.end_headers()
                upload = path.rsplit("/", 1)[1]
                data = bytes(registry.uploads.pop(upload, b"")) + body
                digest = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("digest", "")
                digest = digest.replace("%3A", ":")
                if sha(data) != digest:
                    return self._error(400, "DIGEST_INVALID", f"content is {sha(data)}, not {digest}")
                registry.uploaded[digest] = data
                registry.blobs[digest] = data
                self.send_response(201)
                self.send_header("Docker-Content-Digest", digest)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _error(self, status: int, code: str, message: str) -> None:
                self._send(
                    status, canonical({"errors": [{"code": code, "message": message}]}), "application/json"
                )

            def _send(self, status: int, body: bytes, media_type: str, head: bool = False) -> None:
                self.send_response(status)
                self.send_header("Content-Type", media_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head and not getattr(self, "head", False):
                    self.wfile.write(body)

            def _stream(self, chunks: Iterator[bytes], media_type: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", media_type)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for chunk in chunks:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _blob(self, digest: str, data: bytes, head: bool) -> None:
                start = 0
                rng = self.headers.get("Range", "")
                if rng.startswith("bytes=") and rng.endswith("-"):
                    start = int(rng[len("bytes=") : -1])
                status = 206 if start else 200
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("Docker-Content-Digest", digest)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if head:
                    return
                with registry.lock:
                    limit = registry.cut.pop(digest, None)
                    registry.active += 1
                    registry.max_active = max(registry.max_active, registry.active)
                pos = start
                step = 1 << 16 if registry.rate else 1 << 20
                began = time.monotonic()
                try:
                    while pos < len(data):
                        end = min(len(data), pos + step)
                        if limit is not None and end > limit:
                            end = limit
                        if end <= pos:
                            break
                        self.wfile.write(data[pos:end])
                        with registry.lock:
                            registry.sent[digest] = registry.sent.get(digest, 0) + end - pos
                        pos = end
                        if registry.rate:
                            ahead = (pos - start) / registry.rate - (time.monotonic() - began)
                            if ahead > 0:
                                time.sleep(ahead)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with registry.lock:
                        registry.active -= 1
                if pos < len(data):
                    self.close_connection = True  # a network drop: the body ends early

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def served(self, digest: str) -> int:
        with self.lock:
            return self.sent.get(digest, 0)

    # ------------------------------------------------------------------ building images

    def add_blob(self, data: bytes) -> str:
        d = sha(data)
        self.blobs[d] = data
        return d

    def add_image(
        self,
        repo: str,
        tag: str,
        layers: list[bytes],
        *,
        media_type: str = LAYER_TAR,
        blobs: list[bytes] | None = None,
        diff_ids: list[str] | None = None,
        arch: str = "amd64",
    ) -> tuple[str, bytes]:
        """Layers (uncompressed tars); ``blobs``: what is served for them (compressed, or lies)."""
        served = blobs if blobs is not None else layers
        config = canonical({
            "architecture": arch, "os": "linux", "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids or [sha(t) for t in layers]},
        })  # fmt: skip
        descs = [{"mediaType": media_type, "digest": self.add_blob(b), "size": len(b)} for b in served]
        manifest = canonical({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": self.add_blob(config), "size": len(config)},
            "layers": descs,
        })  # fmt: skip
        return self.put_manifest(repo, tag, manifest, OCI_MANIFEST), manifest

    def put_manifest(self, repo: str, tag: str, data: bytes, media_type: str = OCI_MANIFEST) -> str:
        d = sha(data)
        self.manifests[(repo, tag)] = (media_type, data)
        self.manifests[(repo, d)] = (media_type, data)
        return d


def tar(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in entries:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def entry(
    name: str, kind: str = "file", data: bytes = b"", link: str = "", dev: tuple[int, int] = (0, 0)
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    if kind == "file":
        info.size = len(data)
        return info, data
    info.type = {
        "dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "hard": tarfile.LNKTYPE,
        "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE,
    }[kind]  # fmt: skip
    info.mode = 0o755 if kind == "dir" else 0o644
    info.linkname = link
    info.devmajor, info.devminor = dev
    return info, None
