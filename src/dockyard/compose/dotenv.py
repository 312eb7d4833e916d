"""``.env`` and ``env_file`` files, as compose-go's dotenv reads them.

``KEY=value`` lines, with an optional ``export `` in front; ``#`` starts a comment (at the start
of a line, or after a space in an unquoted value). Values:

- unquoted: trimmed, ``${VAR}`` interpolated;
- ``'single'``: literal, may span lines;
- ``"double"``: ``\\n``, ``\\t``, ``\\"``, ``\\\\`` escapes and interpolation, may span lines.

A line with a bare ``KEY`` takes the value from the environment, or is left out when it is not
set there. Interpolation sees the file's earlier keys, then the ``lookup`` environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from dockyard.compose.interpolate import InterpolationError, Substituter
from dockyard.compose.problems import invalid

_KEY = re.compile(r"(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.\-]*)[ \t]*(=|$)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$$"}


class _Chain(dict[str, str]):
    """The file's earlier keys over the outer environment, for interpolation."""

    def __init__(self, own: Mapping[str, str], outer: Mapping[str, str]) -> None:
        super().__init__()
        self.own, self.outer = own, outer

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        if key in self.own:
            return self.own[key]
        return self.outer.get(key, default)


def parse_dotenv(text: str, display: str, lookup: Mapping[str, str]) -> dict[str, str]:
    """The variables of an env file's ``text``; errors name ``display`` and the line."""
    result: dict[str, str] = {}
    sub = Substituter(_Chain(result, lookup))
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        lineno, line = i + 1, lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        m = _KEY.match(line)
        if m is None:
            raise invalid(display, f"line {lineno}", f"expected KEY=value, got {line!r}")
        key = m.group(1)
        if m.group(2) != "=":
            if key in lookup:
                result[key] = lookup[key]
            continue
        rest = line[m.end() :].lstrip()
        quote = rest[:1]
        try:
            if quote in ("'", '"'):
                body = rest[1:]
                while _closing(body, quote) < 0 and i < len(lines):
                    body += "\n" + lines[i]
                    i += 1
                end = _closing(body, quote)
                if end < 0:
                    raise invalid(display, f"line {lineno}", f"{key}: the {quote} quote is never closed")
                value = body[:end]
                if quote == '"':
                    value = sub(_unescape(value))
            else:
                value = re.split(r"[ \t]#", rest, maxsplit=1)[0].strip()
                value = sub(value)
        except InterpolationError as e:
            raise invalid(display, f"line {lineno}", f"{key}: {e}") from None
        result[key] = value
    return result


def _closing(body: str, quote: str) -> int:
    i = 0
    while i < len(body):
        if quote == '"' and body[i] == "\\":
            i += 2
            continue
        if body[i] == quote:
            return i
        i += 1
    return -1


def _unescape(value: str) -> str:
    # Escapes become their characters; an escaped $ stays literal through interpolation as $$.
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), value)


def _read_text(path: str, display: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        raise invalid(display, "", f"env file {path} not found") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        raise invalid(display, "", f"cannot read env file {path}: {e}") from None


def read_env_file(path: str, display: str, lookup: Mapping[str, str]) -> dict[str, str]:
    return parse_dotenv(_read_text(path, display), display, lookup)


def read_raw_env_file(path: str, display: str, lookup: Mapping[str, str]) -> dict[str, str]:
    """``env_file: {format: raw}``: ``docker run --env-file``'s format. Each line is KEY=VALUE
    taken verbatim (no quotes, escapes or interpolation); blank lines and lines starting with
    ``#`` are skipped; a bare KEY takes its value from ``lookup`` and is left out when unset."""
    out: dict[str, str] = {}
    for number, line in enumerate(_read_text(path, display).splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.lstrip()
        if not key or any(c.isspace() for c in key):
            raise invalid(path, "", f"line {number}: invalid variable name {key!r}: use KEY=VALUE")
        if sep:
            out[key] = value
        elif key in lookup:
            out[key] = lookup[key]
    return out


def project_environment(
    env_files: list[str], default_env_file: str | None, environ: Mapping[str, str]
) -> dict[str, str]:
    """What interpolation sees: the env files (later ones win), then the process environment over them.

    ``env_files`` (--env-file) must exist; ``default_env_file`` (<project>/.env) is read if present.
    """
    merged: dict[str, str] = {}
    files = env_files or ([default_env_file] if default_env_file and os.path.isfile(default_env_file) else [])
    for path in files:
        merged.update(read_env_file(path, path, {**merged, **environ}))
    merged.update(environ)
    return merged
