"""Container state changes: stop, restart, kill, rm, pause, unpause, wait, rename, update, prune.

The commands that take several containers act on each in turn, print each name that
succeeded (as given), report each failure on stderr, and exit 1 if any failed, as docker does.
"""

from __future__ import annotations

from dockyard.cli import humanize, units
from dockyard.cli.command import Command, Exit
from dockyard.client.api import encode_filters, quote_path
from dockyard.client.errors import DaemonError
from dockyard.errors import DockyardError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockyard.cli.context import Context


def for_each(ctx: Context, names: list[str], action: Callable[[str], Any], echo: bool = True) -> int:
    failed = False
    for name in names:
        try:
            result = action(name)
        except DockyardError as exc:
            failed = True
            prefix = "Error response from daemon: " if isinstance(exc, DaemonError) else ""
            ctx.flush()
            ctx.warn(prefix + exc.message)
            continue
        if echo:
            ctx.print(name if result is None else str(result))
    if failed:
        raise Exit(1)
    return 0


def _path(name: str) -> str:
    return f"/containers/{quote_path(name)}"


def _timeout_flags(cmd: Command) -> None:
    cmd.flags.value(
        "timeout",
        units.seconds_or_duration,
        "t",
        "Seconds to wait before killing the container",
        metavar="int",
        aliases=("time",),
    )
    cmd.flags.string("signal", "s", "Signal to send to the container")


def stop(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx, "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers", min_args=1
    )
    _timeout_flags(cmd)
    opts, names = cmd.parse(argv)
    params = {"t": opts.timeout, "signal": opts.signal or None}
    return for_each(ctx, names, lambda n: ctx.client.call("POST", f"{_path(n)}/stop", params))


def restart(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers", min_args=1)
    _timeout_flags(cmd)
    opts, names = cmd.parse(argv)
    params = {"t": opts.timeout, "signal": opts.signal or None}
    return for_each(ctx, names, lambda n: ctx.client.call("POST", f"{_path(n)}/restart", params))


def kill(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx, "[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers", min_args=1
    )
    cmd.flags.string("signal", "s", "Signal to send to the container")
    opts, names = cmd.parse(argv)
    params = {"signal": opts.signal or None}
    return for_each(ctx, names, lambda n: ctx.client.call("POST", f"{_path(n)}/kill", params))


def rm(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", min_args=1)
    cmd.flags.bool("force", "f", "Force the removal of a running container (uses SIGKILL)")
    cmd.flags.bool("link", "l", "Remove the specified link")
    cmd.flags.bool("volumes", "v", "Remove anonymous volumes associated with the container")
    opts, names = cmd.parse(argv)
    params = {"force": opts.force or None, "v": opts.volumes or None, "link": opts.link or None}
    return for_each(ctx, names, lambda n: ctx.client.call("DELETE", _path(n), params))


def pause(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx, "CONTAINER [CONTAINER...]", "Pause all processes within one or more containers", min_args=1
    )
    _, names = cmd.parse(argv)
    return for_each(ctx, names, lambda n: ctx.client.call("POST", f"{_path(n)}/pause"))


def unpause(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx, "CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers", min_args=1
    )
    _, names = cmd.parse(argv)
    return for_each(ctx, names, lambda n: ctx.client.call("POST", f"{_path(n)}/unpause"))


def wait(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx,
        "CONTAINER [CONTAINER...]",
        "Block until one or more containers stop, then print their exit codes",
        min_args=1,
    )
    _, names = cmd.parse(argv)

    def one(name: str) -> str:
        result = ctx.client.call("POST", f"{_path(name)}/wait") or {}
        error = (result.get("Error") or {}).get("Message")
        if error:
            raise DockyardError(error)
        return str(result.get("StatusCode", 0))

    return for_each(ctx, names, one)


def rename(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "CONTAINER NEW_NAME", "Rename a container", min_args=2, max_args=2)
    _, (old, new) = cmd.parse(argv)
    if not new.strip():
        ctx.warn("Error: neither old nor new names may be empty")
        raise Exit(1)
    ctx.client.call("POST", f"{_path(old)}/rename", {"name": new})
    return 0


def update(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx,
        "[OPTIONS] CONTAINER [CONTAINER...]",
        "Update configuration of one or more containers",
        min_args=1,
    )
    f = cmd.flags
    f.int("blkio-weight", help="Block IO (relative weight), between 10 and 1000, or 0 to disable")
    f.int("cpu-period", help="Limit CPU CFS (Completely Fair Scheduler) period")
    f.int("cpu-quota", help="Limit CPU CFS (Completely Fair Scheduler) quota")
    f.int("cpu-rt-period", help="Limit the CPU real-time period in microseconds")
    f.int("cpu-rt-runtime", help="Limit the CPU real-time runtime in microseconds")
    f.int("cpu-shares", "c", "CPU shares (relative weight)")
    f.value("cpus", units.nano_cpus, help="Number of CPUs", metavar="decimal")
    f.string("cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)")
    f.string("cpuset-mems", help="MEMs in which to allow execution (0-3, 0,1)")
    f.value(
        "kernel-memory",
        units.ram_in_bytes,
        help="Kernel memory limit (deprecated)",
        metavar="bytes",
        hidden=True,
    )
    f.value("memory", units.ram_in_bytes, "m", "Memory limit", metavar="bytes")
    f.value("memory-reservation", units.ram_in_bytes, help="Memory soft limit", metavar="bytes")
    f.value(
        "memory-swap",
        units.memory_swap,
        help="Swap limit equal to memory plus swap: -1 to enable unlimited swap",
        metavar="bytes",
    )
    f.int("pids-limit", help="Tune container pids limit (set -1 for unlimited)")
    f.value(
        "restart",
        units.restart_policy,
        help="Restart policy to apply when a container exits",
        metavar="string",
    )
    opts, names = cmd.parse(argv)
    body: dict[str, Any] = {}
    for flag, key in (
        ("blkio_weight", "BlkioWeight"),
        ("cpu_period", "CpuPeriod"),
        ("cpu_quota", "CpuQuota"),
        ("cpu_rt_period", "CpuRealtimePeriod"),
        ("cpu_rt_runtime", "CpuRealtimeRuntime"),
        ("cpu_shares", "CpuShares"),
        ("cpus", "NanoCpus"),
        ("cpuset_cpus", "CpusetCpus"),
        ("cpuset_mems", "CpusetMems"),
        ("kernel_memory", "KernelMemory"),
        ("memory", "Memory"),
        ("memory_reservation", "MemoryReservation"),
        ("memory_swap", "MemorySwap"),
        ("pids_limit", "PidsLimit"),
        ("restart", "RestartPolicy"),
    ):
        if opts.changed(flag):
            body[key] = getattr(opts, flag)
    if not body:
        ctx.warn("dockyard: you must provide one or more flags when using this command")
        raise Exit(1)

    def one(name: str) -> None:
        result = ctx.client.call("POST", f"{_path(name)}/update", json=body) or {}
        for warning in result.get("Warnings") or []:
            ctx.warn(f"WARNING: {warning}")

    return for_each(ctx, names, one)


def confirm(ctx: Context, warning: str) -> bool:
    """docker's prompt before pruning: ``... Are you sure you want to continue? [y/N]``."""
    ctx.print(f"{warning}\nAre you sure you want to continue? [y/N] ", end="")
    ctx.flush()
    line = ctx.stdin.readline().decode(errors="replace").strip().lower()
    return line in ("y", "yes")


def print_pruned(ctx: Context, title: str, names: list[str] | None, reclaimed: int | None) -> None:
    if names:
        ctx.print(f"{title}:")
        for name in names:
            ctx.print(name)
        ctx.print()
    if reclaimed is not None:
        ctx.print(f"Total reclaimed space: {humanize.size(reclaimed)}")


def prune(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS]", "Remove all stopped containers", max_args=0)
    cmd.flags.strings("filter", help='Provide filter values (e.g. "until=<timestamp>")', metavar="filter")
    cmd.flags.bool("force", "f", "Do not prompt for confirmation")
    opts, _ = cmd.parse(argv)
    if not opts.force and not confirm(ctx, "WARNING! This will remove all stopped containers."):
        return 0
    from dockyard.cli.formatter import filters  # its template engine is not needed by rm, stop...

    result = (
        ctx.client.call("POST", "/containers/prune", {"filters": encode_filters(filters(opts.filter))}) or {}
    )
    print_pruned(ctx, "Deleted Containers", result.get("ContainersDeleted"), result.get("SpaceReclaimed", 0))
    return 0
