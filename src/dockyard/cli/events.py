"""``dockyard events``: the daemon's event stream, one line per event (or a ``--format`` template)."""

from __future__ import annotations

from dockyard.cli import formatter, humanize
from dockyard.cli.command import Command
from dockyard.cli.logs import api_timestamp
from dockyard.cli.template import Template, TemplateError
from dockyard.client.api import encode_filters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context


def pretty(event: dict[str, Any]) -> str:
    """docker's ``prettyPrintEvent``: time, type, action, actor id, sorted attributes."""
    out = ""
    if event.get("timeNano"):
        out = humanize.rfc3339_nano_fixed(int(event["timeNano"])) + " "
    elif event.get("time"):
        out = humanize.rfc3339_nano_fixed(int(event["time"]) * 1_000_000_000) + " "
    actor = event.get("Actor") or {}
    out += f"{event.get('Type', '')} {event.get('Action', '')} {actor.get('ID', '')}"
    attributes = actor.get("Attributes") or {}
    if attributes:
        out += " (" + ", ".join(f"{k}={attributes[k]}" for k in sorted(attributes)) + ")"
    return out


def events(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS]", "Get real time events from the server", max_args=0)
    cmd.flags.strings("filter", "f", "Filter output based on conditions provided", metavar="filter")
    cmd.flags.string("format", help="Format output using a custom template: 'json', or a Go template")
    cmd.flags.string("since", help="Show all events created since timestamp")
    cmd.flags.string("until", help="Stream events until this timestamp")
    opts, _ = cmd.parse(argv)
    template = None
    if opts.format:
        spec = "{{json .}}" if opts.format == "json" else opts.format
        try:
            template = Template(formatter.expand(spec))
        except TemplateError as exc:
            raise TemplateError(f"template parsing error: {exc.message}") from None
    params = {
        "since": api_timestamp(opts.since, "since") or None,
        "until": api_timestamp(opts.until, "until") or None,
        "filters": encode_filters(formatter.filters(opts.filter)),
    }
    for event in ctx.client.stream_json("GET", "/events", params):
        line = pretty(event) if template is None else template.execute(event)
        ctx.print(line)
        ctx.flush()
    return 0
