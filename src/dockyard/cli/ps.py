"""``dockyard ps`` (``container ls``): the container list with docker's columns and ``--format`` fields."""

from __future__ import annotations

import time

from dockyard.cli import formatter, humanize
from dockyard.cli.command import Command
from dockyard.client.api import encode_filters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context

DEFAULT_TABLE = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)
HEADERS = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Names": "NAMES",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "LocalVolumes": "LOCAL VOLUMES",
    "Networks": "NETWORKS",
    "Platform": "PLATFORM",
}


class ContainerRow:
    """One container as ``--format`` templates see it (docker's ``ContainerContext``)."""

    def __init__(self, c: dict[str, Any], trunc: bool, now: float) -> None:
        self.c = c
        self.trunc = trunc
        self.now = now

    def ID(self) -> str:
        cid = str(self.c.get("Id", ""))
        return formatter.truncate_id(cid) if self.trunc else cid

    def Names(self) -> str:
        names = [n[1:] if n.startswith("/") else n for n in self.c.get("Names") or []]
        # Legacy links show up as "/other/alias": only the container's own name is listed.
        own = [n for n in names if "/" not in n]
        return ",".join(own or names)

    def Image(self) -> str:
        image = str(self.c.get("Image") or "")
        if not image:
            return "<no image>"
        if self.trunc:
            image_id = formatter.truncate_id(str(self.c.get("ImageID") or ""))
            if image_id and image_id == formatter.truncate_id(image):
                return image_id
            if "@" in image:
                name = image.split("@", 1)[0]
                return name
        return image

    def Command(self) -> str:
        command = str(self.c.get("Command") or "")
        if self.trunc:
            command = formatter.ellipsis(command, 20)
        return go_quote(command)

    def CreatedAt(self) -> str:
        return humanize.go_time(float(self.c.get("Created") or 0))

    def RunningFor(self) -> str:
        return humanize.ago(float(self.c.get("Created") or 0), self.now)

    def Ports(self) -> str:
        ports = self.c.get("Ports")
        if not ports:
            return ""
        from dockyard.cli.ports import display

        return display(ports)

    def State(self) -> str:
        return str(self.c.get("State") or "")

    def Status(self) -> str:
        return str(self.c.get("Status") or "")

    def Size(self) -> str:
        rw = float(self.c.get("SizeRw") or 0)
        root = float(self.c.get("SizeRootFs") or 0)
        text = humanize.size(rw, 3)
        if root > 0:
            text += f" (virtual {humanize.size(root, 3)})"
        return text

    def Labels(self) -> str:
        labels = self.c.get("Labels") or {}
        return ",".join(f"{k}={labels[k]}" for k in sorted(labels))

    def Label(self, name: str) -> str:
        return str((self.c.get("Labels") or {}).get(name, ""))

    def Mounts(self) -> str:
        names = []
        for m in self.c.get("Mounts") or []:
            name = str(m.get("Name") or m.get("Source") or "")
            names.append(formatter.ellipsis(name, 15) if self.trunc else name)
        return ",".join(names)

    def LocalVolumes(self) -> str:
        return str(sum(1 for m in self.c.get("Mounts") or [] if m.get("Driver") == "local"))

    def Networks(self) -> str:
        networks = (self.c.get("NetworkSettings") or {}).get("Networks") or {}
        return ",".join(sorted(networks))

    def Platform(self) -> Any:
        descriptor = self.c.get("ImageManifestDescriptor") or {}
        return descriptor.get("platform")

    def json_fields(self) -> dict[str, Any]:
        fields = (
            "Command",
            "CreatedAt",
            "ID",
            "Image",
            "Labels",
            "LocalVolumes",
            "Mounts",
            "Names",
            "Networks",
            "Platform",
            "Ports",
            "RunningFor",
            "Size",
            "State",
            "Status",
        )
        return {name: getattr(self, name)() for name in fields}


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote`` for the printable text a command line is."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def ps(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS]", "List containers", max_args=0)
    f = cmd.flags
    f.bool("all", "a", "Show all containers (default shows just running)")
    f.strings("filter", "f", "Filter output based on conditions provided", metavar="filter")
    f.string(
        "format", help="Format output using a custom template: 'table', 'table TEMPLATE', 'json', or TEMPLATE"
    )
    f.int("last", "n", "Show n last created containers (includes all states)", default=-1)
    f.bool("latest", "l", "Show the latest created container (includes all states)")
    f.bool("no-trunc", help="Don't truncate output")
    f.bool("quiet", "q", "Only display container IDs")
    f.bool("size", "s", "Display total file sizes")
    opts, _ = cmd.parse(argv)

    limit = 1 if opts.latest else opts.last
    spec = opts.format
    if opts.quiet and not spec:
        spec = "{{.ID}}"
    elif not spec:
        spec = str(ctx.config().get("psFormat") or "") if _has_config(ctx) else ""
    size = opts.size or "{{.Size}}" in spec or "{{json .}}" in spec or spec == "json"
    if opts.size and (not spec or spec == "table"):
        spec = DEFAULT_TABLE + "\t{{.Size}}"
    params = {
        "all": True if (opts.all or limit > 0) else None,
        "limit": limit if limit > 0 else None,
        "size": True if size else None,
        "filters": encode_filters(formatter.filters(opts.filter)),
    }
    containers = ctx.client.get("/containers/json", params) or []
    now = time.time()
    rows = [ContainerRow(c, not opts.no_trunc, now) for c in containers]
    formatter.write(ctx, spec, DEFAULT_TABLE, rows, HEADERS)
    return 0


def _has_config(ctx: Context) -> bool:
    import os

    return os.path.exists(ctx.config_path)
