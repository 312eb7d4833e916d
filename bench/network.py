"""Networking: dockyard against docker (dockerd + containerd + runc), same busybox image.

    .venv/bin/python bench/network.py [--rounds 5] [--runs 20] [--mib 1024] [--output BENCHMARKS.md]

Measured (issue 5, must show 4), rounds interleaved between the engines:

- TCP throughput container -> container on a user-defined network: N MiB sent from the client
  container's network namespace (a small Python sender under nsenter: this busybox's nc ends at
  once on large input) to a server container's `nc -l > /dev/null`.
- TCP throughput host -> published port on 127.0.0.1: this process sends N MiB to
  `-p 127.0.0.1:PORT:5001` of a container on the user network. dockyard DNATs it in the kernel
  (nft, route_localnet); dockerd's default sends loopback through its userland docker-proxy.
- The time `run` spends on network setup: median of `run --rm --network NET busybox true` minus
  median of the same with `--network none`, for the default bridge and for a user network.

Targets: throughput within 10 % of docker's, setup time at most half of docker's. No traffic
leaves the machine: every address is a container's or loopback.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engines import Docker, Dockyard, Engine, busybox_tar, workdir
from bench.report import write_section
from dockyard.network.manager import cleanup_bridge

MARKER = "bench/network.py"
SERVER = "while true; do nc -l -p 5001 > /dev/null; done"


class Setup:
    """One engine's containers for the throughput runs."""

    def __init__(self, e: Engine, port: int) -> None:
        self.e = e
        self.net = f"benchnet{os.getpid()}"
        e.run("network", "create", self.net)
        self.server = e.run("run", "-d", "--network", self.net, "busybox", "sh", "-c", SERVER).stdout.strip()
        self.client = e.run("run", "-d", "--network", self.net, "busybox", "sleep", "100000").stdout.strip()
        # On the user network too: docker0 is shared with any other dockerd on this host, which
        # may take it away mid-run; a user network's bridge is this dockerd's own.
        self.published = e.run(
            "run", "-d", "--network", self.net, "-p", f"127.0.0.1:{port}:5001", "busybox", "sh", "-c", SERVER
        ).stdout.strip()
        self.port = port
        fmt = f"{{{{.NetworkSettings.Networks.{self.net}.IPAddress}}}}"
        self.server_ip = e.run("inspect", "-f", fmt, self.server).stdout.strip()
        time.sleep(0.5)

    def container_to_container(self, mib: int) -> float:
        # The sender runs in the client container's network namespace (busybox's nc here ends at
        # once on a large input); the packets take the container's path: its eth0, the veth
        # pair, the bridge, the server's veth pair.
        pid = self.e.run("inspect", "-f", "{{.State.Pid}}", self.client).stdout.strip()
        script = (
            "import socket,sys,time\n"
            f"c=b'\\0'*65536\ns=socket.create_connection(('{self.server_ip}',5001),timeout=10)\n"
            f"t=time.perf_counter()\nfor _ in range({mib * 16}): s.sendall(c)\n"
            "s.shutdown(socket.SHUT_WR)\ns.recv(1)\nprint(time.perf_counter()-t)\n"
        )
        for attempt in range(3):
            time.sleep(0.3)  # the server's nc listens again a moment after the previous round
            res = subprocess.run(
                ["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", script],
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            if res.returncode == 0:
                return mib * 2**20 / float(res.stdout)
            if attempt == 2:
                raise RuntimeError(f"{self.e.name}: container -> {self.server_ip}: {res.stderr.strip()}")
        raise AssertionError("unreachable")

    def host_to_published(self, mib: int) -> float:
        # The server's nc listens again a moment after the previous round: give it that moment,
        # and retry a round whose connection was taken before it did (docker-proxy accepts and
        # then cannot reach the container).
        for attempt in range(3):
            time.sleep(0.3)
            try:
                return self._send(mib)
            except OSError as exc:
                if attempt == 2:
                    raise RuntimeError(f"{self.e.name}: host -> 127.0.0.1:{self.port}: {exc}") from exc
        raise AssertionError("unreachable")

    def _send(self, mib: int) -> float:
        chunk = b"\0" * 65536
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            start = time.perf_counter()
            for _ in range(mib * 16):
                s.sendall(chunk)
            s.shutdown(socket.SHUT_WR)
            s.recv(1)  # the server closes once it has read everything
            return mib * 2**20 / (time.perf_counter() - start)

    def close(self) -> None:
        self.e.run("rm", "-f", self.server, self.client, self.published, check=False)
        self.e.run("network", "rm", self.net, check=False)


def timed_run(e: Engine, *args: str) -> float:
    start = time.perf_counter()
    e.run("run", "--rm", *args, "busybox", "true")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="throughput rounds per path and engine")
    p.add_argument("--runs", type=int, default=20, help="`run` samples per mode and engine")
    p.add_argument("--mib", type=int, default=1024, help="MiB sent per throughput round")
    p.add_argument("--only", nargs="*", default=["dockyard", "docker"])
    p.add_argument("--output", default=str(Path(__file__).resolve().parent.parent / "BENCHMARKS.md"))
    args = p.parse_args(argv)
    work = workdir()
    image = busybox_tar(work / "busybox.tar")
    engines: list[Engine] = []
    setups: list[Setup] = []
    rates: dict[str, dict[str, list[float]]] = {}
    runs: dict[str, dict[str, list[float]]] = {}
    try:
        if "dockyard" in args.only:
            engines.append(Dockyard(work))
        if "docker" in args.only:
            engines.append(Docker(work, image))
        base_port = 24000 + os.getpid() % 1000 * 2
        setups = [Setup(e, base_port + i) for i, e in enumerate(engines)]
        for s in setups:  # warm-up: first connections, ARP
            s.container_to_container(128)
            s.host_to_published(128)
        for i in range(args.rounds):
            for s in setups[i % len(setups) :] + setups[: i % len(setups)]:
                rates.setdefault("container -> container (user network)", {}).setdefault(s.e.name, []).append(
                    s.container_to_container(args.mib)
                )
                rates.setdefault("host -> published port (127.0.0.1)", {}).setdefault(s.e.name, []).append(
                    s.host_to_published(args.mib)
                )
        for s in setups:
            s.close()
        setups = []
        nets = {}
        for e in engines:
            nets[e.name] = f"benchrun{os.getpid()}"
            e.run("network", "create", nets[e.name])
            for mode in ("none", nets[e.name]):
                timed_run(e, "--network", mode)
        for i in range(args.runs):
            for e in engines[i % len(engines) :] + engines[: i % len(engines)]:
                for label, mode in (("none", "none"), ("bridge", "bridge"), ("user network", nets[e.name])):
                    try:
                        sample = timed_run(e, "--network", mode)
                    except RuntimeError as exc:
                        # docker0 is the host's, shared with any other dockerd here, which may
                        # take it away mid-run: that sample is lost, the others stand.
                        print(f"skipped a sample: {exc}", file=sys.stderr)
                        continue
                    runs.setdefault(label, {}).setdefault(e.name, []).append(sample)
        for e in engines:
            e.run("network", "rm", nets[e.name], check=False)
    finally:
        for s in setups:
            s.close()
        for e in engines:
            e.stop()
            if isinstance(e, Dockyard):
                # Its stop() deletes the bridge only: the firewall chains and nft table go too.
                cleanup_bridge(e.bridge)
    text = report(rates, runs, args)
    print(text)
    if args.output:
        write_section(args.output, MARKER, text)
    return 0


def _ratio(ours: float | None, theirs: float | None) -> str:
    return f"{ours / theirs:.2f}x" if ours and theirs else ""


def report(
    rates: dict[str, dict[str, list[float]]],
    runs: dict[str, dict[str, list[float]]],
    args: argparse.Namespace,
) -> str:
    today = datetime.date.today().isoformat()
    lines = [
        "## Networking: throughput and the time `run` spends on the network",
        "",
        f"`bench/network.py`, {today}, kernel {platform.release()}, {os.cpu_count()} CPUs; dockyard vs "
        "dockerd 20.10 + containerd + runc (docker 28 client), same busybox image. "
        f"Throughput: median of {args.rounds} rounds of {args.mib} MiB into busybox `nc -l`.",
        "",
        "| path | dockyard | docker | dockyard / docker |",
        "| --- | --- | --- | --- |",
    ]
    for path, by in rates.items():
        ours = statistics.median(by["dockyard"]) if by.get("dockyard") else None
        theirs = statistics.median(by["docker"]) if by.get("docker") else None
        cells = [f"{v * 8 / 1e9:.2f} Gbit/s" if v else "n/a" for v in (ours, theirs)]
        lines.append(f"| {path} | {cells[0]} | {cells[1]} | {_ratio(ours, theirs)} |")
    lines += [
        "",
        f"`run --rm busybox true`, median of {args.runs}; network setup = the mode's median minus "
        "`--network none`'s:",
        "",
        "| network | dockyard run | docker run | dockyard setup | docker setup | setup ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    med = {label: {n: statistics.median(v) for n, v in by.items()} for label, by in runs.items()}
    for label, row in med.items():
        setups = {n: row[n] - med["none"][n] for n in row if n in med["none"]} if label != "none" else {}
        cells = [f"{row[n] * 1000:.0f} ms" if n in row else "n/a" for n in ("dockyard", "docker")]
        setup_cells = [f"{setups[n] * 1000:.1f} ms" if n in setups else "" for n in ("dockyard", "docker")]
        ratio = _ratio(setups.get("dockyard"), setups.get("docker")) if setups else ""
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {setup_cells[0]} | {setup_cells[1]} | {ratio} |")
    lines += [
        "",
        "Loopback publishing: DNAT in the kernel (nft `output` chain + route_localnet) was chosen over a "
        "userland proxy: no process per port, and the bytes never cross into user space (dockerd's "
        "default, docker-proxy, copies each of them through a process; its row above is that path).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
