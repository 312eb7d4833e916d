"""``dockyard inspect`` and ``container/image/volume inspect``: the API's JSON, or ``-f`` templates.

Without ``--type`` a name is looked up as docker does, first match wins: container, image,
network, volume. Every name found is printed (a JSON array, or one template line each); the
names not found are reported after it and make the exit status 1.
"""

from __future__ import annotations

from dockyard.cli import formatter
from dockyard.cli.command import Command, Exit
from dockyard.cli.template import Template, TemplateError
from dockyard.client.api import quote_path
from dockyard.client.errors import DaemonError, NoSuchObject

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockyard.cli.context import Context

KINDS = ("container", "image", "network", "volume")


def _getter(ctx: Context, kind: str, size: bool) -> Callable[[str], Any]:
    paths = {
        "container": ("/containers/{}/json", {"size": True if size else None}),
        "image": ("/images/{}/json", None),
        "network": ("/networks/{}", None),
        "volume": ("/volumes/{}", None),
    }
    path, params = paths[kind]
    return lambda name: ctx.client.get(path.format(quote_path(name)), params)


def show(ctx: Context, items: list[Any], errors: list[str], fmt: str, not_found_prefix: str) -> int:
    """Print what was found (JSON or one template line each), then the errors; the exit status."""
    if fmt:
        try:
            template = Template(formatter.expand(fmt))
            lines = [template.execute(item) for item in items]
        except TemplateError as exc:
            raise TemplateError(f"template parsing error: {exc.message}") from None
        ctx.write("".join(line + "\n" for line in lines).encode("utf-8", "surrogateescape"))
    else:
        ctx.print(formatter.json_indent(items))
    ctx.flush()
    for message in errors:
        ctx.warn(f"{not_found_prefix}{message}")
    return 1 if errors else 0


def _inspect(ctx: Context, argv: list[str], kind: str | None, usage: str, summary: str) -> int:
    cmd = Command(ctx, usage, summary, min_args=1)
    cmd.flags.string("format", "f", "Format output using a custom template: 'json' or a Go template")
    if kind in (None, "container"):
        cmd.flags.bool("size", "s", "Display total file sizes if the type is container")
    if kind is None:
        cmd.flags.string("type", help="Only inspect objects of the given type")
    opts, names = cmd.parse(argv)
    size = bool(getattr(opts, "size", False))
    wanted = kind or getattr(opts, "type", "") or None
    if wanted is not None and wanted not in KINDS:
        raise cmd.fail(f'"{wanted}" is not a valid value for --type: use one of {", ".join(KINDS)}')
    fmt = "" if opts.format == "json" else opts.format
    items: list[Any] = []
    errors: list[str] = []
    kinds = [wanted] if wanted else list(KINDS)
    for name in names:
        found = False
        for k in kinds:
            try:
                items.append(_getter(ctx, k, size)(name))
                found = True
                break
            except NoSuchObject as exc:
                if kind is not None:
                    errors.append(f"Error response from daemon: {exc.message}")
            except DaemonError as exc:
                if kind is not None or exc.status not in (400, 404, 501):
                    errors.append(f"Error response from daemon: {exc.message}")
                    found = True
                    break
        if not found and kind is None:
            errors.append(f"Error: No such object: {name}")
    code = show(ctx, items, errors, fmt, "")
    if code:
        raise Exit(code)
    return 0


def inspect(ctx: Context, argv: list[str]) -> int:
    return _inspect(
        ctx, argv, None, "[OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on Docker objects"
    )


def container_inspect(ctx: Context, argv: list[str]) -> int:
    return _inspect(
        ctx,
        argv,
        "container",
        "[OPTIONS] CONTAINER [CONTAINER...]",
        "Display detailed information on one or more containers",
    )


def image_inspect(ctx: Context, argv: list[str]) -> int:
    return _inspect(
        ctx, argv, "image", "[OPTIONS] IMAGE [IMAGE...]", "Display detailed information on one or more images"
    )


def volume_inspect(ctx: Context, argv: list[str]) -> int:
    return _inspect(
        ctx,
        argv,
        "volume",
        "[OPTIONS] VOLUME [VOLUME...]",
        "Display detailed information on one or more volumes",
    )


def network_inspect(ctx: Context, argv: list[str]) -> int:
    return _inspect(
        ctx,
        argv,
        "network",
        "[OPTIONS] NETWORK [NETWORK...]",
        "Display detailed information on one or more networks",
    )
