"""What bench/pull.py and bench/push.py share: the reference registry on loopback, the benchmark
image, a private dockerd, skopeo without its blob cache, and this machine's limit.

The image (issue 4, must-show 4): busybox plus 3 layers of incompressible data, 200 MB in all,
gzip-compressed (level 1) as registries usually hold layers.

The limit a pull can reach here is what it must do to each byte, timed alone on this machine:
sha256 of the compressed blob, gunzip, sha256 of the tar, and writing it to disk (the blob and
the unpacked file, each once, fsync at the end), one after the other on one core.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from dockyard.distribution.client import RegistryClient  # noqa: E402
from dockyard.oci import mediatypes as mt  # noqa: E402
from dockyard.oci.descriptor import Descriptor  # noqa: E402
from dockyard.oci.digest import digest_of  # noqa: E402
from dockyard.oci.manifest import build_manifest, canonical  # noqa: E402
from dockyard.util import busybox  # noqa: E402

TOTAL = 200_000_000
SHARES = (0.5, 0.3, 0.2)
REPO_PATH = "bench/image"


def start_registry(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    host = f"127.0.0.1:{port}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yml").write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\nhttp:\n  addr: {host}\n"
    )
    proc = subprocess.Popen(["docker-registry", "serve", str(folder / "config.yml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://{host}/v2/", timeout=1)
            return proc, host
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("docker-registry did not start")


@contextlib.contextmanager
def registry(folder: Path) -> Iterator[str]:
    proc, host = start_registry(folder)
    try:
        yield host
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _tar(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def busybox_layer() -> bytes:
    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-bb-"))
    try:
        busybox.make_rootfs(str(work / "rootfs"))
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
            for entry in sorted((work / "rootfs").iterdir()):
                t.add(entry, arcname=entry.name)
        return buf.getvalue()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def upload_image(host: str) -> tuple[str, int, list[bytes]]:
    """Push the benchmark image; returns (reference, bytes of its blobs, its compressed layers)."""
    plains = [busybox_layer()] + [
        _tar(f"data{i}.bin", os.urandom(int(TOTAL * s))) for i, s in enumerate(SHARES)
    ]
    blobs = [gzip.compress(p, compresslevel=1, mtime=0) for p in plains]

    async def go() -> None:
        async with RegistryClient(host) as c:
            descs = []
            for blob in blobs:
                d = digest_of(blob)
                await c.upload_blob(REPO_PATH, d, len(blob), lambda b=blob: io.BytesIO(b))  # type: ignore[misc]
                descs.append(Descriptor(mt.DOCKER_LAYER_GZIP, d, len(blob)))
            diff_ids = [digest_of(p) for p in plains]
            config = canonical({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                                "rootfs": {"type": "layers", "diff_ids": diff_ids}})  # fmt: skip
            cd = digest_of(config)
            await c.upload_blob(REPO_PATH, cd, len(config), lambda: io.BytesIO(config))
            raw = build_manifest(Descriptor(mt.DOCKER_CONFIG, cd, len(config)), descs, docker=True)
            await c.put_manifest(REPO_PATH, "1", mt.DOCKER_MANIFEST, raw)

    asyncio.run(go())
    return f"{host}/{REPO_PATH}:1", sum(len(b) for b in blobs), blobs


def machine_limit(blobs: list[bytes], folder: Path) -> dict[str, float]:
    """MB/s of each step a pull must do to the biggest layer, and of all of them in a row."""
    blob = max(blobs, key=len)
    mb = len(blob) / 1e6
    t = time.perf_counter()
    hashlib.sha256(blob).digest()
    sha = time.perf_counter() - t
    t = time.perf_counter()
    d = zlib.decompressobj(31)
    plain = b"".join(d.decompress(blob[i : i + (1 << 20)]) for i in range(0, len(blob), 1 << 20))
    gunzip = time.perf_counter() - t
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "limit.bin"
    t = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        view = memoryview(plain)
        for i in range(0, len(view), 1 << 20):
            os.write(fd, view[i : i + (1 << 20)])
        os.fsync(fd)
    finally:
        os.close(fd)
        path.unlink()
    write = time.perf_counter() - t
    serial = 2 * sha + gunzip + 2 * write  # both digests, both copies on disk
    return {"sha256": mb / sha, "gunzip": mb / gunzip, "write": mb / write, "pull": mb / serial}


def limit_line(limit: dict[str, float]) -> str:
    return (
        f"This machine's limit for one layer on one core: sha256 {limit['sha256']:.0f} MB/s, gunzip "
        f"{limit['gunzip']:.0f} MB/s, disk write + fsync {limit['write']:.0f} MB/s; a pull's work in a "
        f"row (2 x sha256, gunzip, 2 x write) {limit['pull']:.0f} MB/s per core."
    )


# ------------------------------------------------------------------ skopeo and dockerd

#: containers/image remembers which registry holds which blob and reuses it: each skopeo gets an
#: empty cache on a private tmpfs (as bench/registry.py), so each copy really moves its bytes.
BLOB_CACHE = "/var/lib/containers/cache"


def skopeo(*args: str) -> None:
    os.makedirs(BLOB_CACHE, exist_ok=True)
    script = f'mount -t tmpfs none {BLOB_CACHE} && exec "$@"'
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", "skopeo", *args]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


class Dockerd:
    """Debian's dockerd on private paths (tests/compat/engines.py's settings: no bridge, no
    iptables), for `docker pull` and `docker push` from and to the loopback registry."""

    def __init__(self, folder: Path) -> None:
        from tests.compat.engines import ping, start_dockerd, unique

        self.root = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.cgroup = unique("/dockyard-bench")
        self.proc = start_dockerd(folder, self.cgroup)
        deadline = time.monotonic() + 30
        while not ping(str(folder / "docker.sock")):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"dockerd did not start: {(folder / 'dockerd.log').read_text()[-2000:]}")
            time.sleep(0.1)

    def __call__(self, *args: str) -> None:
        subprocess.run(["docker", "-H", f"unix://{self.root / 'docker.sock'}", *args], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip

    def stop(self) -> None:
        from tests.compat.engines import kill_shims, remove_cgroups, stop_process

        stop_process(self.proc)
        kill_shims(str(self.root))
        remove_cgroups(self.cgroup.strip("/"))
        from tests.compat.engines import unmount_and_remove

        unmount_and_remove(str(self.root))


def have_dockerd() -> bool:
    return shutil.which("dockerd") is not None and shutil.which("docker") is not None and os.geteuid() == 0
