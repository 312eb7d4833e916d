"""Pull and push of ~210 MB (4 layers of random data, gzip) through the reference registry on
loopback: dockyard's ImageService against skopeo (to and from an OCI layout), interleaved.

    .venv/bin/python bench/pull.py [--runs 5] [--mb 210] [--output BENCHMARKS.md]

Each run pulls into a fresh image store (dockyard) or a fresh OCI layout (skopeo) and pushes to
a fresh repository. Medians and MB/s are printed and written between this script's markers in
BENCHMARKS.md. Target (shared/anchors.md): pull >= skopeo's 332 MB/s, push >= 216 MB/s.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gzip
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from dockyard.distribution.client import RegistryClient
from dockyard.images.service import ImageService
from dockyard.oci import mediatypes as mt
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import digest_of
from dockyard.oci.manifest import build_manifest, canonical

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from bench.report import write_section  # noqa: E402

LAYERS = 4


def start_registry(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    host = f"127.0.0.1:{port}"
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


async def upload(host: str, total_mb: int) -> int:
    """Push the benchmark image as bench/random:1; returns the bytes of its layer blobs."""
    per = total_mb * 1_000_000 // LAYERS
    descs, diff_ids, size = [], [], 0
    async with RegistryClient(host) as c:
        for i in range(LAYERS):
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as t:
                info = tarfile.TarInfo(f"layer{i}.bin")
                info.size = per
                t.addfile(info, io.BytesIO(os.urandom(per)))
            plain = buf.getvalue()
            blob = gzip.compress(plain, compresslevel=1, mtime=0)
            d = digest_of(blob)
            await c.upload_blob("bench/random", d, len(blob), lambda b=blob: io.BytesIO(b))  # type: ignore[misc]
            descs.append(Descriptor(mt.OCI_LAYER_GZIP, d, len(blob)))
            diff_ids.append(digest_of(plain))
            size += len(blob)
        config = canonical({"architecture": "amd64", "os": "linux", "config": {},
                            "rootfs": {"type": "layers", "diff_ids": diff_ids}})  # fmt: skip
        cd = digest_of(config)
        await c.upload_blob("bench/random", cd, len(config), lambda: io.BytesIO(config))
        raw = build_manifest(Descriptor(mt.OCI_CONFIG, cd, len(config)), descs)
        await c.put_manifest("bench/random", "1", mt.OCI_MANIFEST, raw)
    return size


async def drain(agen: object) -> None:
    async for msg in agen:  # type: ignore[attr-defined]
        if "error" in msg:
            raise SystemExit(f"dockyard: {msg['error']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mb", type=int, default=210)
    parser.add_argument("--output", default=os.path.join(REPO, "BENCHMARKS.md"))
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-pull-", dir="/var/tmp"))
    proc, host = start_registry(work)
    times: dict[str, list[float]] = {
        "dockyard pull": [],
        "skopeo pull": [],
        "dockyard push": [],
        "skopeo push": [],
    }
    try:
        size = asyncio.run(upload(host, args.mb))
        ref = f"{host}/bench/random:1"
        for run in range(args.runs + 1):  # the first run warms caches and is not counted
            store = work / f"store-{run}"
            t0 = time.perf_counter()
            svc = ImageService(store)
            asyncio.run(drain(svc.pull(ref, None, None)))
            t1 = time.perf_counter()
            layout = work / f"layout-{run}"
            pull_argv = [
                "skopeo",
                "copy",
                "-q",
                "--src-tls-verify=false",
                f"docker://{ref}",
                f"oci:{layout}:x",
            ]
            subprocess.run(pull_argv, check=True)
            t2 = time.perf_counter()
            dest_dir = work / f"dest-{run}"
            dest_dir.mkdir()
            dest, dest_host = start_registry(dest_dir)
            try:
                target = f"{dest_host}/bench/dockyard:1"
                svc.tag(ref, target, None)
                t2p = time.perf_counter()
                asyncio.run(drain(svc.push(target, None)))
                t3 = time.perf_counter()
                push_argv = ["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{layout}:x",
                             f"docker://{dest_host}/bench/skopeo:1"]  # fmt: skip
                subprocess.run(push_argv, check=True)
                t4 = time.perf_counter()
            finally:
                dest.terminate()
                dest.wait()
                shutil.rmtree(dest_dir)
            svc.close()
            shutil.rmtree(store)
            shutil.rmtree(layout)
            if run:
                for name, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2p, t4 - t3), strict=True):
                    times[name].append(dt)
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    rows = []
    for name, values in times.items():
        med = statistics.median(values)
        peer = statistics.median(times[name.replace("dockyard", "skopeo")])
        rows.append(f"| {name} | {med:.2f} s | {size / med / 1e6:.0f} MB/s | {med / peer:.2f}x |")
    section = (
        "## Pull and push through the reference registry on loopback\n\n"
        f"`bench/pull.py`, {datetime.date.today()}, {args.runs} interleaved runs each, "
        f"{size / 1e6:.0f} MB in {LAYERS} gzip layers of random data. dockyard pulls into a fresh store "
        "(verify, gunzip, unpack in one pass); skopeo copies to an OCI layout. Pushes go to a fresh "
        "registry per run (no blob there to reuse), dockyard from its store, skopeo from the layout.\n\n"
        "| what | median | throughput | ratio to skopeo |\n| --- | --- | --- | --- |\n"
        + "\n".join(rows)
        + "\n"
    )
    print(section)
    if args.output:
        write_section(args.output, "bench/pull.py", section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
