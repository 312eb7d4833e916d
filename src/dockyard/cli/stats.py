"""``dockyard stats``: CPU, memory, network and block I/O per container, once or as a live table.

The numbers are computed from the Engine API's stats JSON as the docker CLI computes them
(``stats_helpers.go``): CPU % is the container's CPU time delta over the system's, times the
online CPUs; memory leaves out the page cache's inactive file pages (``total_inactive_file``
on cgroup v1, ``inactive_file`` on v2).
"""

from __future__ import annotations

import threading
import time

from dockyard.cli import formatter, humanize
from dockyard.cli.command import Command, Exit
from dockyard.client.api import quote_path
from dockyard.errors import DockyardError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context

DEFAULT_TABLE = (
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
)
HEADERS = {
    "ID": "CONTAINER ID",
    "Container": "CONTAINER",
    "Name": "NAME",
    "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT",
    "MemPerc": "MEM %",
    "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O",
    "PIDs": "PIDS",
}


def cpu_percent(s: dict[str, Any]) -> float:
    cpu = s.get("cpu_stats") or {}
    pre = s.get("precpu_stats") or {}
    cpu_delta = float((cpu.get("cpu_usage") or {}).get("total_usage") or 0) - float(
        (pre.get("cpu_usage") or {}).get("total_usage") or 0
    )
    system_delta = float(cpu.get("system_cpu_usage") or 0) - float(pre.get("system_cpu_usage") or 0)
    online = float(cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []))
    if system_delta > 0 and cpu_delta > 0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


def memory_usage(s: dict[str, Any]) -> tuple[float, float]:
    """(usage without inactive page cache, limit)."""
    mem = s.get("memory_stats") or {}
    usage = float(mem.get("usage") or 0)
    detail = mem.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):
        if key in detail and detail[key] < usage:
            usage -= float(detail[key])
            break
    return usage, float(mem.get("limit") or 0)


def block_io(s: dict[str, Any]) -> tuple[float, float]:
    read = write = 0.0
    for entry in (s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(entry.get("op", "")).lower()
        if op == "read":
            read += float(entry.get("value") or 0)
        elif op == "write":
            write += float(entry.get("value") or 0)
    return read, write


def net_io(s: dict[str, Any]) -> tuple[float, float]:
    rx = tx = 0.0
    for net in (s.get("networks") or {}).values():
        rx += float(net.get("rx_bytes") or 0)
        tx += float(net.get("tx_bytes") or 0)
    return rx, tx


class StatsRow:
    """One container's numbers as ``--format`` sees them (docker's ``statsContext``)."""

    def __init__(self, container: str, stats: dict[str, Any] | None, trunc: bool) -> None:
        self.container = container
        self.s = stats or {}
        self.trunc = trunc
        self.error = stats is None

    def Container(self) -> str:
        return self.container

    def ID(self) -> str:
        cid = str(self.s.get("id") or self.container)
        return formatter.truncate_id(cid) if self.trunc else cid

    def Name(self) -> str:
        return str(self.s.get("name") or "--").lstrip("/")

    def CPUPerc(self) -> str:
        return "--" if self.error else f"{cpu_percent(self.s):.2f}%"

    def MemUsage(self) -> str:
        if self.error:
            return "-- / --"
        usage, limit = memory_usage(self.s)
        return f"{humanize.bytes_size(usage)} / {humanize.bytes_size(limit)}"

    def MemPerc(self) -> str:
        if self.error:
            return "--"
        usage, limit = memory_usage(self.s)
        return f"{(usage / limit * 100.0 if limit else 0.0):.2f}%"

    def NetIO(self) -> str:
        rx, tx = net_io(self.s)
        return "--" if self.error else f"{humanize.size(rx, 3)} / {humanize.size(tx, 3)}"

    def BlockIO(self) -> str:
        read, write = block_io(self.s)
        return "--" if self.error else f"{humanize.size(read, 3)} / {humanize.size(write, 3)}"

    def PIDs(self) -> str:
        return "--" if self.error else str((self.s.get("pids_stats") or {}).get("current") or 0)

    def json_fields(self) -> dict[str, str]:
        return {name: getattr(self, name)() for name in sorted(HEADERS)}


def _one_shot(ctx: Context, names: list[str]) -> dict[str, dict[str, Any] | None]:
    """Stats of each container, fetched in parallel (each takes the daemon two samples)."""
    results: dict[str, dict[str, Any] | None] = {}

    def fetch(name: str) -> None:
        try:
            results[name] = ctx.client.get(f"/containers/{quote_path(name)}/stats", {"stream": False})
        except DockyardError as exc:
            results[name] = None
            ctx.warn(f"Error response from daemon: {exc.message}")

    threads = [threading.Thread(target=fetch, args=(name,), daemon=True) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _follow(ctx: Context, name: str, latest: dict[str, dict[str, Any] | None]) -> None:
    try:
        for message in ctx.client.stream_json(
            "GET", f"/containers/{quote_path(name)}/stats", {"stream": True}
        ):
            latest[name] = message
    except DockyardError:
        latest[name] = None


def stats(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx, "[OPTIONS] [CONTAINER...]", "Display a live stream of container(s) resource usage statistics"
    )
    cmd.flags.bool("all", "a", "Show all containers (default shows just running)")
    cmd.flags.string(
        "format", help="Format output using a custom template: 'table', 'table TEMPLATE', 'json', or TEMPLATE"
    )
    cmd.flags.bool("no-stream", help="Disable streaming stats and only pull the first result")
    cmd.flags.bool("no-trunc", help="Do not truncate output")
    opts, names = cmd.parse(argv)
    if not names:
        listed = ctx.client.get("/containers/json", {"all": opts.all or None}) or []
        names = [str(c["Id"]) for c in listed]
    spec = opts.format
    if opts.no_stream:
        results = _one_shot(ctx, names)
        rows = [StatsRow(name, results.get(name), not opts.no_trunc) for name in names]
        formatter.write(ctx, spec, DEFAULT_TABLE, rows, HEADERS)
        if any(results.get(name) is None for name in names):
            raise Exit(1)
        return 0
    latest: dict[str, dict[str, Any] | None] = {}
    for name in names:
        threading.Thread(target=_follow, args=(ctx, name, latest), daemon=True).start()
    clear = ctx.stdout_is_tty()
    while True:
        time.sleep(1.0)
        rows = [StatsRow(name, latest.get(name, {}), not opts.no_trunc) for name in names]
        text = formatter.render(spec, DEFAULT_TABLE, rows, HEADERS)
        # ANSI: cursor home and clear the screen, as docker redraws its live table.
        ctx.write((b"\x1b[H\x1b[2J" if clear else b"") + text.encode())
        ctx.flush()
