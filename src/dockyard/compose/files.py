"""Which Compose files, which project folder, which project name (as Compose v2 decides).

Files: ``-f`` in order (``-` is standard input), else ``COMPOSE_FILE`` (split on
``COMPOSE_PATH_SEPARATOR``, default ``:``), else the first of compose.yaml, compose.yml,
docker-compose.yml, docker-compose.yaml in the working folder or the nearest parent that has
one, followed by its override file (compose.override.yaml, ...) when present.

Project name: ``-p``, else ``COMPOSE_PROJECT_NAME``, else the top-level ``name:``, else the
project folder's name. Given names must already be valid; a folder's name is normalized (lower
case, only ``[a-z0-9_-]``, leading ``_``/``-`` dropped), as compose-go does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from dockyard.errors import InvalidArgument

CANDIDATES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDES = (
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)
STDIN = "-"

_VALID_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def find_default_files(start: str) -> list[str]:
    """The default file (and its override) in ``start`` or its nearest parent that has one."""
    folder = os.path.abspath(start)
    while True:
        for name in CANDIDATES:
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                found = [path]
                for override in OVERRIDES:
                    if os.path.isfile(os.path.join(folder, override)):
                        found.append(os.path.join(folder, override))
                        break
                return found
        parent = os.path.dirname(folder)
        if parent == folder:
            raise InvalidArgument(
                f"no Compose file in {os.path.abspath(start)} or its parents: "
                f"write {CANDIDATES[0]} there, or name one with -f"
            )
        folder = parent


def resolve_files(
    files: list[str], cwd: str, environ: Mapping[str, str], search_from: str | None = None
) -> list[str]:
    """Absolute paths of the files to merge, in order (``-`` stays ``-``).

    Named files are relative to ``cwd``; the default ones are searched from ``search_from``
    (--project-directory) or ``cwd``.
    """
    if not files and environ.get("COMPOSE_FILE"):
        files = [f for f in environ["COMPOSE_FILE"].split(environ.get("COMPOSE_PATH_SEPARATOR", ":")) if f]
    if not files:
        return find_default_files(search_from or cwd)
    out = []
    for f in files:
        if f == STDIN:
            out.append(STDIN)
            continue
        path = os.path.abspath(os.path.join(cwd, f))
        if not os.path.isfile(path):
            raise InvalidArgument(f"Compose file {f} not found (looked for {path})")
        out.append(path)
    return out


def normalize_name(name: str) -> str:
    """compose-go's NormalizeProjectName: lower case, keep [a-z0-9_-], drop leading _ and -."""
    kept = "".join(re.findall(r"[a-z0-9_-]", name.lower()))
    return kept.lstrip("_-")


def check_name(name: str, origin: str) -> str:
    if not _VALID_NAME.match(name):
        raise InvalidArgument(
            f'invalid project name "{name}" ({origin}): use lower-case letters, digits, "_" and "-", '
            "starting with a letter or a digit"
        )
    return name


def project_name(
    explicit: str | None, environ: Mapping[str, str], declared: str | None, project_dir: str
) -> str:
    if explicit:
        return check_name(explicit, "from -p")
    if environ.get("COMPOSE_PROJECT_NAME"):
        return check_name(environ["COMPOSE_PROJECT_NAME"], "from COMPOSE_PROJECT_NAME")
    if declared:
        return check_name(declared, "from the top-level name:")
    folder = os.path.basename(os.path.normpath(project_dir))
    name = normalize_name(folder)
    if not name:
        raise InvalidArgument(
            f'cannot make a project name from the folder name "{folder}": '
            "give one with -p, COMPOSE_PROJECT_NAME or a top-level name:"
        )
    return name
