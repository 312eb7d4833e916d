"""Errors that say where in which Compose file: ``compose.yaml: services.web.ports[1]: ...``."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from dockyard.errors import InvalidArgument


class LocatedError(InvalidArgument):
    """Bad input at ``path`` of ``file``: ``compose.yaml:12: services.web.ports[1]: <reason>``."""

    def __init__(self, file: str, path: str, reason: str, line: int | None = None) -> None:
        where = file if line is None else f"{file}:{line}"
        super().__init__(f"{where}: {path}: {reason}" if path else f"{where}: {reason}")
        self.file, self.path, self.reason, self.line = file, path, reason, line


def invalid(file: str, path: str, message: str) -> LocatedError:
    """An error located at ``path`` (dotted, with [i] for list items) of ``file``; the loader adds
    the line when it knows it (see :func:`with_line`)."""
    return LocatedError(file, path, message)


def with_line(error: LocatedError, lines: dict[str, dict[str, int]]) -> LocatedError:
    """``error`` with the line of its path (or of the nearest enclosing key) in its file."""
    if error.line is not None or error.file not in lines:
        return error
    table, path = lines[error.file], error.path
    while path:
        if path in table:
            return LocatedError(error.file, error.path, error.reason, table[path])
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return error


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean "image"?)`` when a close spelling exists, else ""."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f' (did you mean "{close[0]}"?)' if close else ""
