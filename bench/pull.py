"""Pull of a 200 MB image (busybox + 3 layers of incompressible data, gzip) from the reference
registry on loopback: dockyard's ImageService vs Debian's dockerd (`docker pull`) vs `skopeo
copy` (to an OCI layout), interleaved, medians and ratios in one run, with this machine's limit.

    .venv/bin/python bench/pull.py [--runs 5] [--no-docker] [--output BENCHMARKS.md]

Each run pulls into a fresh store: a new ImageService data root, a new OCI layout, and dockerd
after `docker rmi` of the image (its layers go with it). dockyard and dockerd verify, gunzip and
unpack each layer; skopeo verifies and stores the compressed blobs. Target (issue 4): at least
skopeo's throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench.images_common import (  # noqa: E402
    Dockerd,
    have_dockerd,
    limit_line,
    machine_limit,
    registry,
    skopeo,
    upload_image,
)
from bench.report import write_section  # noqa: E402
from dockyard.images.service import ImageService  # noqa: E402


async def _drain(svc: ImageService, ref: str) -> None:
    async for msg in svc.pull(ref, None, None):
        if "error" in msg:
            raise SystemExit(f"dockyard: {msg['error']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-docker", action="store_true")
    parser.add_argument("--output", default=f"{REPO}/BENCHMARKS.md")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-pull-", dir="/var/tmp"))
    docker = None if args.no_docker or not have_dockerd() else Dockerd(work / "dockerd")
    times: dict[str, list[float]] = {"dockyard": [], "skopeo": []}
    if docker is not None:
        times["docker"] = []
    try:
        with registry(work / "registry") as host:
            ref, size, blobs = upload_image(host)
            limit = machine_limit(blobs, work)
            for run in range(args.runs + 1):  # run 0 warms caches and is not counted
                store = work / f"store-{run}"
                t = time.perf_counter()
                svc = ImageService(store)
                asyncio.run(_drain(svc, ref))
                took = {"dockyard": time.perf_counter() - t}
                svc.close()
                shutil.rmtree(store)
                t = time.perf_counter()
                skopeo("copy", "-q", "--src-tls-verify=false", f"docker://{ref}", f"oci:{work / 'layout'}:x")
                took["skopeo"] = time.perf_counter() - t
                shutil.rmtree(work / "layout")
                if docker is not None:
                    t = time.perf_counter()
                    docker("pull", "-q", ref)
                    took["docker"] = time.perf_counter() - t
                    docker("rmi", ref)
                if run:
                    for name, dt in took.items():
                        times[name].append(dt)
    finally:
        if docker is not None:
            docker.stop()
        shutil.rmtree(work, ignore_errors=True)
    skopeo_med = statistics.median(times["skopeo"])
    rows = [
        f"| {name} pull | {statistics.median(v):.2f} s | {size / statistics.median(v) / 1e6:.0f} MB/s | "
        f"{skopeo_med / statistics.median(v):.2f}x |"
        for name, v in times.items()
    ]
    section = (
        "## Pull from the reference registry on loopback\n\n"
        f"`bench/pull.py`, {datetime.date.today()}, {args.runs} interleaved runs each, {size / 1e6:.0f} MB "
        "of gzip blobs (busybox + 3 layers of random data), each run into a fresh store. dockyard and "
        "dockerd verify, gunzip and unpack; skopeo verifies and stores the compressed blobs in an OCI "
        "layout. Throughput is compressed bytes per second; the ratio is throughput over skopeo's "
        "(above 1: faster).\n\n"
        "| what | median | throughput | throughput vs skopeo |\n| --- | --- | --- | --- |\n"
        + "\n".join(rows)
        + f"\n\n{limit_line(limit)}\n"
    )
    print(section)
    if args.output:
        write_section(args.output, "bench/pull.py", section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
