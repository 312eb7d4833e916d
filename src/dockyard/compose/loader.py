"""From Compose files to a :class:`~dockyard.compose.model.Project`: the loader's entry point.

``load(LoadOptions(...))`` finds the files (``-f``, else compose.yaml, compose.yml,
docker-compose.yml, docker-compose.yaml in the project folder, as Compose looks), reads ``.env``
(or ``--env-file``), interpolates, merges several files in order, applies ``extends`` and
``profiles``, validates, and normalizes to the model. Errors are
:class:`~dockyard.errors.InvalidArgument` naming the file, the service and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dockyard.compose.model import Project


@dataclass
class LoadOptions:
    files: list[str] = field(default_factory=list)  # -f, in order; empty: discovered in project_dir
    project_name: str | None = None  # -p, else COMPOSE_PROJECT_NAME, else the file's `name:`, else the folder
    project_dir: str | None = None  # --project-directory, else the first file's folder, else the cwd
    env_files: list[str] = field(default_factory=list)  # --env-file; empty: <project_dir>/.env if present
    profiles: list[str] = field(default_factory=list)  # --profile, plus COMPOSE_PROFILES
    environ: Mapping[str, str] = field(default_factory=dict)  # the process environment


def load(options: LoadOptions) -> Project:
    raise NotImplementedError("the compose loader is being written (branch compose-model)")
