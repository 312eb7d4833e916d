"""``--format`` for the listing commands, as docker's formatter package treats it.

``""`` or ``table``: the command's default table; ``json``: ``{{json .}}`` per row; ``table
TEMPLATE``: a header row (each field's header name) and the rows, aligned by tabwriter;
any other text: the template once per row, unaligned. ``\\t`` and ``\\n`` typed literally on the
command line stand for a tab and a newline.
"""

from __future__ import annotations

from dockyard.cli import tabwriter
from dockyard.cli.template import Template, TemplateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

    from dockyard.cli.context import Context


class HeaderRow:
    """Stands in for a row when the header line is rendered: every field answers its header."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = headers

    def __getattr__(self, name: str) -> Callable[..., str]:
        if name.startswith("_"):
            raise AttributeError(name)
        header = self._headers.get(name, name.upper())
        return lambda *args: str(args[0]) if args else header

    def json_fields(self) -> dict[str, str]:
        return dict(self._headers)


def expand(spec: str) -> str:
    return spec.replace("\\t", "\t").replace("\\n", "\n")


def parse(spec: str, default_table: str) -> tuple[bool, Template]:
    """(is a table, the row template) for a ``--format`` value."""
    text = spec.strip()
    if text in ("", "table"):
        text = default_table
    elif text == "json":
        text = "{{json .}}"
    is_table = text.startswith("table")
    if is_table:
        text = text[len("table") :].strip()
    try:
        return is_table, Template(expand(text))
    except TemplateError as exc:
        raise TemplateError(f"template parsing error: {exc.message}") from None


def render(
    spec: str, default_table: str, rows: Iterable[Any], headers: Mapping[str, str], minwidth: int = 10
) -> str:
    is_table, template = parse(spec, default_table)
    out: list[str] = []
    try:
        if is_table:
            out.append(template.execute(HeaderRow(headers)) + "\n")
        out.extend(template.execute(row) + "\n" for row in rows)
    except TemplateError as exc:
        raise TemplateError(f"failed to execute template: {exc.message}") from None
    if is_table:
        return tabwriter.render(out, minwidth=minwidth)
    return "".join(out)


def write(
    ctx: Context, spec: str, default_table: str, rows: Iterable[Any], headers: Mapping[str, str]
) -> None:
    ctx.write(render(spec, default_table, rows, headers).encode("utf-8", "surrogateescape"))


def json_indent(value: Any) -> str:
    """JSON laid out as ``docker inspect`` prints it (4 spaces, non-ASCII kept)."""
    import json

    return json.dumps(value, indent=4, ensure_ascii=False)


def ellipsis(text: str, width: int) -> str:
    """docker's ``formatter.Ellipsis``: cut to ``width`` characters, the last one ``…``."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    return text[: width - 1] + "…"


def truncate_id(value: str) -> str:
    """``stringid.TruncateID``: drop an ``algo:`` prefix, keep 12 characters."""
    return value.split(":", 1)[-1][:12]


def filters(values: Iterable[str]) -> dict[str, list[str]]:
    """``--filter key=value`` (repeatable) to the API's filters map."""
    out: dict[str, list[str]] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key.strip():
            from dockyard.cli.flags import FlagError

            raise FlagError(f'bad format of filter "{value}" (expected name=value)')
        out.setdefault(key.strip().lower(), []).append(val)
    return out
