"""``dockyard logs``: a container's output, demultiplexed to our stdout and stderr."""

from __future__ import annotations

import time

from dockyard.cli.command import Command
from dockyard.cli.units import go_duration
from dockyard.client.api import quote_path
from dockyard.client.stdcopy import STDERR, demux
from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.context import Context


def api_timestamp(value: str, flag: str, now: float | None = None) -> str:
    """docker's ``timetypes.GetTimestamp``: a time, a unix time, or a duration back from now.

    ``42m`` -> now - 42 minutes; ``1700000000`` as is; ``2024-01-02``, ``2024-01-02T15:04:05``
    (local time) or RFC 3339 with a zone. Sent as ``seconds.nanoseconds``.
    """
    if not value:
        return ""
    current = time.time() if now is None else now
    try:
        return _seconds(current - go_duration(value) / 1e9)
    except ValueError:
        pass
    whole, _, frac = value.partition(".")
    if whole.lstrip("-").isdigit() and (not frac or frac.isdigit()):
        return value
    from dockyard.cli.humanize import parse_timestamp

    parsed = parse_timestamp(value) if len(value) > 19 else None
    if parsed is None:
        for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
            try:
                parsed = time.mktime(time.strptime(value, fmt))
                break
            except ValueError:
                continue
    if parsed is None:
        raise InvalidArgument(
            f'invalid value for "{flag}": failed to parse value as time or duration: "{value}"'
        )
    return _seconds(parsed)


def _seconds(value: float) -> str:
    whole = int(value // 1)
    nanos = round((value - whole) * 1e9)
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    return f"{whole}.{nanos:09d}"


def logs(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS] CONTAINER", "Fetch the logs of a container", min_args=1, max_args=1)
    f = cmd.flags
    f.bool("details", help="Show extra details provided to logs")
    f.bool("follow", "f", "Follow log output")
    f.string(
        "since",
        help='Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m")',
    )
    f.string("tail", "n", "Number of lines to show from the end of the logs", default="all")
    f.bool("timestamps", "t", "Show timestamps")
    f.string(
        "until",
        help='Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m")',
    )
    opts, (name,) = cmd.parse(argv)
    path = f"/containers/{quote_path(name)}"
    info = ctx.client.get(f"{path}/json")
    tty = bool((info.get("Config") or {}).get("Tty"))
    params = {
        "stdout": True,
        "stderr": True,
        "follow": opts.follow or None,
        "since": api_timestamp(opts.since, "since") or None,
        "until": api_timestamp(opts.until, "until") or None,
        "timestamps": opts.timestamps or None,
        "details": opts.details or None,
        "tail": opts.tail if opts.tail != "all" else None,
    }
    resp = ctx.client.request("GET", f"{path}/logs", params)
    try:
        chunks = resp.iter_chunks()
        if tty:
            for data in chunks:
                ctx.stdout.write(data)
                ctx.stdout.flush()
        else:
            for stream, data in demux(chunks):
                target = ctx.stderr if stream == STDERR else ctx.stdout
                target.write(data)
                target.flush()
    finally:
        if not resp.done:
            resp.close()
    return 0
