"""The engine, end to end: dockyard against docker (dockerd + containerd + runc) and podman.

    .venv/bin/python bench/run.py [--runs 20] [--output BENCHMARKS.md] [--only dockyard docker podman]

Each engine is started privately (bench/engines.py) with the same busybox image, driven through
its own CLI. Rounds are interleaved, the engine order rotating each round. Measured, as issue 3
asks (targets from shared/anchors.md):

- `run --rm busybox true` on the default bridge (dockyard, docker) and with `--network none`
  (all three);
- `create`, `start -a`, `rm` of one container, each timed alone (dockyard, docker);
- `ps -a` with 200 created containers (dockyard, docker), and with 1,000 (dockyard, reported);
- memory per idle running container: MemAvailable before and after starting N `sleep`
  containers (page cache dropped before each reading, the median of three readings), divided by
  N, over rounds interleaved across engines; plus the monitor's (shim's) own PSS per container.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engines import Docker, Dockyard, Engine, Podman, busybox_tar, workdir
from bench.report import write_section

MARKER = "bench/run.py"


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} ms" if samples else "n/a"


def mem_available() -> int:
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")
    time.sleep(0.5)
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cmd(e: Engine, *args: str) -> Callable[[], object]:
    return lambda: e.run(*args)


def bench_latency(engines: list[Engine], runs: int) -> dict[str, dict[str, list[float]]]:
    results: dict[str, dict[str, list[float]]] = {}

    def add(scenario: str, engine: Engine, value: float) -> None:
        results.setdefault(scenario, {}).setdefault(engine.name, []).append(value)

    for e in engines:  # warm-up: caches, first-use setup (bridges, image unpack)
        e.run("run", "--rm", "--network", "none", "busybox", "true")
        if e.name != "podman":
            e.run("run", "--rm", "busybox", "true")
    for i in range(runs):
        order = engines[i % len(engines) :] + engines[: i % len(engines)]
        for e in order:
            if e.name != "podman":
                add("run --rm (bridge)", e, timed(_cmd(e, "run", "--rm", "busybox", "true")))
            add(
                "run --rm --network none",
                e,
                timed(_cmd(e, "run", "--rm", "--network", "none", "busybox", "true")),
            )
            if e.name == "podman":
                continue
            t0 = time.perf_counter()
            cid = e.run("create", "busybox", "true").stdout.strip()
            add("create", e, time.perf_counter() - t0)
            add("start -a", e, timed(_cmd(e, "start", "-a", cid)))
            add("rm", e, timed(_cmd(e, "rm", cid)))
    return results


def bench_ps(engines: list[Engine], counts: list[int], runs: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for count in counts:
        for e in engines:
            if e.name == "podman" or (count > 200 and e.name != "dockyard"):
                continue
            ids = [e.run("create", "busybox", "true").stdout.strip() for _ in range(count)]
            samples = [timed(_cmd(e, "ps", "-a")) for _ in range(runs)]
            out.setdefault(f"ps -a, {count} containers", {})[e.name] = statistics.median(samples)
            for start in range(0, len(ids), 100):
                e.run("rm", *ids[start : start + 100], timeout=600)
    return out


def _quiet_mem_available(readings: int = 3) -> int:
    """The median of a few MemAvailable readings: one reading moves by megabytes with whatever
    else the kernel does (the earlier single readings gave negative growths)."""
    return int(statistics.median(mem_available() for _ in range(readings)))


def bench_memory(engines: list[Engine], n: int, rounds: int = 3) -> dict[str, tuple[list[float], float]]:
    """engine -> (machine bytes per container, one figure per round; monitor PSS per container).

    Rounds are interleaved across engines, so that drift of the machine's memory touches all."""
    out: dict[str, tuple[list[float], float]] = {}
    for _ in range(rounds):
        for e in engines:
            shims_before = set(e.shim_pids())
            before = _quiet_mem_available()
            ids = [
                e.run("run", "-d", "--network", "none", "busybox", "sleep", "100000").stdout.strip()
                for _ in range(n)
            ]
            time.sleep(2)
            after = _quiet_mem_available()
            shims = [p for p in e.shim_pids() if p not in shims_before]
            monitor = sum(pss(p) for p in shims) / n if shims else 0.0
            samples, _ = out.get(e.name, ([], 0.0))
            out[e.name] = ([*samples, (before - after) / n], monitor)
            e.run("rm", "-f", *ids, timeout=600)
    return out


def report(latency: dict[str, dict[str, list[float]]], ps: dict[str, dict[str, float]],
           memory: dict[str, tuple[list[float], float]], runs: int, n_mem: int) -> str:  # fmt: skip
    today = datetime.date.today().isoformat()
    lines = [
        "## The engine: `run`, `create`/`start -a`/`rm`, `ps -a`, memory per container",
        "",
        f"`bench/run.py`, {today}, {runs} interleaved rounds, kernel {platform.release()}, "
        f"{os.cpu_count()} CPUs. "
        "Wall time of each engine's own CLI command (docker 28 client for dockerd 20.10 + containerd + runc; "
        "podman 4.3 with runc and cgroupfs); the same busybox image in all.",
        "",
        "| scenario | dockyard | docker | podman | dockyard / docker | dockyard / podman |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for scenario, by_engine in latency.items():
        ours = by_engine.get("dockyard", [])
        cells = [median_ms(by_engine.get(n, [])) for n in ("dockyard", "docker", "podman")]
        ratios = []
        for peer in ("docker", "podman"):
            theirs = by_engine.get(peer, [])
            ratios.append(
                f"{statistics.median(ours) / statistics.median(theirs):.2f}x" if ours and theirs else ""
            )
        lines.append(f"| {scenario} | {' | '.join(cells)} | {' | '.join(ratios)} |")
    for scenario, by in ps.items():
        ours_v = by.get("dockyard")
        docker_v = by.get("docker")
        ratio = f"{ours_v / docker_v:.2f}x" if ours_v and docker_v else ""
        cells = [f"{by[n] * 1000:.0f} ms" if n in by else "n/a" for n in ("dockyard", "docker", "podman")]
        lines.append(f"| {scenario} | {' | '.join(cells)} | {ratio} | |")
    lines += ["", f"Memory per idle running container (`sleep`, --network none, {n_mem} containers; "
              "MemAvailable drop, each reading the median of three, median of the rounds, with their range):",
              "", "| engine | machine (MemAvailable drop) | rounds | monitor PSS |",
              "| --- | --- | --- | --- |"]  # fmt: skip
    for name, (machine, monitor) in memory.items():
        spread = f"{min(machine) / 2**20:.2f} to {max(machine) / 2**20:.2f} MiB"
        middle = statistics.median(machine) / 2**20
        lines.append(f"| {name} | {middle:.2f} MiB | {spread} | {monitor / 2**20:.2f} MiB |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--memory-containers", type=int, default=20)
    p.add_argument("--memory-rounds", type=int, default=3)
    p.add_argument("--ps-counts", type=int, nargs="*", default=[200, 1000])
    p.add_argument("--only", nargs="*", default=["dockyard", "docker", "podman"])
    p.add_argument("--output", default=str(Path(__file__).resolve().parent.parent / "BENCHMARKS.md"))
    args = p.parse_args(argv)
    work = workdir()
    image = busybox_tar(work / "busybox.tar")
    engines: list[Engine] = []
    try:
        if "dockyard" in args.only:
            engines.append(Dockyard(work))
        if "docker" in args.only:
            engines.append(Docker(work, image))
        if "podman" in args.only:
            engines.append(Podman(work, image))
        latency = bench_latency(engines, args.runs)
        ps = bench_ps(engines, args.ps_counts, 5)
        memory = bench_memory(engines, args.memory_containers, args.memory_rounds)
    finally:
        for e in engines:
            e.stop()
    text = report(latency, ps, memory, args.runs, args.memory_containers)
    print(text)
    if args.output:
        write_section(args.output, MARKER, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
