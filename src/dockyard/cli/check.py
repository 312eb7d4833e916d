"""``dockyard system check [--repair]``: the daemon re-hashes its image store (``POST /system/check``).

Exit status 0 when the store is clean (or was repaired), 1 when problems remain.
"""

from __future__ import annotations

from dockyard.cli import formatter
from dockyard.cli.command import Command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.context import Context


def check(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS]", "Verify every blob and layer of the image store", max_args=0)
    cmd.flags.bool("repair", help="Remove what is corrupt, the images that need it, and unused data")
    cmd.flags.string("format", "f", "Format output: json")
    opts, _ = cmd.parse(argv)
    report = ctx.client.call("POST", "/system/check", {"repair": "1" if opts.repair else None}) or {}
    if opts.format == "json":
        ctx.print(formatter.json_indent(report))
        return 0 if report.get("Clean") or opts.repair else 1
    for p in report.get("Problems") or []:
        ctx.print(f"{p['Kind']} {p['ID']}: {p['Problem']}")
    for line in report.get("Repaired") or []:
        ctx.print(f"repaired: {line}")
    state = "clean" if report.get("Clean") else f"{len(report.get('Problems') or [])} problem(s)"
    ctx.print(
        f"Checked {report.get('Blobs', 0)} blobs, {report.get('Layers', 0)} layers, "
        f"{report.get('Images', 0)} images ({report.get('Ingests', 0)} partial downloads): {state}"
    )
    return 0 if report.get("Clean") or opts.repair else 1
