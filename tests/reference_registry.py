"""The reference registry (Debian's `docker-registry`, distribution 2.8) on a loopback port.

``ReferenceRegistry`` starts one with a private storage folder; ``push_busybox(name)`` puts a
busybox image into it with skopeo (from an OCI archive built from busybox-static), so pulls can
be tested with nothing from the internet. The ``reference_registry`` fixture (tests/conftest.py)
is one registry for the session, holding ``library/pulled:1``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

from dockyard.util import busybox

REGISTRY = "/usr/bin/docker-registry"


def free_port(host: str = "127.0.0.1") -> int:
    s = socket.socket()
    s.bind((host, 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


class ReferenceRegistry:
    def __init__(self, folder: Path | None = None, host: str = "127.0.0.1") -> None:
        """``host``: the address to listen on (an address of a link the test made, or loopback)."""
        self.folder = folder or Path(tempfile.mkdtemp(prefix="dy-refreg-"))
        self.port = free_port(host)
        self.address = f"{host}:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ReferenceRegistry:
        storage = self.folder / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = self.folder / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.address}\n"
        )
        log = open(self.folder / "registry.log", "ab")  # noqa: SIM115 - its stderr for its whole life
        self.proc = subprocess.Popen([REGISTRY, "serve", str(config)], stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{self.address}/v2/", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not start: {(self.folder / 'registry.log').read_text()}")

    def push_busybox(self, name: str) -> str:
        """skopeo copies a busybox image (one layer) to ``<address>/<name>``; returns the ref."""
        work = Path(tempfile.mkdtemp(prefix="dy-refreg-img-"))
        try:
            rootfs = work / "rootfs"
            busybox.make_rootfs(str(rootfs))
            layer = work / "layer.tar"
            with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as tar:
                for entry in sorted(rootfs.iterdir()):
                    tar.add(entry, arcname=entry.name, filter=_root_owned)
            from tests.compat.engines import write_oci_archive

            archive = write_oci_archive(layer, work / "oci.tar", name.rsplit("/", 1)[-1])
            ref = f"{self.address}/{name}"
            subprocess.run(
                ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci-archive:{archive}", f"docker://{ref}"],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
            return ref
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def available() -> bool:
    return os.access(REGISTRY, os.X_OK) and shutil.which("skopeo") is not None
