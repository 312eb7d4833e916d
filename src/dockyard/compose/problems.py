"""Errors that say where in which Compose file: ``compose.yaml: services.web.ports[1]: ...``."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from dockyard.errors import InvalidArgument


def invalid(file: str, path: str, message: str) -> InvalidArgument:
    """An InvalidArgument located at ``path`` (dotted, with [i] for list items) of ``file``."""
    where = f"{file}: {path}" if path else file
    return InvalidArgument(f"{where}: {message}")


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean "image"?)`` when a close spelling exists, else ""."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.75)
    return f' (did you mean "{close[0]}"?)' if close else ""
