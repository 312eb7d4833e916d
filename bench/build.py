"""Image builds: dockyard against docker's legacy builder and podman (buildah).

    .venv/bin/python bench/build.py [--runs 10] [--output BENCHMARKS.md] [--only dockyard docker podman]

The 5-step Dockerfile of shared/anchors.md (FROM busybox, RUN echo, COPY a 5.5 KB file, ENV,
RUN wc), built through each engine's own CLI, whole-process wall time:

- cold: ``build --no-cache`` (every step runs);
- cached: the same build again, every step a cache hit.

dockyard is measured with its own CLI and with the real docker CLI's classic builder
(DOCKER_BUILDKIT=0) against it; docker with DOCKER_BUILDKIT=0 against dockerd (Debian's
20.10: its legacy builder); podman with the flags this host needs (anchors.md). Rounds are
interleaved, the engine order rotating each round; medians and ratios to docker's.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engines import DOCKER_CLI, Docker, Dockyard, Engine, Podman, busybox_tar, workdir
from bench.report import write_section

MARKER = "bench/build.py"
DOCKERFILE = """\
FROM busybox
RUN echo "building" > /step.txt
COPY payload.txt /payload.txt
ENV MODE=bench
RUN wc -c /payload.txt > /count.txt
"""


class Builder:
    """One way of building: an engine and the command line it builds with."""

    def __init__(self, label: str, engine: Engine, argv: list[str], env: dict[str, str]) -> None:
        self.label = label
        self.engine = engine
        self.argv = argv
        self.env = env

    def build(self, ctx: Path, *extra: str) -> float:
        import subprocess

        start = time.perf_counter()
        res = subprocess.run(
            [*self.argv, *extra, "-t", "benchbuild:latest", str(ctx)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        elapsed = time.perf_counter() - start
        if res.returncode != 0:
            raise RuntimeError(f"{self.label}: build failed: {res.stdout[-2000:]}\n{res.stderr[-2000:]}")
        return elapsed


def builders(engines: list[Engine]) -> list[Builder]:
    out: list[Builder] = []
    for e in engines:
        env = e.env()
        if isinstance(e, Dockyard):
            out.append(Builder("dockyard (dockyard build)", e, e.cli("build", "-q"), env))
            legacy = dict(env, DOCKER_BUILDKIT="0", DOCKER_CONFIG=str(e.root / "client"))
            out.append(
                Builder(
                    "dockyard (docker CLI, classic)",
                    e,
                    [DOCKER_CLI, "-H", f"unix://{e.sock}", "build", "-q"],
                    legacy,
                )
            )
        elif isinstance(e, Docker):
            out.append(
                Builder("docker legacy builder", e, e.cli("build", "-q"), dict(env, DOCKER_BUILDKIT="0"))
            )
        elif isinstance(e, Podman):
            argv = e.cli("build", "-q", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768")
            out.append(Builder("podman build", e, argv, env))
    return out


def bench(bs: list[Builder], ctx: Path, runs: int) -> dict[str, dict[str, list[float]]]:
    results: dict[str, dict[str, list[float]]] = {b.label: {"cold": [], "cached": []} for b in bs}
    for b in bs:  # warm-up: the image exists, the cache is filled
        b.build(ctx, "--no-cache")
        b.build(ctx)
    for i in range(runs):
        order = bs[i % len(bs) :] + bs[: i % len(bs)]
        for b in order:
            results[b.label]["cold"].append(b.build(ctx, "--no-cache"))
            results[b.label]["cached"].append(b.build(ctx))
    return results


def report(results: dict[str, dict[str, list[float]]], runs: int) -> str:
    def med(label: str, kind: str) -> float | None:
        samples = results.get(label, {}).get(kind) or []
        return statistics.median(samples) if samples else None

    ref = "docker legacy builder"
    lines = [
        "## Build: 5 steps (RUN, COPY 5.5 KB, ENV, RUN), cold (--no-cache) and fully cached",
        "",
        f"`bench/build.py`, {runs} interleaved rounds, {datetime.date.today()},"
        f" {platform.node() or 'this host'} ({os.cpu_count()} CPUs). Whole `build` command, client included."
        " Target (issue 6): cold and cached each at most 0.5x docker's.",
        "",
        "| builder | cold median | cold vs docker | cached median | cached vs docker |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label in results:
        cells = [label]
        for kind in ("cold", "cached"):
            m, r = med(label, kind), med(ref, kind)
            cells.append(f"{m * 1000:.0f} ms" if m is not None else "n/a")
            cells.append(f"{m / r:.2f}x" if m is not None and r else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--only", nargs="*", default=["dockyard", "docker", "podman"])
    p.add_argument("--output", default=str(Path(__file__).resolve().parent.parent / "BENCHMARKS.md"))
    args = p.parse_args(argv)
    work = workdir()
    image = busybox_tar(work / "busybox.tar")
    ctx = work / "context"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "payload.txt").write_bytes(bytes(range(256)) * 21 + b"x" * 124)  # 5,500 bytes
    engines: list[Engine] = []
    try:
        if "dockyard" in args.only:
            engines.append(Dockyard(work))
        if "docker" in args.only:
            engines.append(Docker(work, image))
        if "podman" in args.only:
            engines.append(Podman(work, image))
        results = bench(builders(engines), ctx, args.runs)
    finally:
        for e in engines:
            e.stop()
        shutil.rmtree(work, ignore_errors=True)
    text = report(results, args.runs)
    print(text)
    if args.output:
        write_section(args.output, MARKER, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
