"""Go's ``text/tabwriter`` layout, which docker's tables are printed with.

A cell is text ended by a tab; the text after a line's last tab is not a cell and is never
padded. A column's width is the widest cell of a *block* of consecutive lines that all have a
cell in that column, plus the padding, and at least ``minwidth`` (tabwriter.go ``format``): a
line with fewer cells ends the block, so one short line splits a table into separately aligned
parts, as in Go. Widths count characters (runes), as Go does.

Docker prints its tables with ``NewWriter(out, 10, 1, 3, ' ', 0)`` (``docker ps``, ``images``,
``volume ls``...) and ``docker top`` with ``minwidth`` 20.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable


def _format(
    lines: list[list[str]],
    widths: list[int],
    line0: int,
    line1: int,
    minwidth: int,
    padding: int,
    out: list[str],
) -> None:
    column = len(widths)
    this = line0
    while this < line1:
        if column >= len(lines[this]) - 1:
            this += 1
            continue
        _write(lines, widths, line0, this, out)
        line0 = this
        width = minwidth
        while this < line1 and column < len(lines[this]) - 1:
            width = max(width, len(lines[this][column]) + padding)
            this += 1
        _format(lines, [*widths, width], line0, this, minwidth, padding, out)
        line0 = this
    _write(lines, widths, line0, line1, out)


def _write(lines: list[list[str]], widths: list[int], line0: int, line1: int, out: list[str]) -> None:
    for cells in lines[line0:line1]:
        parts = []
        for j, cell in enumerate(cells):
            if j < len(cells) - 1 and j < len(widths):
                parts.append(cell.ljust(widths[j]))
            else:
                parts.append(cell)
        out.append("".join(parts))


def render(text: str | Iterable[str], minwidth: int = 10, padding: int = 3) -> str:
    """Lay out tab-separated lines; returns the text with every line ending in a newline."""
    raw = (text if isinstance(text, str) else "".join(text)).split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    lines = [line.split("\t") for line in raw]
    out: list[str] = []
    _format(lines, [], 0, len(lines), minwidth, padding, out)
    return "".join(line + "\n" for line in out)
