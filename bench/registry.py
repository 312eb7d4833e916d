"""Registry throughput: dockyard's registry against Debian's docker-registry (distribution 2.8,
the Go reference), with skopeo as the client, in one run, on loopback.

    .venv/bin/python bench/registry.py [--size-mb 200] [--rounds 9] [--concurrent-rounds 3]
                                       [--concurrent-pull-rounds 5] [--clients 16] [--seconds 5]
                                       [--output BENCHMARKS.md]

- push / pull, 1 client: ``skopeo copy`` of a 3-layer image (layers of 50%, 35% and 15% of
  ``--size-mb``, uncompressed tar so no CPU goes to compression) from an OCI layout into a new
  repository, and back into a ``dir:`` folder; ``--rounds`` rounds, alternating which registry
  goes first. Throughput = image size / median wall time.
- push / pull, ``--clients`` at once: that many skopeo processes, each with its own repository;
  throughput = clients x size / wall time of the whole batch. ``--concurrent-rounds`` batches of
  pushes, then one untimed batch of pulls each (the machine's first 3.2 GB of pulled copies is
  slow whoever serves it) and ``--concurrent-pull-rounds`` timed batches of pulls.
- every timed step starts after ``sync``, so one registry's writeback is not timed in the other's
  step (the reference does not fsync what it receives).
- manifest GETs per second: 64 concurrent keep-alive connections (aiohttp) for ``--seconds``.

Both registries store on the same disk, without auth; dockyard runs with its defaults (fsync of
each blob before it is published; the reference does not fsync). Results are printed and written
to BENCHMARKS.md between this benchmark's markers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench.report import write_section  # noqa: E402
from tests.unit.registry.harness import (  # noqa: E402
    ReferenceRegistry,
    RegistryServer,
    image_manifest,
    sha256,
)

SKOPEO = shutil.which("skopeo") or "skopeo"
OCI_TAR = "application/vnd.oci.image.layer.v1.tar"


def make_image(folder: str, size_mb: int) -> int:
    """An OCI layout with one 3-layer image tagged "bench"; returns its total size in bytes."""
    import io
    import json
    import tarfile

    blobs = os.path.join(folder, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    layers = []
    for i, share in enumerate((0.50, 0.35, 0.15)):
        payload = os.urandom(int(size_mb * 1e6 * share))
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            info = tarfile.TarInfo(f"layer{i}.bin")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        layers.append(raw.getvalue())
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sha256(la) for la in layers]},
        }
    ).encode()
    manifest = json.loads(image_manifest(config, layers))
    for entry in manifest["layers"]:
        entry["mediaType"] = OCI_TAR
    manifest_raw = json.dumps(manifest).encode()
    for data in [*layers, config, manifest_raw]:
        with open(os.path.join(blobs, sha256(data).split(":")[1]), "wb") as f:
            f.write(data)
    with open(os.path.join(folder, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(folder, "index.json"), "w") as f:
        json.dump(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": sha256(manifest_raw),
                        "size": len(manifest_raw),
                        "annotations": {"org.opencontainers.image.ref.name": "bench"},
                    }
                ],
            },
            f,
        )
    return sum(len(la) for la in layers) + len(config) + len(manifest_raw)


#: containers/image remembers which registry holds which blob (a "blob info cache") and mounts
#: instead of uploading the next time: every skopeo gets an empty cache on a private tmpfs, so
#: each push really sends its bytes.
BLOB_CACHE = "/var/lib/containers/cache"


def skopeo(*args: str) -> None:
    os.makedirs(BLOB_CACHE, exist_ok=True)
    script = f'mount -t tmpfs none {BLOB_CACHE} && exec "$@"'
    argv = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
        SKOPEO,
        "--insecure-policy",
        *args,
    ]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
    if res.returncode != 0:
        raise RuntimeError(f"skopeo {' '.join(args)}: {res.stderr.strip()[-500:]}")


class Contender:
    def __init__(self, name: str, addr: str) -> None:
        self.name = name
        self.addr = addr
        self.counter = 0
        self.push1: list[float] = []
        self.pull1: list[float] = []
        self.pushn: list[float] = []
        self.pulln: list[float] = []
        self.rps: list[float] = []

    def next_repo(self) -> str:
        self.counter += 1
        return f"bench/img{self.counter}"


def settle() -> None:
    """Write back every dirty page before a timed step: the reference does not fsync what it
    receives, and its pushes' writeback would otherwise land in whatever is timed next."""
    os.sync()


def batch(clients: int, step: Callable[[str], None], repos: list[str]) -> float:
    """Seconds for ``clients`` threads to run ``step`` on every repository at once."""
    with ThreadPoolExecutor(clients) as pool:
        start = time.perf_counter()
        list(pool.map(step, repos))
        return time.perf_counter() - start


def push(c: Contender, layout: str, repo: str) -> None:
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:bench", f"docker://{c.addr}/{repo}:bench")


def pull(c: Contender, repo: str, scratch: str) -> None:
    dest = tempfile.mkdtemp(dir=scratch)
    try:
        skopeo("copy", "--src-tls-verify=false", f"docker://{c.addr}/{repo}:bench", f"dir:{dest}")
    finally:
        shutil.rmtree(dest, ignore_errors=True)


async def manifest_rps(addr: str, repo: str, seconds: float, connections: int = 64) -> float:
    import aiohttp

    url = f"http://{addr}/v2/{repo}/manifests/bench"
    headers = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    done = 0
    deadline = time.perf_counter() + seconds
    conn = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=conn) as session:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                async with session.get(url, headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"GET {url}: {r.status}")
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return done / (time.perf_counter() - start)


def run(args: argparse.Namespace) -> str:
    work = tempfile.mkdtemp(prefix="dockyard-bench-registry-")
    servers: list[RegistryServer | ReferenceRegistry] = []
    scratch = ""
    try:
        layout = os.path.join(work, "layout")
        size = make_image(layout, args.size_mb)
        print(f"image: 3 layers, {size / 1e6:.0f} MB", flush=True)
        ours = RegistryServer(os.path.join(work, "dockyard-store"))
        ref = ReferenceRegistry()
        servers += [ours, ref]
        ours.start()
        ref.start()
        contenders = [Contender("dockyard", ours.addr), Contender("docker-registry 2.8", ref.addr)]
        # Pulled copies go to memory (/dev/shm) when it is there: the client's own disk writes
        # would otherwise weigh on both registries' numbers alike but noisily.
        scratch = tempfile.mkdtemp(
            prefix="dockyard-bench-pulls-", dir="/dev/shm" if os.path.isdir("/dev/shm") else work
        )
        for r in range(args.rounds):
            order = contenders if r % 2 == 0 else contenders[::-1]
            for c in order:
                repo = c.next_repo()
                settle()
                start = time.perf_counter()
                push(c, layout, repo)
                c.push1.append(time.perf_counter() - start)
                settle()
                start = time.perf_counter()
                pull(c, repo, scratch)
                c.pull1.append(time.perf_counter() - start)
                print(f"round {r + 1} {c.name}: push {c.push1[-1]:.2f}s pull {c.pull1[-1]:.2f}s", flush=True)
        pulled: dict[str, list[str]] = {}
        for r in range(args.concurrent_rounds):
            for c in contenders if r % 2 == 0 else contenders[::-1]:
                repos = [c.next_repo() for _ in range(args.clients)]
                settle()
                c.pushn.append(batch(args.clients, partial(push, c, layout), repos))
                pulled[c.name] = repos
                print(f"{args.clients} clients {c.name}: push {c.pushn[-1]:.2f}s", flush=True)
        # The machine's first big batch of pulls is slow whoever serves it (3.2 GB of fresh
        # memory for the copies): one untimed batch each first.
        for c in contenders:
            batch(args.clients, partial(pull, c, scratch=scratch), pulled[c.name])
        for r in range(args.concurrent_pull_rounds):
            for c in contenders if r % 2 == 0 else contenders[::-1]:
                settle()
                c.pulln.append(batch(args.clients, partial(pull, c, scratch=scratch), pulled[c.name]))
                print(f"{args.clients} clients {c.name}: pull {c.pulln[-1]:.2f}s", flush=True)
        for r in range(args.rounds):
            for c in contenders if r % 2 == 0 else contenders[::-1]:
                c.rps.append(asyncio.run(manifest_rps(c.addr, "bench/img1", args.seconds)))
                print(f"{c.name}: {c.rps[-1]:.0f} manifest GETs/s", flush=True)
        return table(contenders, size, args)
    finally:
        for s in servers:
            s.close()
        shutil.rmtree(work, ignore_errors=True)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def table(contenders: list[Contender], size: int, args: argparse.Namespace) -> str:
    mb = size / 1e6
    ours, ref = contenders

    def mbps(samples: list[float], n: int = 1) -> float:
        return n * mb / statistics.median(samples)

    rows = [
        ("push, 1 client (MB/s)", mbps(ours.push1), mbps(ref.push1)),
        ("pull, 1 client (MB/s)", mbps(ours.pull1), mbps(ref.pull1)),
        (
            f"push, {args.clients} clients (MB/s, all)",
            mbps(ours.pushn, args.clients),
            mbps(ref.pushn, args.clients),
        ),
        (
            f"pull, {args.clients} clients (MB/s, all)",
            mbps(ours.pulln, args.clients),
            mbps(ref.pulln, args.clients),
        ),
        ("manifest GETs/s, 64 connections", statistics.median(ours.rps), statistics.median(ref.rps)),
    ]
    today = datetime.date.today().isoformat()
    lines = [
        "## Registry: push and pull with skopeo, manifest GETs",
        "",
        f"`bench/registry.py`, {today}, kernel {platform.release()}, {os.cpu_count()} CPUs. A {mb:.0f} MB "
        f"3-layer image (uncompressed tar layers) copied by skopeo over loopback; medians of {args.rounds} "
        f"rounds (1 client), {args.concurrent_rounds} (concurrent pushes) and {args.concurrent_pull_rounds} "
        f"(concurrent pulls, after one untimed batch each); manifest GETs for {args.seconds} s. "
        "Higher is better; ratio = dockyard / reference.",
        "",
        "| measure | dockyard | docker-registry 2.8 | ratio |",
        "| --- | --- | --- | --- |",
    ]
    for label, a, b in rows:
        lines.append(f"| {label} | {a:.0f} | {b:.0f} | {a / b:.2f}x |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-mb", type=int, default=200)
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--concurrent-rounds", type=int, default=3, help="rounds of concurrent pushes")
    p.add_argument("--concurrent-pull-rounds", type=int, default=5)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--output", default=os.path.join(REPO, "BENCHMARKS.md"))
    args = p.parse_args()
    section = run(args)
    print(section)
    if args.output:
        write_section(args.output, "bench/registry.py", section)


if __name__ == "__main__":
    main()
