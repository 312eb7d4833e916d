"""OCI runtime alone: `run` of /bin/true, dockyard-runtime against runc (and crun), in one run.

    .venv/bin/python bench/runtime.py [--runs 30] [--output BENCHMARKS.md] [--only NAME ...]

Every runtime runs the same busybox bundle (runc's default config, process /bin/true, no
terminal) with its own temporary ``--root``; rounds are interleaved (the order rotates each
round) so drift of the machine hits all alike. Each sample is the wall time of one whole
``RUNTIME run`` process, from fork to exit, as an engine sees it. A floor (unshare of the same
namespaces + chroot + /bin/true) shows what any runtime must pay. Medians and ratios to runc
are printed and written to a table in BENCHMARKS.md, between this benchmark's markers.

A runtime that fails its first run is left out, and the reason printed (crun 1.8.1 refuses this
host's hybrid cgroup layout, for one).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from dockyard.util import busybox

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.report import write_section

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Contender:
    name: str
    argv: list[str]  # the command before the container id (None-free, ready to run)
    root: str | None  # --root folder, for cleanup; None for the floor
    samples: list[float] = field(default_factory=list)
    failures: int = 0
    last_error: str = ""
    ids: list[str] = field(default_factory=list)


def dockyard_runtime() -> str | None:
    for path in (
        os.path.join(os.path.dirname(sys.executable), "dockyard-runtime"),
        os.path.join(REPO, ".venv", "bin", "dockyard-runtime"),
    ):
        if os.path.exists(path):
            return path
    return shutil.which("dockyard-runtime")


def run_once(c: Contender, n: int) -> tuple[float, str | None]:
    """One timed run; returns (seconds, error or None)."""
    argv = list(c.argv)
    if c.root is not None:
        cid = f"bench-{c.name}-{os.getpid()}-{n}"
        c.ids.append(cid)
        argv.append(cid)
    start = time.perf_counter()
    proc = subprocess.run(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        return elapsed, f"exit {proc.returncode}: {err[-1] if err else 'no message'}"
    return elapsed, None


def cleanup(c: Contender) -> None:
    if c.root is None:
        return
    for cid in c.ids:
        if os.path.exists(os.path.join(c.root, cid)):
            # `run` deletes its container on exit; this only catches a failed or killed run.
            subprocess.run(
                [c.argv[0], "--root", c.root, "delete", "--force", cid],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=30,
            )
    shutil.rmtree(c.root, ignore_errors=True)


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def table(contenders: list[Contender], skipped: dict[str, str], runs: int) -> str:
    runc = next((c for c in contenders if c.name == "runc" and c.samples), None)
    base = statistics.median(runc.samples) if runc else None
    lines = [
        "## OCI runtime alone: `run` of /bin/true",
        "",
        f"`bench/runtime.py`, {datetime.date.today().isoformat()}, {runs} interleaved runs each, "
        f"kernel {platform.release()}, {os.cpu_count()} CPUs. "
        "Wall time of the whole `RUNTIME run` process; same busybox bundle for all.",
        "",
        "| runtime | median | min | p90 | ratio to runc | failures |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for c in contenders:
        if not c.samples:
            lines.append(f"| {c.name} | — | — | — | — | {c.failures}: {c.last_error} |")
            continue
        med = statistics.median(c.samples)
        p90 = statistics.quantiles(c.samples, n=10)[-1] if len(c.samples) > 1 else med
        ratio = f"{med / base:.2f}x" if base else "—"
        fails = f"{c.failures}: {c.last_error}" if c.failures else "0"
        lines.append(
            f"| {c.name} | {fmt_ms(med)} | {fmt_ms(min(c.samples))} | {fmt_ms(p90)} | {ratio} | {fails} |"
        )
    for name, why in skipped.items():
        lines.append(f"| {name} | not run | | | | {why} |")
    return "\n".join(lines) + "\n"


def write_benchmarks(path: str, section: str) -> None:
    write_section(path, "bench/runtime.py", section)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per runtime (default 30)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs per runtime first")
    parser.add_argument(
        "--output",
        default=os.path.join(REPO, "BENCHMARKS.md"),
        help="markdown file whose section to update ('' to write none)",
    )
    parser.add_argument("--only", nargs="*", help="runtimes to run (dockyard, runc, crun, floor)")
    ns = parser.parse_args(argv)
    # Measure the installed state: bytecode written (scripts/install.sh does the same), so an
    # environment with PYTHONDONTWRITEBYTECODE does not time in-memory compilation; and the
    # launcher's one-file module cache (dockyard.runtime.codecache) up to date.
    for step in (["-m", "compileall", "-q", os.path.join(REPO, "src")], ["-m", "dockyard.runtime.codecache"]):
        subprocess.run([sys.executable, *step], check=True, stdout=subprocess.DEVNULL)
    if os.geteuid() != 0:
        print("error: OCI runtimes need root: run as root", file=sys.stderr)
        return 1

    work = tempfile.mkdtemp(prefix="dockyard-bench-")
    contenders: list[Contender] = []
    skipped: dict[str, str] = {}
    try:
        bundle = busybox.make_bundle(os.path.join(work, "bundle"), ["/bin/true"], terminal=False)
        candidates = {
            "dockyard": dockyard_runtime(),
            "runc": shutil.which("runc"),
            "crun": shutil.which("crun"),
        }
        for name, path in candidates.items():
            if ns.only and name not in ns.only:
                continue
            if path is None:
                skipped[name] = "not installed"
                continue
            root = os.path.join(work, f"root-{name}")
            contenders.append(Contender(name, [path, "--root", root, "run", "--bundle", bundle], root))
        unshare, chroot = shutil.which("unshare"), shutil.which("chroot")
        if (not ns.only or "floor" in ns.only) and unshare and chroot:
            floor = [
                unshare,
                "--mount",
                "--uts",
                "--ipc",
                "--net",
                "--pid",
                "--fork",
                chroot,
                os.path.join(bundle, "rootfs"),
                "/bin/true",
            ]
            contenders.append(Contender("floor (unshare + chroot)", floor, None))

        # Warm-up doubles as the check that a runtime works here at all.
        for c in list(contenders):
            for i in range(max(1, ns.warmup)):
                _, err = run_once(c, -1 - i)
                if err:
                    print(f"{c.name}: cannot run here, left out: {err}", file=sys.stderr)
                    skipped[c.name] = f"fails here: {err}"
                    contenders.remove(c)
                    cleanup(c)
                    break
        if not contenders:
            print("error: no runtime could run the bundle", file=sys.stderr)
            return 1

        for n in range(ns.runs):
            shift = n % len(contenders)
            for c in contenders[shift:] + contenders[:shift]:
                seconds, err = run_once(c, n)
                if err:
                    c.failures += 1
                    c.last_error = err
                else:
                    c.samples.append(seconds)
            print(f"\rround {n + 1}/{ns.runs}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)

        section = table(contenders, skipped, ns.runs)
        print(section)
        if ns.output:
            write_benchmarks(ns.output, section)
            print(f"written to {ns.output}", file=sys.stderr)
        return 0
    finally:
        for c in contenders:
            cleanup(c)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
