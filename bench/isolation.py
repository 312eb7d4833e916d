"""Isolation bench (issue 8): each attack beside a victim, on dockyard and on Debian's dockerd.

For every scenario a busybox httpd victim is timed every 20 ms (from a thread inside its network
namespace) and the daemon's /_ping every 100 ms, first idle, then while an attacker container
runs; the table gives the victim's and the daemon's p50/p99 both ways, per engine, and what the
attacker hit. The escape attempts of tests/isolation/prober.c run once per engine too. The
result is printed and written to docs/isolation.md (the doubt, the numbers, what contains each
attack). The same scenarios, shorter and with assertions, are tests/isolation/.

    .venv/bin/python bench/isolation.py                      # 20 s attacks, writes docs/isolation.md
    .venv/bin/python bench/isolation.py --seconds 5 --output ''   # quick look, prints only

Both engines run privately: their own sockets, roots and cgroups; dockerd with --bridge=none and
no iptables; every container with --network none. Run as root after ./scripts/test.sh.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engines import Dockyard, _wait_socket, busybox_tar
from tests.isolation.engines import (
    Engine,
    KernelLog,
    cgroup_dir,
    host_process_count,
    read_int,
)
from tests.isolation.scene import Scene, stage

REPO = Path(__file__).resolve().parent.parent
DOCKER_CLI = "/usr/local/bin/docker"
MEMORY_HOG = "x=0123456789abcdef; while :; do x=$x$x; done"
SPINNERS = "while :; do :; done & while :; do :; done"


@dataclass
class Row:
    scenario: str
    engine: str
    idle: tuple[float, float] = (0.0, 0.0)  # victim p50, p99 (s)
    attack: tuple[float, float] = (0.0, 0.0)
    ping_idle: tuple[float, float] = (0.0, 0.0)
    ping_attack: tuple[float, float] = (0.0, 0.0)
    errors: int = 0  # victim requests or pings that failed during the attack
    outcome: str = ""


@dataclass
class Bench:
    seconds: float
    prober: Path
    rows: list[Row] = field(default_factory=list)
    escapes: dict[str, dict[str, str]] = field(default_factory=dict)


# ---------------------------------------------------------------- engines


def start_dockyard(work: Path) -> tuple[Engine, Callable[[], None]]:
    d = Dockyard(work)
    return Engine(
        "dockyard", "busybox", str(d.sock), [DOCKER_CLI, "-H", f"unix://{d.sock}"], lambda: [d.proc.pid]
    ), d.stop


def start_docker(work: Path) -> tuple[Engine, Callable[[], None]]:
    """dockerd (Debian's, with its managed containerd) with no bridge and no firewall changes."""
    root = work / "docker"
    root.mkdir(parents=True)
    (root / "daemon.json").write_text("{}\n")
    cgroup_parent = f"/dockyard-bench-{os.getpid()}"
    log = open(root / "dockerd.log", "ab")  # noqa: SIM115 - dockerd's for its life
    proc = subprocess.Popen(
        ["dockerd", "-H", f"unix://{root / 'docker.sock'}", "--data-root", str(root / "data"),
         "--exec-root", str(root / "exec"), "--pidfile", str(root / "dockerd.pid"),
         "--config-file", str(root / "daemon.json"), "--bridge=none", "--iptables=false",
         "--ip6tables=false", "--ip-forward=false", "--ip-masq=false", "--cgroup-parent", cgroup_parent,
         "--storage-driver", "overlay2"],
        stdout=log, stderr=log, start_new_session=True,
    )  # fmt: skip
    log.close()
    _wait_socket(root / "docker.sock", proc, "dockerd")
    cli = [DOCKER_CLI, "-H", f"unix://{root / 'docker.sock'}"]
    subprocess.run([*cli, "import", str(busybox_tar(root / "busybox.tar")), "busybox:bench"], check=True,
                   capture_output=True)  # fmt: skip

    def pids() -> list[int]:
        out = [proc.pid]
        with contextlib.suppress(OSError, ValueError):
            out.append(int((root / "exec" / "containerd" / "containerd.pid").read_text().strip()))
        return out

    def stop() -> None:
        ids = subprocess.run([*cli, "ps", "-aq"], capture_output=True, text=True).stdout.split()
        if ids:
            subprocess.run([*cli, "rm", "-f", *ids], capture_output=True)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        subprocess.run(["umount", "-R", "-l", str(root)], capture_output=True, check=False)
        for controller in os.listdir("/sys/fs/cgroup"):
            with contextlib.suppress(OSError):
                os.rmdir(f"/sys/fs/cgroup/{controller}{cgroup_parent}")
        shutil.rmtree(root, ignore_errors=True)

    return Engine("docker", "busybox:bench", str(root / "docker.sock"), cli, pids), stop


# ---------------------------------------------------------------- scenarios


def p50_p99(samples: Any) -> tuple[float, float]:
    return (samples.p(50), samples.p(99)) if samples.latencies else (float("nan"), float("nan"))


@contextlib.contextmanager
def scenario(b: Bench, e: Engine, name: str) -> Iterator[tuple[Scene, Row]]:
    row = Row(name, e.name)
    with stage(e, f"bench{os.getpid()}-{e.name}-victim-{name.replace(' ', '-')}") as s:
        try:
            idle = s.measure("idle", int(b.seconds / 2 / 0.02))
            s.switch("attack")
            yield s, row
            attack, pings = s.http.samples("attack"), s.pings.samples("attack")
            row.idle, row.attack = p50_p99(idle), p50_p99(attack)
            row.ping_idle, row.ping_attack = p50_p99(s.pings.samples("idle")), p50_p99(pings)
            row.errors = len(attack.errors) + len(pings.errors)
        finally:
            e.cleanup()
    b.rows.append(row)
    print(f"{e.name:9} {name:10} victim {fmt(row.idle)} -> {fmt(row.attack)}  {row.outcome}", flush=True)


def memory(b: Bench, e: Engine) -> None:
    with scenario(b, e, "memory") as (_, row):
        log = KernelLog()
        try:
            name = f"bench{os.getpid()}-memhog"
            e.run(name, "--memory", "64m", "--restart", "on-failure", command=["sh", "-c", MEMORY_HOG])
            time.sleep(b.seconds)  # restarted after each OOM kill: the attack goes on
            state = e.inspect(name)["State"]
            kills = log.oom_kills()
        finally:
            log.close()
        global_kills = sum(k.get("constraint") != "CONSTRAINT_MEMCG" for k in kills)
        row.outcome = (
            f"OOM-killed {len(kills)}x in {b.seconds:.0f}s (exit {state['ExitCode']}, OOMKilled "
            f"{str(state['OOMKilled']).lower()}), host OOM kills: {global_kills}"
        )


def fork_bomb(b: Bench, e: Engine) -> None:
    with scenario(b, e, "fork bomb") as (_, row):
        before = host_process_count()
        name = f"bench{os.getpid()}-forkbomb"
        e.run(name, "--pids-limit", "100", "-v", f"{b.prober}:/prober:ro", command=["/prober", "forkbomb"])
        folder = cgroup_dir(e.pid(name), "pids")
        peak = host_peak = 0
        end = time.monotonic() + b.seconds
        while time.monotonic() < end:
            peak = max(peak, read_int(f"{folder}/pids.current"))
            host_peak = max(host_peak, host_process_count())
            time.sleep(0.1)
        start = time.monotonic()
        e.docker("stop", "--time", "1", name)
        row.outcome = (
            f"pids peak {peak}/100, host processes +{host_peak - before}, stopped in "
            f"{time.monotonic() - start:.1f}s"
        )


def cpu(b: Bench, e: Engine) -> None:
    with scenario(b, e, "cpu") as (_, row):
        name = f"bench{os.getpid()}-spinner"
        e.run(name, "--cpus", "0.5", command=["sh", "-c", SPINNERS])
        time.sleep(0.5)
        folder = cgroup_dir(e.pid(name), "cpuacct")
        u0, t0 = read_int(f"{folder}/cpuacct.usage"), time.monotonic()
        time.sleep(b.seconds)
        used = (read_int(f"{folder}/cpuacct.usage") - u0) / 1e9 / (time.monotonic() - t0)
        row.outcome = f"attacker used {used:.3f} cores (--cpus 0.5)"


def crash(b: Bench, e: Engine) -> None:
    with scenario(b, e, "crash loop") as (_, row):
        segv = f"bench{os.getpid()}-segv"
        e.run(segv, "-v", f"{b.prober}:/prober:ro", command=["/prober", "segv"])
        code = e.docker("wait", segv).stdout.strip()
        name = f"bench{os.getpid()}-crashloop"
        cpu0, t0 = e.daemon_cpu_seconds(), time.monotonic()
        e.run(name, "--restart", "always", command=["sh", "-c", "exit 1"])
        time.sleep(b.seconds)
        daemon = (e.daemon_cpu_seconds() - cpu0) / (time.monotonic() - t0)
        restarts = e.inspect(name)["RestartCount"]
        row.outcome = (
            f"segfault exit {code}; {restarts} restarts in {b.seconds:.0f}s, daemon CPU {daemon:.3f} cores"
        )


def disk(b: Bench, e: Engine) -> None:
    with scenario(b, e, "disk") as (_, row):
        name = f"bench{os.getpid()}-tmpfs"
        e.run(name, "--tmpfs", "/t:size=16m", command=[
            "sh", "-c", "dd if=/dev/zero of=/t/f bs=1M count=64 2>&1; stat -c %s /t/f"])  # fmt: skip
        e.docker("wait", name)
        tmpfs = e.docker("logs", name).stdout.split("\n")
        st = os.stat("/tmp")
        with open(
            f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}/uevent", encoding="ascii"
        ) as f:
            device = "/dev/" + dict(line.strip().split("=", 1) for line in f if "=" in line)["DEVNAME"]
        writer = f"bench{os.getpid()}-throttled"
        e.run(writer, "--device-write-bps", f"{device}:1mb", command=["sleep", "600"])
        count = max(2, int(b.seconds / 2))  # MiB: about half the window at 1 MiB/s
        start = time.monotonic()
        dd = ["dd", "if=/dev/zero", "of=/f", "bs=64k", f"count={16 * count}", "oflag=direct"]
        e.docker("exec", writer, *dd,
                 timeout=600)  # fmt: skip
        rate = count / (time.monotonic() - start)
        refused = next((line for line in tmpfs if "No space" in line), "not refused")
        row.outcome = (
            f"tmpfs 16m: {refused.strip()} at {tmpfs[-2] if len(tmpfs) > 1 else '?'} bytes; "
            f"direct writes at {rate:.2f} MiB/s with --device-write-bps 1mb"
        )


def escapes(b: Bench, e: Engine) -> None:
    name = f"bench{os.getpid()}-escapes"
    try:
        e.run(name, "-v", f"{b.prober}:/prober:ro", command=["sleep", "600"])
        with tempfile.NamedTemporaryFile(prefix="dockyard-host-marker-", dir="/tmp") as marker:
            out = e.docker(
                "exec", name, "/prober", "escapes", marker.name, e.socket, str(e.daemon_pids()[0])
            ).stdout
        raw = f"bench{os.getpid()}-raw"
        e.run(raw, "--cap-drop", "NET_RAW", "-v", f"{b.prober}:/prober:ro", command=["sleep", "600"])
        out += e.docker("exec", raw, "/prober", "raw-socket").stdout
    finally:
        e.cleanup()
    found: dict[str, str] = {}
    for line in out.splitlines():
        head, _, rest = line.partition(" ")
        if head == "masked":
            path, _, rest = rest.partition(" ")
            head = path.removeprefix("path=")
        found[head] = rest
    b.escapes[e.name] = found


# ---------------------------------------------------------------- report


def fmt(pair: tuple[float, float]) -> str:
    return f"{pair[0] * 1000:.2f}/{pair[1] * 1000:.2f}"


def report(b: Bench) -> str:
    lines = [
        "| scenario | engine | victim p50/p99 idle (ms) | under attack | daemon /_ping p50/p99 idle "
        "| under attack | failed requests | what the attacker hit |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in b.rows:
        lines.append(
            f"| {r.scenario} | {r.engine} | {fmt(r.idle)} | {fmt(r.attack)} | {fmt(r.ping_idle)} | "
            f"{fmt(r.ping_attack)} | {r.errors} | {r.outcome} |"
        )
    engines = list(b.escapes)
    lines += ["", "| escape attempt | " + " | ".join(engines) + " |", "| --- |" + " --- |" * len(engines)]
    probes = sorted({p for found in b.escapes.values() for p in found})
    for probe in probes:
        lines.append(f"| {probe} | " + " | ".join(b.escapes[e].get(probe, "-") for e in engines) + " |")
    return "\n".join(lines) + "\n"


def write_doc(path: Path, table: str, b: Bench) -> None:
    doc = path.read_text() if path.exists() else ""
    start, end = "<!-- bench/isolation.py: start -->", "<!-- bench/isolation.py: end -->"
    stamp = (
        f"Measured by `bench/isolation.py --seconds {b.seconds:g}` on {time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} cores, kernel {os.uname().release} (cgroup v1), load average "
        f"{os.getloadavg()[0]:.1f} at the end.\n\n"
    )
    block = f"{start}\n{stamp}{table}{end}"
    if start in doc and end in doc:
        doc = doc.split(start)[0] + block + doc.split(end, 1)[1]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(doc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="attack window per scenario (default 20)")
    parser.add_argument("--only", nargs="*", default=["dockyard", "docker"], help="engines: dockyard docker")
    parser.add_argument("--output", default=str(REPO / "docs" / "isolation.md"), help="'' to only print")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="dy-isolation-bench-"))
    work.chmod(0o755)
    try:
        prober = work / "prober"
        subprocess.run(["gcc", "-static", "-O2", "-o", str(prober), str(REPO / "tests/isolation/prober.c")],
                       check=True)  # fmt: skip
        b = Bench(args.seconds, prober)
        starters = {"dockyard": start_dockyard, "docker": start_docker}
        for name in args.only:
            engine, stop = starters[name](work)
            try:
                for run in (memory, fork_bomb, cpu, crash, disk, escapes):
                    run(b, engine)
            finally:
                stop()
        b.rows.sort(key=lambda r: (r.scenario, r.engine))
        table = report(b)
        print(table)
        if args.output:
            write_doc(Path(args.output), table, b)
    finally:
        subprocess.run(["umount", "-R", "-l", str(work)], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
