"""``dockyard port``: a container's published ports, from ``NetworkSettings.Ports`` of its inspect."""

from __future__ import annotations

from dockyard.cli.command import Command, Exit
from dockyard.client.api import quote_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.context import Context


def _host(binding: dict[str, str]) -> str:
    ip = binding.get("HostIp") or "0.0.0.0"
    port = binding.get("HostPort") or ""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _sort_key(port: str) -> tuple[int, str]:
    number, _, proto = port.partition("/")
    return (int(number) if number.isdigit() else 0, proto)


def port(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx,
        "CONTAINER [PRIVATE_PORT[/PROTO]]",
        "List port mappings or a specific mapping for the container",
        min_args=1,
        max_args=2,
    )
    _, args = cmd.parse(argv)
    info = ctx.client.get(f"/containers/{quote_path(args[0])}/json")
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    if len(args) == 2:
        wanted = args[1] if "/" in args[1] else f"{args[1]}/tcp"
        bindings = ports.get(wanted)
        if not bindings:
            ctx.warn(f"Error: No public port '{wanted}' published for {args[0]}")
            raise Exit(1)
        for binding in bindings:
            ctx.print(_host(binding))
        return 0
    for name in sorted(ports, key=_sort_key):
        for binding in ports[name] or []:
            ctx.print(f"{name} -> {_host(binding)}")
    return 0
