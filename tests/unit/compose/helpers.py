"""Writing Compose projects into a temporary folder and loading them, for the loader's tests."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest

from dockyard.compose.loader import LoadOptions, load
from dockyard.compose.model import Project
from dockyard.errors import InvalidArgument


def write(folder: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def load_in(
    folder: Path, contents: Mapping[str, str], environ: Mapping[str, str] | None = None, **kw: object
) -> Project:
    """Write ``contents`` into ``folder`` (the current folder of the test) and load the project."""
    write(folder, contents)
    assert os.getcwd() == str(folder), "use the `project` fixture: it changes into the folder"
    return load(LoadOptions(environ=dict(environ or {}), **kw))  # type: ignore[arg-type]


def load_error(
    folder: Path, contents: Mapping[str, str], environ: Mapping[str, str] | None = None, **kw: object
) -> str:
    with pytest.raises(InvalidArgument) as info:
        load_in(folder, contents, environ, **kw)
    return str(info.value)
