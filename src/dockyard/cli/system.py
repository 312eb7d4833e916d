"""``version``, ``info``, ``system df`` and ``system prune``."""

from __future__ import annotations

import platform
import sys

from dockyard import __version__
from dockyard.cli import formatter, humanize
from dockyard.cli.command import Command, Exit
from dockyard.cli.images import prune_images
from dockyard.cli.lifecycle import confirm
from dockyard.cli.template import Template, TemplateError
from dockyard.client.api import API_VERSION, encode_filters
from dockyard.client.errors import DaemonError
from dockyard.errors import DockyardError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


def client_info(ctx: Context) -> dict[str, Any]:
    arch = platform.machine()
    return {
        "Version": __version__,
        "ApiVersion": API_VERSION,
        "DefaultAPIVersion": API_VERSION,
        "PythonVersion": platform.python_version(),
        "Os": sys.platform,
        "Arch": _ARCH.get(arch, arch),
        "Context": "default",
    }


def _render(ctx: Context, fmt: str, data: Any) -> None:
    try:
        text = Template(formatter.expand(fmt)).execute(data)
    except TemplateError as exc:
        raise TemplateError(f"template parsing error: {exc.message}") from None
    ctx.print(text)


def version(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS]", "Show the Dockyard version information", max_args=0)
    cmd.flags.string("format", "f", "Format output using a custom template")
    opts, _ = cmd.parse(argv)
    client = client_info(ctx)
    server: dict[str, Any] | None = None
    error: DockyardError | None = None
    try:
        server = ctx.client.get("/version")
        negotiated = ctx.client.api_version()
        client["ApiVersion"] = negotiated
    except DockyardError as exc:
        error = exc
    if opts.format:
        _render(ctx, opts.format, {"Client": client, "Server": server})
    else:
        api = client["ApiVersion"]
        if api != API_VERSION:
            api = f"{api} (downgraded from {API_VERSION})"
        lines = [
            "Client:",
            f" Version:           {client['Version']}",
            f" API version:       {api}",
            f" Python version:    {client['PythonVersion']}",
            f" OS/Arch:           {client['Os']}/{client['Arch']}",
            f" Context:           {client['Context']}",
        ]
        if server is not None:
            name = ((server.get("Platform") or {}).get("Name") or "").strip()
            lines += ["", f"Server: {name}".rstrip(), " Engine:"]
            lines += [
                f"  Version:          {server.get('Version', '')}",
                f"  API version:      {server.get('ApiVersion', '')}"
                f" (minimum version {server.get('MinAPIVersion', '')})",
                f"  Go version:       {server.get('GoVersion', '')}",
                f"  Git commit:       {server.get('GitCommit', '')}",
                f"  Built:            {server.get('BuildTime', '')}",
                f"  OS/Arch:          {server.get('Os', '')}/{server.get('Arch', '')}",
                f"  Experimental:     {str(bool(server.get('Experimental'))).lower()}",
            ]
            for component in server.get("Components") or []:
                if component.get("Name") == "Engine":
                    continue
                lines.append(f" {component.get('Name')}:")
                lines.append(f"  Version:          {component.get('Version', '')}")
                for key, value in (component.get("Details") or {}).items():
                    lines.append(f"  {key + ':':<17} {value}")
        ctx.print("\n".join(lines))
    if error is not None:
        ctx.flush()
        prefix = "Error response from daemon: " if isinstance(error, DaemonError) else ""
        ctx.warn(prefix + error.message)
        raise Exit(1)
    return 0


def _info_lines(info: dict[str, Any]) -> list[str]:
    def g(key: str, default: Any = "") -> Any:
        value = info.get(key)
        return default if value is None else value

    lines = [
        f" Containers: {g('Containers', 0)}",
        f"  Running: {g('ContainersRunning', 0)}",
        f"  Paused: {g('ContainersPaused', 0)}",
        f"  Stopped: {g('ContainersStopped', 0)}",
        f" Images: {g('Images', 0)}",
        f" Server Version: {g('ServerVersion')}",
        f" Storage Driver: {g('Driver')}",
    ]
    lines += [f"  {k}: {v}" for k, v in (info.get("DriverStatus") or [])]
    lines += [
        f" Logging Driver: {g('LoggingDriver')}",
        f" Cgroup Driver: {g('CgroupDriver')}",
        f" Cgroup Version: {g('CgroupVersion')}",
    ]
    plugins = info.get("Plugins") or {}
    if plugins:
        lines.append(" Plugins:")
        for kind in ("Volume", "Network", "Log"):
            if plugins.get(kind):
                lines.append(f"  {kind}: {' '.join(plugins[kind])}")
    runtimes = info.get("Runtimes") or {}
    if runtimes:
        lines.append(f" Runtimes: {' '.join(sorted(runtimes))}")
    lines += [
        f" Default Runtime: {g('DefaultRuntime')}",
        f" Init Binary: {g('InitBinary')}",
    ]
    security = info.get("SecurityOptions") or []
    if security:
        lines.append(" Security Options:")
        for option in security:
            parts = dict(p.partition("=")[::2] for p in str(option).split(","))
            lines.append(f"  {parts.pop('name', option)}")
            lines += [f"   {k.title()}: {v}" for k, v in parts.items()]
    lines += [
        f" Kernel Version: {g('KernelVersion')}",
        f" Operating System: {g('OperatingSystem')}",
        f" OSType: {g('OSType')}",
        f" Architecture: {g('Architecture')}",
        f" CPUs: {g('NCPU', 0)}",
        f" Total Memory: {humanize.bytes_size(float(g('MemTotal', 0)))}",
        f" Name: {g('Name')}",
        f" ID: {g('ID')}",
        f" Docker Root Dir: {g('DockerRootDir')}",
        f" Debug Mode: {str(bool(g('Debug', False))).lower()}",
        f" Experimental: {str(bool(g('ExperimentalBuild', False))).lower()}",
    ]
    registries = (info.get("RegistryConfig") or {}).get("InsecureRegistryCIDRs") or []
    if registries:
        lines.append(" Insecure Registries:")
        lines += [f"  {r}" for r in registries]
    lines.append(f" Live Restore Enabled: {str(bool(g('LiveRestoreEnabled', False))).lower()}")
    return lines


def info(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS]", "Display system-wide information", max_args=0)
    cmd.flags.string("format", "f", "Format output using a custom template")
    opts, _ = cmd.parse(argv)
    client = client_info(ctx)
    try:
        data: dict[str, Any] | None = ctx.client.get("/info")
        error: DockyardError | None = None
    except DockyardError as exc:
        data, error = None, exc
    if opts.format:
        merged = dict(data or {})
        merged["ClientInfo"] = client
        _render(ctx, opts.format, merged)
    else:
        lines = [
            "Client:",
            f" Version:    {client['Version']}",
            " Context:    default",
            " Debug Mode: false",
            "",
        ]
        lines.append("Server:")
        if data is not None:
            lines += _info_lines(data)
        ctx.print("\n".join(lines))
        for warning in (data or {}).get("Warnings") or []:
            ctx.warn(warning)
    if error is not None:
        ctx.flush()
        prefix = "Error response from daemon: " if isinstance(error, DaemonError) else ""
        ctx.warn(prefix + error.message)
        raise Exit(1)
    return 0


DF_TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
DF_HEADERS = {
    "Type": "TYPE",
    "TotalCount": "TOTAL",
    "Active": "ACTIVE",
    "Size": "SIZE",
    "Reclaimable": "RECLAIMABLE",
}


class UsageRow:
    def __init__(
        self, kind: str, total: int, active: int, size: int, reclaimable: int, percent: bool
    ) -> None:
        self.kind = kind
        self.total = total
        self.active = active
        self.size = size
        self.reclaimable = reclaimable
        self.percent = percent

    def Type(self) -> str:
        return self.kind

    def TotalCount(self) -> str:
        return str(self.total)

    def Active(self) -> str:
        return str(self.active)

    def Size(self) -> str:
        return humanize.size(self.size)

    def Reclaimable(self) -> str:
        text = humanize.size(self.reclaimable)
        if self.percent and self.size > 0:
            text += f" ({self.reclaimable * 100 // self.size}%)"
        return text

    def json_fields(self) -> dict[str, str]:
        return {name: getattr(self, name)() for name in sorted(DF_HEADERS)}


def usage_rows(df: dict[str, Any]) -> list[UsageRow]:
    """docker's disk-usage summary: totals, what is in use, and what pruning would free."""
    images = df.get("Images") or []
    layers = int(df.get("LayersSize") or 0)
    used = sum(
        int(i.get("Size") or 0) - int(i.get("SharedSize") or 0)
        for i in images
        if i.get("Containers") and i.get("Size", -1) != -1 and i.get("SharedSize", -1) != -1
    )
    containers = df.get("Containers") or []
    rw = [int(c.get("SizeRw") or 0) for c in containers]
    stopped = [int(c.get("SizeRw") or 0) for c in containers if c.get("State") != "running"]
    volumes = df.get("Volumes") or []

    def vol_size(v: dict[str, Any]) -> int:
        size = (v.get("UsageData") or {}).get("Size", -1)
        return int(size) if size is not None and size >= 0 else 0

    def vol_refs(v: dict[str, Any]) -> int:
        return int((v.get("UsageData") or {}).get("RefCount") or 0)

    cache = df.get("BuildCache") or []
    return [
        UsageRow(
            "Images", len(images), sum(1 for i in images if i.get("Containers")), layers, layers - used, True
        ),
        UsageRow(
            "Containers",
            len(containers),
            sum(1 for c in containers if c.get("State") == "running"),
            sum(rw),
            sum(stopped),
            True,
        ),
        UsageRow(
            "Local Volumes",
            len(volumes),
            sum(1 for v in volumes if vol_refs(v) > 0),
            sum(vol_size(v) for v in volumes),
            sum(vol_size(v) for v in volumes if vol_refs(v) == 0),
            True,
        ),
        UsageRow(
            "Build Cache",
            len(cache),
            sum(1 for b in cache if b.get("InUse")),
            sum(int(b.get("Size") or 0) for b in cache),
            sum(int(b.get("Size") or 0) for b in cache if not b.get("InUse") and not b.get("Shared")),
            False,
        ),
    ]


def verbose_df(data: dict[str, Any]) -> str:
    """docker system df -v: per image its size, the part shared with other images (stored once)
    and its own; per container and volume their sizes."""
    from dockyard.cli import tabwriter

    size = humanize.size
    lines = ["Images space usage:", ""]
    rows = ["REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS"]
    for i in data.get("Images") or []:
        tags = i.get("RepoTags") or ["<none>:<none>"]
        repo, _, tag = tags[0].rpartition(":")
        total, shared = int(i.get("Size") or 0), int(i.get("SharedSize") or 0)
        rows.append(
            f"{repo}\t{tag}\t{str(i.get('Id', '')).partition(':')[2][:12]}\t"
            f"{humanize.ago(float(i.get('Created') or 0))}\t{size(total)}\t{size(shared)}\t"
            f"{size(total - shared)}\t{i.get('Containers', 0)}"
        )
    lines += [*tabwriter.render("\n".join(rows)).splitlines(), "", "Containers space usage:", ""]
    rows = ["CONTAINER ID\tIMAGE\tSIZE\tSTATUS\tNAMES"]
    for c in data.get("Containers") or []:
        names = ",".join(n.lstrip("/") for n in c.get("Names") or [])
        rows.append(f"{str(c.get('Id', ''))[:12]}\t{c.get('Image', '')}\t{size(int(c.get('SizeRw') or 0))}\t"
                    f"{c.get('Status', '')}\t{names}")  # fmt: skip
    lines += [*tabwriter.render("\n".join(rows)).splitlines(), "", "Local Volumes space usage:", ""]
    rows = ["VOLUME NAME\tLINKS\tSIZE"]
    for v in data.get("Volumes") or []:
        usage = v.get("UsageData") or {}
        rows.append(
            f"{v.get('Name', '')}\t{usage.get('RefCount', 0)}\t{size(max(0, int(usage.get('Size') or 0)))}"
        )
    lines += tabwriter.render("\n".join(rows)).splitlines()
    cache = sum(int(b.get("Size") or 0) for b in data.get("BuildCache") or [])
    lines += ["", f"Build cache usage: {size(cache)}", ""]
    return "\n".join(lines) + "\n"


def df(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS]", "Show docker disk usage", max_args=0)
    cmd.flags.string("format", help="Format output using a custom template")
    cmd.flags.bool("verbose", "v", "Show detailed information on space usage")
    opts, _ = cmd.parse(argv)
    data = ctx.client.get("/system/df") or {}
    if opts.verbose and opts.format:
        ctx.print(formatter.json_indent(data))
        return 0
    if opts.verbose:
        ctx.print(verbose_df(data), end="")
        return 0
    formatter.write(ctx, opts.format, DF_TABLE, usage_rows(data), DF_HEADERS)
    return 0


def _optional_prune(ctx: Context, path: str, params: dict[str, Any]) -> dict[str, Any]:
    """Prune endpoints a daemon may lack (networks before the network work, build cache): {} then."""
    try:
        return ctx.client.call("POST", path, params) or {}
    except DaemonError as exc:
        if exc.status in (404, 405, 501):
            return {}
        raise


def prune(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS]", "Remove unused data", max_args=0)
    cmd.flags.bool("all", "a", "Remove all unused images not just dangling ones")
    cmd.flags.strings("filter", help='Provide filter values (e.g. "label=<key>=<value>")', metavar="filter")
    cmd.flags.bool("force", "f", "Do not prompt for confirmation")
    cmd.flags.bool("volumes", help="Prune anonymous volumes")
    opts, _ = cmd.parse(argv)
    items = ["all stopped containers", "all networks not used by at least one container"]
    if opts.volumes:
        items.append("all anonymous volumes not used by at least one container")
    items.append(
        "all images without at least one container associated to them" if opts.all else "all dangling images"
    )
    items.append("unused build cache")
    warning = "WARNING! This will remove:\n" + "".join(f"  - {item}\n" for item in items)
    if not opts.force and not confirm(ctx, warning):
        return 0
    filters = formatter.filters(opts.filter)
    encoded = {"filters": encode_filters(filters)}
    total = 0
    result = ctx.client.call("POST", "/containers/prune", encoded) or {}
    total += int(result.get("SpaceReclaimed") or 0)
    _section(ctx, "Deleted Containers", result.get("ContainersDeleted"))
    result = _optional_prune(ctx, "/networks/prune", encoded)
    _section(ctx, "Deleted Networks", result.get("NetworksDeleted"))
    if opts.volumes:
        result = ctx.client.call("POST", "/volumes/prune", encoded) or {}
        total += int(result.get("SpaceReclaimed") or 0)
        _section(ctx, "Deleted Volumes", result.get("VolumesDeleted"))
    reclaimed, lines = prune_images(ctx, opts.all, filters)
    total += reclaimed
    _section(ctx, "Deleted Images", lines)
    result = _optional_prune(ctx, "/build/prune", {"all": opts.all or None, **encoded})
    total += int(result.get("SpaceReclaimed") or 0)
    _section(ctx, "Deleted build cache objects", result.get("CachesDeleted"))
    ctx.print(f"Total reclaimed space: {humanize.size(total)}")
    return 0


def _section(ctx: Context, title: str, names: list[str] | None) -> None:
    if names:
        ctx.print(f"{title}:")
        for name in names:
            ctx.print(name)
        ctx.print()
