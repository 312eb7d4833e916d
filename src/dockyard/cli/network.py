"""``dockyard network create/ls/rm/prune/connect/disconnect`` (``network inspect`` is in
:mod:`dockyard.cli.inspect`), with docker's flags and output."""

from __future__ import annotations

from dockyard.cli import formatter
from dockyard.cli.command import Command
from dockyard.cli.envfile import labels_map
from dockyard.cli.lifecycle import confirm, for_each, print_pruned
from dockyard.client.api import encode_filters, quote_path
from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context

DEFAULT_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
HEADERS = {
    "ID": "NETWORK ID",
    "Name": "NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "IPv6": "IPV6",
    "Internal": "INTERNAL",
    "Labels": "LABELS",
    "CreatedAt": "CREATED AT",
}


class NetworkRow:
    def __init__(self, n: dict[str, Any], trunc: bool) -> None:
        self.n = n
        self.trunc = trunc

    def ID(self) -> str:
        nid = str(self.n.get("Id") or "")
        return nid[:12] if self.trunc else nid

    def Name(self) -> str:
        return str(self.n.get("Name") or "")

    def Driver(self) -> str:
        return str(self.n.get("Driver") or "")

    def Scope(self) -> str:
        return str(self.n.get("Scope") or "")

    def IPv6(self) -> str:
        return "true" if self.n.get("EnableIPv6") else "false"

    def Internal(self) -> str:
        return "true" if self.n.get("Internal") else "false"

    def Labels(self) -> str:
        labels = self.n.get("Labels") or {}
        return ",".join(f"{k}={labels[k]}" for k in sorted(labels))

    def Label(self, name: str) -> str:
        return str((self.n.get("Labels") or {}).get(name, ""))

    def CreatedAt(self) -> str:
        return str(self.n.get("Created") or "")

    def json_fields(self) -> dict[str, str]:
        return {name: getattr(self, name)() for name in ("CreatedAt", "Driver", "ID", "IPv6", "Internal",
                                                          "Labels", "Name", "Scope")}  # fmt: skip


def _options(values: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for spec in values:
        key, sep, value = spec.partition("=")
        if not sep:
            raise InvalidArgument(f"invalid key/value pair format in {what}: {spec}: use key=value")
        out[key] = value
    return out


def create(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS] NETWORK", "Create a network", min_args=1, max_args=1)
    f = cmd.flags
    f.string("driver", "d", "Driver to manage the Network", default="bridge")
    f.strings("opt", "o", "Set driver specific options", metavar="map")
    f.strings("label", help="Set metadata on a network")
    f.strings("subnet", help="Subnet in CIDR format that represents a network segment")
    f.strings("gateway", help="IPv4 or IPv6 Gateway for the master subnet")
    f.strings("ip-range", help="Allocate container ip from a sub-range")
    f.strings("aux-address", help="Auxiliary IPv4 or IPv6 addresses used by Network driver", metavar="map")
    f.string("ipam-driver", help="IP Address Management Driver", default="default")
    f.strings("ipam-opt", help="Set IPAM driver specific options", metavar="map")
    f.bool("internal", help="Restrict external access to the network")
    f.bool("attachable", help="Enable manual container attachment")
    f.bool("ipv6", help="Enable or disable IPv6 networking")
    f.string("scope", help="Control the network's scope")
    f.bool("ingress", help="Create swarm routing-mesh network")
    opts, args = cmd.parse(argv)
    if len(opts.gateway) > len(opts.subnet) or len(opts.ip_range) > len(opts.subnet):
        raise cmd.fail("every ip-range or gateway must have a corresponding subnet")
    config = []
    for i, subnet in enumerate(opts.subnet):
        entry: dict[str, Any] = {"Subnet": subnet}
        if i < len(opts.gateway):
            entry["Gateway"] = opts.gateway[i]
        if i < len(opts.ip_range):
            entry["IPRange"] = opts.ip_range[i]
        config.append(entry)
    body = {
        "Name": args[0],
        "Driver": opts.driver,
        "Options": _options(opts.opt, "driver options"),
        "IPAM": {
            "Driver": opts.ipam_driver,
            "Config": config,
            "Options": _options(opts.ipam_opt, "IPAM options"),
        },
        "Internal": opts.internal,
        "Attachable": opts.attachable,
        "Ingress": opts.ingress,
        "EnableIPv6": opts.ipv6,
        "Labels": labels_map(opts.label),
    }
    if opts.scope:
        body["Scope"] = opts.scope
    created = ctx.client.call("POST", "/networks/create", json=body) or {}
    if created.get("Warning"):
        ctx.warn(str(created["Warning"]))
    ctx.print(str(created.get("Id", "")))
    return 0


def ls(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS]", "List networks", max_args=0)
    cmd.flags.strings("filter", "f", 'Provide filter values (e.g. "driver=bridge")', metavar="filter")
    cmd.flags.string(
        "format", help="Format output using a custom template: 'table', 'table TEMPLATE', 'json', or TEMPLATE"
    )
    cmd.flags.bool("no-trunc", help="Do not truncate the output")
    cmd.flags.bool("quiet", "q", "Only display network IDs")
    opts, _ = cmd.parse(argv)
    nets = ctx.client.get("/networks", {"filters": encode_filters(formatter.filters(opts.filter))}) or []
    nets = sorted(nets, key=lambda n: str(n.get("Name", "")))
    spec = "{{.ID}}" if opts.quiet and not opts.format else opts.format
    formatter.write(ctx, spec, DEFAULT_TABLE, [NetworkRow(n, not opts.no_trunc) for n in nets], HEADERS)
    return 0


def rm(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "NETWORK [NETWORK...]", "Remove one or more networks", min_args=1)
    cmd.flags.bool("force", "f", "Do not error if the network does not exist")
    opts, names = cmd.parse(argv)

    def remove(name: str) -> None:
        from dockyard.errors import NotFound

        try:
            ctx.client.call("DELETE", f"/networks/{quote_path(name)}")
        except NotFound:
            if not opts.force:
                raise

    return for_each(ctx, names, remove)


def prune(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS]", "Remove all unused networks", max_args=0)
    cmd.flags.strings("filter", help='Provide filter values (e.g. "until=<timestamp>")', metavar="filter")
    cmd.flags.bool("force", "f", "Do not prompt for confirmation")
    opts, _ = cmd.parse(argv)
    warning = "WARNING! This will remove all custom networks not used by at least one container."
    if not opts.force and not confirm(ctx, warning):
        return 0
    result = ctx.client.call(
        "POST", "/networks/prune", {"filters": encode_filters(formatter.filters(opts.filter))}
    )
    print_pruned(ctx, "Deleted Networks", (result or {}).get("NetworksDeleted"), None)
    return 0


def connect(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx, "[OPTIONS] NETWORK CONTAINER", "Connect a container to a network", min_args=2, max_args=2
    )
    cmd.flags.strings("alias", help="Add network-scoped alias for the container")
    cmd.flags.string("ip", help="IPv4 address (e.g., 172.30.100.104)")
    cmd.flags.string("ip6", help="IPv6 address (e.g., 2001:db8::33)")
    cmd.flags.strings("link", help="Add link to another container")
    cmd.flags.strings("link-local-ip", help="Add a link-local address for the container")
    cmd.flags.strings("driver-opt", help="driver options for the network")
    opts, args = cmd.parse(argv)
    endpoint: dict[str, Any] = {}
    if opts.alias:
        endpoint["Aliases"] = list(opts.alias)
    if opts.ip or opts.ip6:
        endpoint["IPAMConfig"] = {k: v for k, v in (("IPv4Address", opts.ip), ("IPv6Address", opts.ip6)) if v}
    if opts.link:
        endpoint["Links"] = list(opts.link)
    body = {"Container": args[1], "EndpointConfig": endpoint}
    ctx.client.call("POST", f"/networks/{quote_path(args[0])}/connect", json=body)
    return 0


def disconnect(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx, "[OPTIONS] NETWORK CONTAINER", "Disconnect a container from a network", min_args=2, max_args=2
    )
    cmd.flags.bool("force", "f", "Force the container to disconnect from a network")
    opts, args = cmd.parse(argv)
    body = {"Container": args[1], "Force": opts.force}
    ctx.client.call("POST", f"/networks/{quote_path(args[0])}/disconnect", json=body)
    return 0
