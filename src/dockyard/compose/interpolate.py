"""``${VAR}`` interpolation in Compose files (Compose Specification, "Interpolation").

Forms: ``$VAR``, ``${VAR}``, ``${VAR:-default}`` (unset or empty), ``${VAR-default}`` (unset),
``${VAR:?message}`` / ``${VAR?message}`` (required), ``${VAR:+alt}`` / ``${VAR+alt}``, and ``$$`` for
a literal ``$``. Defaults and alternatives are themselves interpolated, so ``${A:-${B:-x}}``
nests. Only values are interpolated, never keys, as compose-go does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from dockyard.compose.problems import invalid, join

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class InterpolationError(ValueError):
    """A variable is required and missing, or a ``$`` is malformed. ``str()`` is the reason."""


class Substituter:
    """Interpolates strings against ``environ``; collects the names it found unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.unset: list[str] = []

    def __call__(self, text: str) -> str:
        out, _ = self._scan(text, 0, closing=False)
        return out

    def _scan(self, text: str, pos: int, closing: bool) -> tuple[str, int]:
        """Expand from ``pos`` up to the end, or (``closing``) up to an unmatched ``}``."""
        out: list[str] = []
        while pos < len(text):
            c = text[pos]
            if closing and c == "}":
                return "".join(out), pos
            if c != "$":
                out.append(c)
                pos += 1
                continue
            nxt = text[pos + 1 : pos + 2]
            if nxt == "$":
                out.append("$")
                pos += 2
            elif nxt == "{":
                value, pos = self._braced(text, pos + 2)
                out.append(value)
            else:
                m = _NAME.match(text, pos + 1)
                if m is None:
                    raise InterpolationError(
                        f'invalid interpolation format in "{text}": write $$ for a literal $'
                    )
                out.append(self._lookup(m.group(0)))
                pos = m.end()
        if closing:
            raise InterpolationError(f'invalid interpolation format in "{text}": a "${{" is never closed')
        return "".join(out), pos

    def _braced(self, text: str, pos: int) -> tuple[str, int]:
        m = _NAME.match(text, pos)
        if m is None:
            raise InterpolationError(
                f'invalid interpolation format in "{text}": ${{...}} must start with a variable name'
            )
        name, pos = m.group(0), m.end()
        if text[pos : pos + 1] == "}":
            return self._lookup(name), pos + 1
        op = text[pos : pos + 2] if text[pos : pos + 1] == ":" else text[pos : pos + 1]
        if op not in (":-", "-", ":?", "?", ":+", "+"):
            raise InterpolationError(
                f'invalid interpolation format in "{text}": after ${{{name} use }}, :-, -, :?, ?, :+ or +'
            )
        arg_start = pos + len(op)
        # Only the branch taken is expanded: an unused default may name a required variable.
        value = self.environ.get(name)
        taken = {
            ":-": value is None or value == "",
            "-": value is None,
            ":?": value is None or value == "",
            "?": value is None,
            ":+": value is not None and value != "",
            "+": value is not None,
        }[op]
        if taken:
            arg, end = self._scan(text, arg_start, closing=True)
        else:
            end = self._skip(text, arg_start)
            arg = ""
        pos = end + 1
        if op in (":?", "?"):
            if taken:
                reason = arg or ("is required" if op == "?" else "is required and must not be empty")
                raise InterpolationError(f'required variable "{name}" is missing a value: {reason}')
            return value or "", pos
        if op in (":-", "-"):
            return (arg if taken else value or ""), pos
        return (arg if taken else ""), pos

    def _skip(self, text: str, pos: int) -> int:
        """The position of the ``}`` closing the argument at ``pos`` (nested ``${}`` included)."""
        depth = 0
        while pos < len(text):
            if text.startswith("$$", pos):
                pos += 2
                continue
            if text.startswith("${", pos):
                depth += 1
                pos += 2
                continue
            if text[pos] == "}":
                if depth == 0:
                    return pos
                depth -= 1
            pos += 1
        raise InterpolationError(f'invalid interpolation format in "{text}": a "${{" is never closed')

    def _lookup(self, name: str) -> str:
        value = self.environ.get(name)
        if value is None:
            if name not in self.unset:
                self.unset.append(name)
            return ""
        return value


def interpolate_tree(
    tree: Any, environ: Mapping[str, str], file: str, warn: Callable[[str], None] | None = None
) -> Any:
    """A copy of ``tree`` (a parsed Compose file) with every string value interpolated.

    An error names the file, the path and the variable; unset variables without a default
    become "" with a warning, as Compose does.
    """
    sub = Substituter(environ)

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, str):
            try:
                return sub(value)
            except InterpolationError as e:
                raise invalid(file, path, str(e)) from None
        if isinstance(value, dict):
            return {k: walk(v, join(path, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, join(path, i)) for i, v in enumerate(value)]
        return value

    result = walk(tree, "")
    if warn is not None:
        for name in sub.unset:
            warn(f'{file}: the "{name}" variable is not set; defaulting to a blank string')
    return result
