"""Compose: the demo app (examples/compose-demo) up until healthy, then down; dockyard compose on
dockyard against Debian's docker-compose 1.29 on dockerd.

    .venv/bin/python bench/compose.py [--runs 10] [--output BENCHMARKS.md]

Each round, for each pair (order rotating): `up -d`, then poll until every container of the
project runs and every one with a healthcheck is healthy (the same poller for both: the Engine
API's container list, every 50 ms), timed together; then `down -v`, timed alone. The images are
built once before the rounds (both tools build them on the first `up`), so a round measures
what `up` and `down` do, not the build. Also reported, for interest: docker-compose 1.29 against
dockyard (the same daemon, another client).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engines import VENV_BIN, Docker, Dockyard, Engine, busybox_tar, workdir
from bench.report import write_section
from dockyard.client.api import APIClient, encode_filters

MARKER = "bench/compose.py"
DEMO = Path(__file__).resolve().parent.parent / "examples" / "compose-demo"
POLL = 0.05


class Pair:
    def __init__(
        self, label: str, engine: Engine, sock: Path, tool: list[str], port: int, project: str
    ) -> None:
        self.label = label
        self.engine = engine
        self.client = APIClient(f"unix://{sock}")
        self.sock = sock
        self.tool = tool
        self.port = port
        self.project = project
        self.up: list[float] = []
        self.down: list[float] = []

    def compose(self, *args: str) -> None:
        host = f"unix://{self.sock}"
        env = {**self.engine.env(), "DOCKER_HOST": host, "DOCKYARD_HOST": host, "WEB_PORT": str(self.port)}
        res = subprocess.run(
            [*self.tool, "-p", self.project, *args],
            cwd=DEMO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if res.returncode != 0:
            raise RuntimeError(f"{self.label}: {' '.join(args)} failed:\n{res.stdout}\n{res.stderr}")

    def healthy(self) -> bool:
        label = encode_filters({"label": [f"com.docker.compose.project={self.project}"]})
        found = self.client.get("/containers/json", {"all": True, "filters": label}) or []
        if len(found) < 3:
            return False
        for c in found:
            status = str(c.get("Status") or "")
            if c.get("State") != "running" or "(health: starting)" in status or "(unhealthy)" in status:
                return False
        return True

    def round(self) -> None:
        start = time.perf_counter()
        self.compose("up", "-d")
        deadline = time.monotonic() + 120
        while not self.healthy():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.label}: the demo did not get healthy in 120 s")
            time.sleep(POLL)
        self.up.append(time.perf_counter() - start)
        start = time.perf_counter()
        self.compose("down", "-v")
        self.down.append(time.perf_counter() - start)


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--output", default=str(Path(__file__).resolve().parent.parent / "BENCHMARKS.md"))
    parser.add_argument(
        "--dockyard-compose", default=f"{VENV_BIN / 'dockyard'} compose",
        help="the command line of dockyard compose (default: the venv's dockyard)",
    )  # fmt: skip
    args = parser.parse_args()
    work = workdir()
    engines: list[Engine] = []
    try:
        dockyard = Dockyard(work)
        engines.append(dockyard)
        docker = Docker(work, busybox_tar(work / "busybox.tar"))
        engines.append(docker)
        ours = args.dockyard_compose.split()
        pairs = [
            Pair("dockyard compose -> dockyard", dockyard, dockyard.sock, ours, 18281, "benchdy"),
            Pair("docker-compose 1.29 -> dockerd", docker, docker.sock, ["docker-compose"], 18282, "benchdc"),
            Pair(
                "docker-compose 1.29 -> dockyard",
                dockyard,
                dockyard.sock,
                ["docker-compose"],
                18283,
                "benchdcdy",
            ),
        ]
        for pair in pairs:  # the first up builds the images; not measured
            pair.compose("up", "-d")
            pair.compose("down", "-v")
        for i in range(args.runs):
            for pair in pairs[i % len(pairs) :] + pairs[: i % len(pairs)]:
                pair.round()
        ref = pairs[1]
        lines = [
            f"## Compose: the demo app, `up -d` until healthy, and `down -v` ({MARKER})",
            "",
            f"{datetime.date.today()}, {platform.machine()}, {os.cpu_count()} CPUs, medians of {args.runs} "
            "interleaved rounds; examples/compose-demo (3 services, 2 built images, a volume, a "
            "healthcheck gating the web front), images built before the rounds.",
            "",
            "| client -> daemon | up -d until healthy | down -v | up vs docker-compose | down vs "
            "docker-compose |",
            "| --- | --- | --- | --- | --- |",
        ]
        for pair in pairs:
            up_ratio = statistics.median(pair.up) / statistics.median(ref.up)
            down_ratio = statistics.median(pair.down) / statistics.median(ref.down)
            lines.append(
                f"| {pair.label} | {ms(pair.up)} | {ms(pair.down)} | {up_ratio:.2f}x | {down_ratio:.2f}x |"
            )
        if args.dockyard_compose != parser.get_default("dockyard_compose"):
            lines += ["", f"dockyard compose run as `{args.dockyard_compose}`."]
        lines += [
            "",
            "The healthchecks poll every 500 ms (the demo's interval), so `up` until healthy is bounded "
            "below by the api's first check and the web front's, one after the other.",
            "",
        ]
        section = "\n".join(lines) + "\n"
        sys.stdout.write(section)
        if args.output:
            write_section(args.output, MARKER, section)
    finally:
        for engine in reversed(engines):
            engine.stop()
        subprocess.run(["rm", "-rf", str(work)], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
