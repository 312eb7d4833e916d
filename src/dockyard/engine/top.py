"""GET /containers/{id}/top: the container's processes as ``ps`` shows them, as dockerd does.

dockerd asks the runtime for the container's pids (``<runtime> ps --format json``), runs the
host's ``ps`` with the client's ps_args (default ``-ef``) plus ``-q <pids>``, retrying without
``-q`` when the options refuse it (``f`` cannot be combined with ``q``), and keeps the rows whose
PID column is one of the container's. The header's words are the Titles; each row is split into
as many fields as there are titles, the last one keeping its spaces (the command line).
"""

from __future__ import annotations

import asyncio
from typing import Any

from dockyard.errors import InvalidArgument, SystemFailure


def parse_ps(output: str, pids: set[int]) -> dict[str, Any]:
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        raise SystemFailure("ps printed nothing: check ps_args")
    titles = lines[0].split()
    try:
        pid_index = titles.index("PID")
    except ValueError:
        raise InvalidArgument("Couldn't find PID field in ps output: keep a pid column in ps_args") from None
    processes: list[list[str]] = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        if len(fields) <= pid_index:
            continue
        try:
            pid = int(fields[pid_index])
        except ValueError:
            raise SystemFailure(f"Unexpected pid '{fields[pid_index]}': {line}") from None
        if pid in pids:
            processes.append(fields)
    return {"Titles": titles, "Processes": processes}


async def _run_ps(args: list[str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        "ps", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


async def top(pids: list[int], ps_args: str | None) -> dict[str, Any]:
    args = (ps_args or "-ef").split()
    if any("\x00" in a for a in args):
        raise InvalidArgument("invalid ps_args: NUL byte")
    wanted = set(pids)
    code, out, err = await _run_ps([*args, "-q", ",".join(str(p) for p in pids)]) if pids else (1, "", "")
    if code != 0:
        code, out, err = await _run_ps(args)
        if code != 0:
            raise SystemFailure(f"Error running ps: exit status {code}: {err.strip()}")
    return parse_ps(out, wanted)
