"""Memory and start latency of the per-container monitor (the shim), design against design.

    .venv/bin/python bench/shim_memory.py [--n 20] [--rounds 3] [--output BENCHMARKS.md]

Each round starts N idle containers (``sleep 1000`` in a busybox bundle, dockyard-runtime,
one shared read-only root filesystem) through each design, interleaved, and measures per
container:

- **memcg**: the growth of a memory cgroup that holds this process (in the daemon's role), the
  zygote, the shims and the containers (their cgroups are nested in it): user and kernel memory
  (slab, page tables, kernel stacks, pipe buffers) of exactly these processes. This is the
  figure to compare with anchors.md's machine growth (docker +3.6 MiB, podman +2.1 MiB);
- MemAvailable's drop: the same seen from the machine, but moved by megabytes by whatever else
  runs on it (other builds and tests), so only a cross-check;
- Pss and Private_Dirty (/proc/PID/smaps_rollup) summed over the shim processes;
- start: spawn of the shim to "create succeeded" (``start_shim``); for ``bare``, the runtime's
  ``create`` alone.

Designs (``shim.configure(group_size, launcher)``):

- ``bare``: no monitor (``RUNTIME create`` + ``start``, stdio on /dev/null): the floor, what the
  container and the kernel cost without any monitor;
- ``zygote`` (a): one shim process per container, forked from a preloaded zygote after
  gc.freeze();
- ``group16``: shim processes forked from the zygote, each monitoring up to 16 containers;
- ``monitor`` (b): one shim process monitoring every container;
- ``exec`` (c): one ``python -S`` interpreter per container.

The zygote is started (and has loaded the shim code) before the "before" reading: it is the
daemon's fixed cost, shown in its own column; shim processes, however few, are counted.

Results (2-CPU CI machine, kernel 6.18, cgroup v1 hybrid, n=20, 3 rounds) are in BENCHMARKS.md
and in the docstring of dockyard/engine/shim.py, which draws the conclusion.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1024 * 1024
DESIGNS = ("bare", "zygote", "group16", "monitor", "exec")


# ---------------------------------------------------------------- measuring


def mem_available() -> int:
    """MemAvailable in bytes, the median of five readings a few ms apart."""
    values = []
    for _ in range(5):
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    values.append(int(line.split()[1]) * 1024)
                    break
        time.sleep(0.02)
    return int(statistics.median(values))


def smaps(pid: int) -> dict[str, int]:
    """Rss, Pss, Private_Dirty ... of a process in bytes (empty if it is gone)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "kB":
                    out[parts[0].rstrip(":")] = int(parts[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def settle() -> None:
    """Let lazily freed memory and RCU callbacks of the previous step land."""
    subprocess.run(["sync"], check=False)
    time.sleep(1.5)


class MemCgroup:
    """A memory cgroup holding this process, the shims it starts and the containers.

    Its usage counts user and kernel memory (slab, page tables, kernel stacks, pipe buffers:
    cgroup v1 charges kmem into memory.usage_in_bytes on current kernels; v2's memory.current
    always did), for these processes only: the machine's other work, which moves MemAvailable by
    megabytes, does not touch it.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        self.path = f"/sys/fs/cgroup/{name}" if v2 else f"/sys/fs/cgroup/memory/{name}"
        self.usage_file = "memory.current" if v2 else "memory.usage_in_bytes"
        self.parent_procs = os.path.join(os.path.dirname(self.path), "cgroup.procs")
        os.makedirs(self.path, exist_ok=True)

    def enter(self) -> None:
        with open(os.path.join(self.path, "cgroup.procs"), "w", encoding="ascii") as f:
            f.write(str(os.getpid()))

    def usage(self) -> int:
        with open(os.path.join(self.path, self.usage_file), encoding="ascii") as f:
            return int(f.read())

    def remove(self) -> None:
        with open(self.parent_procs, "w", encoding="ascii") as f:
            f.write(str(os.getpid()))
        # The runtime made <name>/<cid> in every hierarchy; it removed the <cid> folders.
        tops = [self.path] + [
            os.path.join("/sys/fs/cgroup", h, self.name) for h in os.listdir("/sys/fs/cgroup")
        ]
        for top in tops:
            for _ in range(50):
                try:
                    os.rmdir(top)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)  # the last processes are still leaving


# ---------------------------------------------------------------- the containers


def runtime_path() -> str:
    path = os.path.join(os.path.dirname(sys.executable), "dockyard-runtime")
    return path if os.path.exists(path) else os.path.join(REPO, ".venv", "bin", "dockyard-runtime")


def make_bundles(work: str, n: int, cgroup: str) -> list[str]:
    """N bundles sharing one read-only busybox root filesystem, their cgroups below ``cgroup``."""
    from dockyard.util import busybox

    first = busybox.make_bundle(os.path.join(work, "b0"), ["sleep", "1000"], readonly_rootfs=True)
    rootfs = os.path.join(first, "rootfs")
    bundles = [first]
    with open(os.path.join(first, "config.json"), encoding="utf-8") as f:
        import json

        config = json.load(f)
    config["root"] = {"path": rootfs, "readonly": True}
    for i in range(n):
        b = os.path.join(work, f"b{i}")
        os.makedirs(b, exist_ok=True)
        config["linux"]["cgroupsPath"] = f"/{cgroup}/c{i}"
        with open(os.path.join(b, "config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f)
        if i:
            bundles.append(b)
    return bundles


@dataclass
class Result:
    per_container_memcg: list[float] = field(default_factory=list)  # bytes, one per round
    per_container_avail: list[float] = field(default_factory=list)
    pss: list[float] = field(default_factory=list)
    private_dirty: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)  # seconds, every container
    fixed_pss: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


#: design -> (containers per shim process, launcher); "bare" has no shim.
SETTINGS: dict[str, tuple[int, str]] = {
    "zygote": (1, "zygote"),
    "group16": (16, "zygote"),
    "monitor": (1_000_000, "zygote"),
    "exec": (1, "exec"),
}


class Round:
    def __init__(self, design: str, work: str, bundles: list[str], rt: str) -> None:
        self.design = design
        self.work = work
        self.bundles = bundles
        self.rt = rt
        self.root = os.path.join(work, f"root-{design}")
        self.ids: list[str] = []
        self.pids: set[int] = set()  # the shim processes
        self.fixed: list[int] = []  # the zygote
        self.latency: list[float] = []

    def prepare(self) -> None:
        if self.design == "bare":
            return
        from dockyard.engine import shim

        group_size, launcher = SETTINGS[self.design]
        shim.configure(group_size, launcher)
        if launcher == "zygote":
            shim.start_zygote()
            pid = shim._get_pool().zygote.pid
            self.fixed = [pid] if pid else []

    def start_all(self) -> None:
        import asyncio

        asyncio.run(self._start_all())

    async def _start_all(self) -> None:
        from pathlib import Path

        from dockyard.engine.shim import ShimSpec, start_shim

        for i, bundle in enumerate(self.bundles):
            cid = f"mem-{self.design}-{os.getpid()}-{i}"
            self.ids.append(cid)
            if self.design == "bare":
                t0 = time.perf_counter()
                subprocess.run(
                    [self.rt, "--root", self.root, "create", "--bundle", bundle, cid],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=True,
                )
                self.latency.append(time.perf_counter() - t0)
                subprocess.run([self.rt, "--root", self.root, "start", cid], check=True)
                continue
            state = Path(self.work) / f"state-{cid}"
            spec = ShimSpec(
                cid=cid,
                bundle=Path(bundle),
                state_dir=state,
                runtime=[self.rt, "--root", self.root],
                tty=False,
                open_stdin=False,
                stdin_once=False,
                log_path=state / "json.log",
            )
            t0 = time.perf_counter()
            shim = await start_shim(spec)
            self.latency.append(time.perf_counter() - t0)
            self.pids.add(shim.pid)
            subprocess.run([self.rt, "--root", self.root, "start", cid], check=True)

    def measure(self) -> tuple[int, int]:
        """(Pss, Private_Dirty) summed over the shim processes."""
        pss = dirty = 0
        for pid in self.pids:
            m = smaps(pid)
            pss += m.get("Pss", 0)
            dirty += m.get("Private_Dirty", 0)
        return pss, dirty

    def fixed_pss(self) -> int:
        return sum(smaps(p).get("Pss", 0) for p in self.fixed)

    def teardown(self) -> None:
        for cid in self.ids:
            subprocess.run(
                [self.rt, "--root", self.root, "delete", "--force", cid],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=30,
            )
        if self.design != "bare":
            from dockyard.engine import shim

            shim.stop_zygote()
        deadline = time.monotonic() + 10
        for pid in self.pids:
            while time.monotonic() < deadline and smaps(pid):
                time.sleep(0.02)
        shutil.rmtree(self.root, ignore_errors=True)


# ---------------------------------------------------------------- the report


def mib(x: float) -> str:
    return f"{x / MIB:.2f} MiB"


def table(results: dict[str, Result], n: int, rounds: int) -> str:
    import datetime
    import platform

    bare = results.get("bare")
    floor = statistics.median(bare.per_container_memcg) if bare and bare.per_container_memcg else None
    lines = [
        "## Memory per idle running container: the shim's designs",
        "",
        f"`bench/shim_memory.py`, {datetime.date.today().isoformat()}, {n} idle `sleep` containers per "
        f"design, {rounds} interleaved rounds, kernel {platform.release()}, {os.cpu_count()} CPUs. "
        "Per container, median over rounds: **memcg**, the growth of a memory cgroup holding the "
        "bench (in the daemon's role), the zygote, the shims and the containers (user + kernel "
        "memory); MemAvailable, the machine's drop (moved by everything else running here too); "
        "Pss and Private_Dirty summed over the shim processes. Designs: bare = no monitor; "
        "zygote = (a) a forked shim per container; group16 = forked shims of up to 16 containers "
        "(the default); monitor = (b) one shim process for all; exec = (c) a `python -S` per "
        "container. Start: spawn of the shim to the runtime's `create` done (bare: `create` "
        "alone), median, on a machine shared with other work. Targets (anchors.md), machine per "
        "container: docker +3.6 MiB, podman +2.1 MiB.",
        "",
        "| design | memcg | over bare | MemAvailable | shims' Pss | shims' Private_Dirty | zygote Pss "
        "| start |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        if r.failures and not r.per_container_memcg:
            lines.append(f"| {name} | failed: {r.failures[-1]} | | | | | | |")
            continue
        cg = statistics.median(r.per_container_memcg)
        over = f"+{mib(cg - floor)}" if floor is not None and name != "bare" else "—"
        lat = f"{statistics.median(r.latency) * 1000:.1f} ms" if r.latency else "—"
        fixed = mib(statistics.median(r.fixed_pss)) if any(r.fixed_pss) else "—"
        lines.append(
            f"| {name} | {mib(cg)} | {over} | {mib(statistics.median(r.per_container_avail))} | "
            f"{mib(statistics.median(r.pss))} | {mib(statistics.median(r.private_dirty))} | {fixed} | {lat} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20, help="containers per design and round (default 20)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--designs", nargs="*", default=list(DESIGNS), choices=DESIGNS)
    parser.add_argument(
        "--output",
        default=os.path.join(REPO, "BENCHMARKS.md"),
        help="markdown file whose section to update ('' to write none)",
    )
    ns = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("error: containers need root: run as root", file=sys.stderr)
        return 1
    rt = runtime_path()
    work = tempfile.mkdtemp(prefix="dockyard-shimmem-")
    results = {d: Result() for d in ns.designs}
    memcg = MemCgroup(f"dockyard-shimmem-{os.getpid()}")
    try:
        memcg.enter()
        bundles = make_bundles(work, ns.n, memcg.name)
        for rnd in range(ns.rounds):
            order = ns.designs[rnd % len(ns.designs) :] + ns.designs[: rnd % len(ns.designs)]
            for design in order:
                r = Round(design, work, bundles, rt)
                res = results[design]
                try:
                    r.prepare()
                    settle()
                    before, before_cg = mem_available(), memcg.usage()
                    r.start_all()
                    settle()
                    after, after_cg = mem_available(), memcg.usage()
                    pss, dirty = r.measure()
                    n = ns.n
                    res.per_container_memcg.append((after_cg - before_cg) / n)
                    res.per_container_avail.append((before - after) / n)
                    fixed_pss = r.fixed_pss()
                    res.pss.append(pss / n)
                    res.private_dirty.append(dirty / n)
                    res.fixed_pss.append(fixed_pss)
                    res.latency.extend(r.latency)
                    print(
                        f"round {rnd + 1} {design:8} memcg {mib((after_cg - before_cg) / n)}/container, "
                        f"MemAvailable {mib((before - after) / n)}, Pss {mib(pss / n)}, "
                        f"Private_Dirty {mib(dirty / n)}, processes {len(r.pids)}, "
                        f"zygote Pss {mib(fixed_pss)}, "
                        f"start {statistics.median(r.latency) * 1000:.1f} ms",
                        file=sys.stderr,
                    )
                except Exception as exc:
                    res.failures.append(f"{type(exc).__name__}: {exc}")
                    print(f"round {rnd + 1} {design}: failed: {exc}", file=sys.stderr)
                finally:
                    r.teardown()
        section = table(results, ns.n, ns.rounds)
        print(section)
        if ns.output:
            from bench.report import write_section

            write_section(ns.output, "bench/shim_memory.py", section)
            print(f"written to {ns.output}", file=sys.stderr)
        return 0
    finally:
        memcg.remove()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, REPO)
    sys.exit(main())
