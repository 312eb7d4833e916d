"""Push of a 200 MB image (busybox + 3 layers of incompressible data, gzip) to the reference
registry on loopback: dockyard's ImageService vs Debian's dockerd (`docker push`) vs `skopeo
copy` (from an OCI layout), interleaved, medians and ratios in one run.

    .venv/bin/python bench/push.py [--runs 5] [--no-docker] [--output BENCHMARKS.md]

Each run pushes to a fresh registry (no blob there to reuse or mount). All three hold the image
first: dockyard and dockerd pulled it, skopeo copied it into an OCI layout. dockyard and skopeo
send the stored compressed blobs as they are; dockerd keeps only unpacked layers and compresses
each again. Target (issue 4): at least skopeo's throughput.
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


async def _drain(agen: object) -> None:
    async for msg in agen:  # type: ignore[attr-defined]
        if "error" in msg:
            raise SystemExit(f"dockyard: {msg['error']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-docker", action="store_true")
    parser.add_argument("--output", default=f"{REPO}/BENCHMARKS.md")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-push-", dir="/var/tmp"))
    docker = None if args.no_docker or not have_dockerd() else Dockerd(work / "dockerd")
    times: dict[str, list[float]] = {"dockyard": [], "skopeo": []}
    if docker is not None:
        times["docker"] = []
    svc = ImageService(work / "store")
    try:
        with registry(work / "source") as host:
            ref, size, blobs = upload_image(host)
            limit = machine_limit(blobs, work)
            asyncio.run(_drain(svc.pull(ref, None, None)))
            skopeo("copy", "-q", "--src-tls-verify=false", f"docker://{ref}", f"oci:{work / 'layout'}:x")
            if docker is not None:
                docker("pull", "-q", ref)
        for run in range(args.runs + 1):  # run 0 warms caches and is not counted
            with registry(work / f"dest-{run}") as dest:
                took = {}
                target = f"{dest}/bench/dockyard:1"
                svc.tag(ref, target, None)
                t = time.perf_counter()
                asyncio.run(_drain(svc.push(target, None)))
                took["dockyard"] = time.perf_counter() - t
                t = time.perf_counter()
                skopeo("copy", "-q", "--dest-tls-verify=false", f"oci:{work / 'layout'}:x",
                       f"docker://{dest}/bench/skopeo:1")  # fmt: skip
                took["skopeo"] = time.perf_counter() - t
                if docker is not None:
                    docker("tag", ref, f"{dest}/bench/docker:1")
                    t = time.perf_counter()
                    docker("push", "-q", f"{dest}/bench/docker:1")
                    took["docker"] = time.perf_counter() - t
                    docker("rmi", f"{dest}/bench/docker:1")
                if run:
                    for name, dt in took.items():
                        times[name].append(dt)
    finally:
        svc.close()
        if docker is not None:
            docker.stop()
        shutil.rmtree(work, ignore_errors=True)
    skopeo_med = statistics.median(times["skopeo"])
    rows = [
        f"| {name} push | {statistics.median(v):.2f} s | {size / statistics.median(v) / 1e6:.0f} MB/s | "
        f"{skopeo_med / statistics.median(v):.2f}x |"
        for name, v in times.items()
    ]
    section = (
        "## Push to the reference registry on loopback\n\n"
        f"`bench/push.py`, {datetime.date.today()}, {args.runs} interleaved runs each, {size / 1e6:.0f} MB "
        "of gzip blobs (busybox + 3 layers of random data), each run to a fresh registry. dockyard "
        "sends its stored blobs as they are (never recompressed), skopeo those of its OCI layout; "
        "dockerd compresses its unpacked layers again. Throughput is compressed bytes per second; the "
        "ratio is throughput over skopeo's (above 1: faster).\n\n"
        "| what | median | throughput | throughput vs skopeo |\n| --- | --- | --- | --- |\n"
        + "\n".join(rows)
        + f"\n\n{limit_line(limit)}\n"
    )
    print(section)
    if args.output:
        write_section(args.output, "bench/push.py", section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
