"""From Compose files to a :class:`~dockyard.compose.model.Project`: the loader's entry point.

``load(LoadOptions(...))`` finds the files (``-f``, else compose.yaml, compose.yml,
docker-compose.yml, docker-compose.yaml in the project folder or a parent, as Compose looks),
reads ``.env`` (or ``--env-file``), and for each file: parses, interpolates, checks the shape
(schema.py), expands ``include``, and turns short syntax into long (canonical.py). Then it
merges the files in order (merge.py), applies ``extends`` (extends.py), builds the model
(normalize.py), checks references and dependency loops (validate.py), and applies ``profiles``
(profiles.py). Errors are :class:`~dockyard.errors.InvalidArgument` naming the file, the service
and the key.

The commands call :func:`load`, then :func:`~dockyard.compose.profiles.enable_services` for the
services named on their command line, :func:`~dockyard.compose.graph.startup_order` for the
order, and :func:`~dockyard.compose.output.to_yaml` for ``compose config``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from dockyard.compose import normalize
from dockyard.compose.canonical import canonical_resources, canonical_service
from dockyard.compose.directives import Directives, split_directives
from dockyard.compose.dotenv import project_environment, read_env_file
from dockyard.compose.extends import apply_extends
from dockyard.compose.files import STDIN, project_name, resolve_files
from dockyard.compose.graph import startup_order
from dockyard.compose.interpolate import interpolate_tree
from dockyard.compose.merge import merge_resources, merge_service
from dockyard.compose.model import Network, Project
from dockyard.compose.output import to_yaml
from dockyard.compose.problems import LocatedError, invalid, join, with_line
from dockyard.compose.profiles import active_profiles, apply_profiles, enable_services
from dockyard.compose.schema import IGNORED_SERVICE_KEYS, check_file
from dockyard.compose.validate import check_enabled_dependencies, check_references
from dockyard.compose.yamlfile import key_lines, parse_yaml

__all__ = ["LoadOptions", "enable_services", "load", "startup_order", "to_yaml"]


@dataclass
class LoadOptions:
    files: list[str] = field(default_factory=list)  # -f, in order; empty: discovered in project_dir
    project_name: str | None = None  # -p, else COMPOSE_PROJECT_NAME, else the file's `name:`, else the folder
    project_dir: str | None = None  # --project-directory, else the first file's folder, else the cwd
    env_files: list[str] = field(default_factory=list)  # --env-file; empty: <project_dir>/.env if present
    profiles: list[str] = field(default_factory=list)  # --profile, plus COMPOSE_PROFILES
    environ: Mapping[str, str] = field(default_factory=dict)  # the process environment
    stdin: TextIO | None = None  # what `-f -` reads; None: sys.stdin


@dataclass
class _Model:
    """What one file (with its includes) contributes, in long syntax."""

    name: str | None = None
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)  # service -> the file to name in its errors


class _Reader:
    def __init__(
        self, options: LoadOptions, cwd: str, env: Mapping[str, str], lines: dict[str, dict[str, int]]
    ) -> None:
        self.options, self.cwd, self.env = options, cwd, env
        self.warnings: list[str] = []
        self.extended: dict[str, tuple[dict[str, dict[str, Any]], str]] = {}
        self.lines = lines  # display name -> key path -> line, for errors

    def display(self, path: str) -> str:
        if path == STDIN:
            return "stdin"
        rel = os.path.relpath(path, self.cwd)
        return path if rel.startswith("..") else rel

    def document(self, path: str, env: Mapping[str, str]) -> tuple[dict[str, Any], str, Directives]:
        display = self.display(path)
        if path == STDIN:
            text = (self.options.stdin or sys.stdin).read()
        else:
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                raise invalid(display, "", f"cannot read: {e.strerror}") from None
            except UnicodeDecodeError:
                raise invalid(display, "", "not UTF-8 text") from None
        document = parse_yaml(text, display)
        self.lines[display] = key_lines(text)
        raw, directives = split_directives(document, display)
        if isinstance(raw, dict):
            raw = interpolate_tree(raw, env, display, self.warnings.append)
        check_file(raw, display)
        if "version" in raw:
            self.warnings.append(f"{display}: the top-level version is obsolete and ignored")
        for name, svc in (raw.get("services") or {}).items():
            for key in IGNORED_SERVICE_KEYS:
                if key in (svc or {}):
                    line = self.lines[display].get(f"services.{name}.{key}")
                    where = f"{display}:{line}" if line else display
                    self.warnings.append(
                        f"{where}: services.{name}.{key} is not supported by dockyard: ignored"
                    )
        return raw, display, directives

    def model(self, path: str, base_dir: str, env: Mapping[str, str], stack: tuple[str, ...]) -> _Model:
        """One file in long syntax, its ``include`` entries merged in, ``extends`` not yet applied."""
        raw, display, directives = self.document(path, env)
        out = _Model(name=raw.get("name"))
        for i, entry in enumerate(raw.get("include") or []):
            included = self.include(entry, base_dir, display, join("include", i), (*stack, path))
            for name, svc in included.services.items():
                out.services[name] = svc
                out.origin[name] = included.origin[name]
            out.resources = merge_resources(out.resources, included.resources)
        for name, svc in (raw.get("services") or {}).items():
            if name.startswith("x-"):
                continue
            if name in out.origin and out.origin[name] != display:
                raise invalid(
                    display,
                    f"services.{name}",
                    f"conflicts with the service of the same name included from {out.origin[name]}",
                )
            out.services[name] = {
                **canonical_service(name, svc, display, base_dir),
                **directives.get(name, {}),
            }
            out.origin[name] = display
        out.resources = merge_resources(out.resources, canonical_resources(raw, display, base_dir))
        return out

    def include(self, entry: Any, base_dir: str, display: str, at: str, stack: tuple[str, ...]) -> _Model:
        """An ``include`` entry: a project of its own (paths relative to its folder), extended, merged."""
        spec = {"path": entry} if isinstance(entry, str) else dict(entry)
        paths = [spec["path"]] if isinstance(spec["path"], str) else list(spec["path"])
        paths = [os.path.normpath(os.path.join(base_dir, p)) for p in paths]
        for p in paths:
            if p in stack:
                raise invalid(display, at, f"include loops back to {self.display(p)}")
            if not os.path.isfile(p):
                raise invalid(display, at, f"included file {p} not found")
        folder = os.path.normpath(
            os.path.join(base_dir, spec.get("project_directory") or os.path.dirname(paths[0]))
        )
        env_files = spec.get("env_file")
        env_paths = [env_files] if isinstance(env_files, str) else list(env_files or [])
        env: dict[str, str] = {}
        for e in [os.path.join(base_dir, p) for p in env_paths] or [os.path.join(folder, ".env")]:
            if env_paths or os.path.isfile(e):
                env.update(read_env_file(e, display, {**env, **self.options.environ}))
        env.update(self.env)
        merged = _Model()
        for p in paths:
            merged = _merge_models(merged, self.model(p, folder, env, stack))
        merged.services = self.resolve_extends(merged)
        return merged

    def resolve_extends(self, m: _Model) -> dict[str, dict[str, Any]]:
        return apply_extends(m.services, lambda name: m.origin.get(name, "?"), self.extended_file)

    def extended_file(self, path: str) -> tuple[dict[str, dict[str, Any]], str]:
        """The services of a file named by ``extends: {file: ...}``; its paths relative to its folder."""
        if path not in self.extended:
            if not os.path.isfile(path):
                raise invalid(self.display(path), "", "the file named by extends is not found")
            m = self.model(path, os.path.dirname(path), self.env, ())
            self.extended[path] = (m.services, self.display(path))
        return self.extended[path]


def _merge_models(base: _Model, over: _Model) -> _Model:
    services = dict(base.services)
    for name, svc in over.services.items():
        services[name] = merge_service(services[name], svc) if name in services else svc
    return _Model(
        name=over.name or base.name,
        services=services,
        resources=merge_resources(base.resources, over.resources),
        origin={**base.origin, **over.origin},
    )


def load(options: LoadOptions) -> Project:
    """The project of ``options``' files. Raises InvalidArgument (a
    :class:`~dockyard.compose.problems.LocatedError` for a problem inside a file: its file, line
    and key path are attributes too)."""
    lines: dict[str, dict[str, int]] = {}  # filled as files are read
    try:
        return _load(options, lines)
    except LocatedError as e:
        raise with_line(e, lines) from None


def _load(options: LoadOptions, lines: dict[str, dict[str, int]]) -> Project:
    cwd = os.getcwd()
    environ = dict(options.environ)
    first_dir = os.path.abspath(options.project_dir or cwd)
    env_files = [os.path.abspath(p) for p in options.env_files]
    # COMPOSE_FILE may come from the .env of the folder Compose starts in, before files are known.
    early_env = project_environment(env_files, os.path.join(first_dir, ".env"), environ)
    files = resolve_files(options.files, cwd, early_env, first_dir)
    if options.project_dir:
        project_dir = first_dir
    else:
        project_dir = cwd if files[0] == STDIN else os.path.dirname(files[0])
    env = (
        early_env
        if project_dir == first_dir
        else project_environment(env_files, os.path.join(project_dir, ".env"), environ)
    )

    reader = _Reader(options, cwd, env, lines)
    merged = _Model()
    for path in files:
        merged = _merge_models(merged, reader.model(path, project_dir, env, ()))
    services = reader.resolve_extends(merged)

    name = project_name(options.project_name, env, merged.name, project_dir)
    project = Project(
        name=name,
        working_dir=project_dir,
        config_files=[f if f != STDIN else "-" for f in files],
        environment=dict(env),
    )
    for svc_name, svc in services.items():
        project.services[svc_name] = normalize.service(svc_name, svc, merged.origin.get(svc_name, "?"), env)
    res = merged.resources
    for key, item in res.get("networks", {}).items():
        project.networks[key] = normalize.network(name, key, item)
    project.networks.setdefault("default", Network(name=f"{name}_default"))
    for key, item in res.get("volumes", {}).items():
        project.volumes[key] = normalize.volume(name, key, item)
    for key, item in res.get("configs", {}).items():
        project.configs[key] = normalize.file_object(name, key, item)
    for key, item in res.get("secrets", {}).items():
        project.secrets[key] = normalize.file_object(name, key, item)

    def display_of(service: str) -> str:
        return merged.origin.get(service, reader.display(files[0]))

    check_references(project, display_of)
    apply_profiles(project, active_profiles(options.profiles, env))
    check_enabled_dependencies(project, display_of)
    project.warnings = reader.warnings
    return project
