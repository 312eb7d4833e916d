"""``dockyard top``: the container's processes, as the daemon's ``ps`` reports them."""

from __future__ import annotations

from dockyard.cli import tabwriter
from dockyard.cli.command import Command
from dockyard.client.api import quote_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.context import Context


def top(ctx: Context, argv: list[str]) -> int:
    # Everything after the container is for ps (``dockyard top c -o pid,args``): not our flags.
    cmd = Command(
        ctx,
        "CONTAINER [ps OPTIONS]",
        "Display the running processes of a container",
        min_args=1,
        interspersed=False,
    )
    _, args = cmd.parse(argv)
    params = {"ps_args": " ".join(args[1:]) or None}
    result = ctx.client.get(f"/containers/{quote_path(args[0])}/top", params) or {}
    lines = ["\t".join(result.get("Titles") or [])]
    lines += ["\t".join(str(v) for v in row) for row in result.get("Processes") or []]
    # docker top's tabwriter has a minimum column width of 20, the other tables 10.
    ctx.write(tabwriter.render("\n".join(lines) + "\n", minwidth=20).encode("utf-8", "surrogateescape"))
    return 0
