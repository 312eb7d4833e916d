"""``dockyard volume create/ls/rm/prune`` (``volume inspect`` is in :mod:`dockyard.cli.inspect`)."""

from __future__ import annotations

from dockyard.cli import formatter, humanize
from dockyard.cli.command import Command
from dockyard.cli.envfile import labels_map
from dockyard.cli.lifecycle import confirm, for_each, print_pruned
from dockyard.client.api import encode_filters, quote_path, version_tuple
from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context

DEFAULT_TABLE = "table {{.Driver}}\t{{.Name}}"
HEADERS = {
    "Name": "VOLUME NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "Mountpoint": "MOUNTPOINT",
    "Labels": "LABELS",
    "Links": "LINKS",
    "Size": "SIZE",
}


class VolumeRow:
    def __init__(self, v: dict[str, Any]) -> None:
        self.v = v

    def Name(self) -> str:
        return str(self.v.get("Name") or "")

    def Driver(self) -> str:
        return str(self.v.get("Driver") or "")

    def Scope(self) -> str:
        return str(self.v.get("Scope") or "")

    def Mountpoint(self) -> str:
        return str(self.v.get("Mountpoint") or "")

    def Labels(self) -> str:
        labels = self.v.get("Labels") or {}
        return ",".join(f"{k}={labels[k]}" for k in sorted(labels))

    def Label(self, name: str) -> str:
        return str((self.v.get("Labels") or {}).get(name, ""))

    def Links(self) -> str:
        usage = self.v.get("UsageData") or {}
        count = usage.get("RefCount", -1)
        return "N/A" if count is None or count < 0 else str(count)

    def Size(self) -> str:
        usage = self.v.get("UsageData") or {}
        size = usage.get("Size", -1)
        return "N/A" if size is None or size < 0 else humanize.size(size)

    def json_fields(self) -> dict[str, str]:
        fields = {
            name: getattr(self, name)()
            for name in ("Driver", "Labels", "Links", "Mountpoint", "Name", "Scope", "Size")
        }
        return fields


def _natural_key(name: str) -> list[Any]:
    """sortorder.NaturalLess: runs of digits compare as numbers (``v2`` before ``v10``)."""
    out: list[Any] = []
    digits = ""
    text = ""
    for ch in name:
        if ch.isdigit():
            if text:
                out.append((1, text))
                text = ""
            digits += ch
        else:
            if digits:
                out.append((0, int(digits)))
                digits = ""
            text += ch
    if digits:
        out.append((0, int(digits)))
    if text:
        out.append((1, text))
    return out


def create(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS] [VOLUME]", "Create a volume", max_args=1)
    cmd.flags.string("driver", "d", "Specify volume driver name", default="local")
    cmd.flags.strings("label", help="Set metadata for a volume")
    cmd.flags.string("name", help="Specify volume name", hidden=True)
    cmd.flags.strings("opt", "o", "Set driver specific options", metavar="map")
    opts, args = cmd.parse(argv)
    if args and opts.name and args[0] != opts.name:
        raise cmd.fail(
            "conflicting options: cannot specify a volume-name through both --name and as a positional arg"
        )
    options: dict[str, str] = {}
    for spec in opts.opt:
        key, sep, value = spec.partition("=")
        if not sep:
            raise InvalidArgument(
                f"invalid key/value pair format in driver options: {spec}: use -o key=value"
            )
        options[key] = value
    body = {
        "Name": args[0] if args else opts.name,
        "Driver": opts.driver,
        "DriverOpts": options,
        "Labels": labels_map(opts.label),
    }
    volume = ctx.client.call("POST", "/volumes/create", json=body) or {}
    ctx.print(str(volume.get("Name", "")))
    return 0


def ls(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS]", "List volumes", max_args=0)
    cmd.flags.bool("cluster", help="Display only cluster volumes", hidden=True)
    cmd.flags.strings("filter", "f", 'Provide filter values (e.g. "dangling=true")', metavar="filter")
    cmd.flags.string(
        "format", help="Format output using a custom template: 'table', 'table TEMPLATE', 'json', or TEMPLATE"
    )
    cmd.flags.bool("quiet", "q", "Only display volume names")
    opts, _ = cmd.parse(argv)
    result = ctx.client.get("/volumes", {"filters": encode_filters(formatter.filters(opts.filter))}) or {}
    volumes = sorted(result.get("Volumes") or [], key=lambda v: _natural_key(str(v.get("Name", ""))))
    spec = "{{.Name}}" if opts.quiet and not opts.format else opts.format
    formatter.write(ctx, spec, DEFAULT_TABLE, [VolumeRow(v) for v in volumes], HEADERS)
    for warning in result.get("Warnings") or []:
        ctx.warn(warning)
    return 0


def rm(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes", min_args=1)
    cmd.flags.bool("force", "f", "Force the removal of one or more volumes")
    opts, names = cmd.parse(argv)
    params = {"force": opts.force or None}
    return for_each(ctx, names, lambda n: ctx.client.call("DELETE", f"/volumes/{quote_path(n)}", params))


def prune(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS]", "Remove unused local volumes", max_args=0)
    cmd.flags.bool("all", "a", "Remove all unused volumes, not just anonymous ones")
    cmd.flags.strings("filter", help='Provide filter values (e.g. "label=<label>")', metavar="filter")
    cmd.flags.bool("force", "f", "Do not prompt for confirmation")
    opts, _ = cmd.parse(argv)
    warning = (
        "WARNING! This will remove all local volumes not used by at least one container."
        if opts.all
        else "WARNING! This will remove anonymous local volumes not used by at least one container."
    )
    if not opts.force and not confirm(ctx, warning):
        return 0
    filters = formatter.filters(opts.filter)
    # API 1.42 made prune keep named volumes unless all=true; older daemons remove them anyway.
    if opts.all and version_tuple(ctx.client.api_version()) >= (1, 42):
        filters["all"] = ["true"]
    result = ctx.client.call("POST", "/volumes/prune", {"filters": encode_filters(filters)}) or {}
    print_pruned(ctx, "Deleted Volumes", result.get("VolumesDeleted"), result.get("SpaceReclaimed", 0))
    return 0
