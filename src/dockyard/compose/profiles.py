"""``profiles``: services that exist only when one of their profiles is enabled.

A service without ``profiles`` is always enabled; one with profiles is enabled by ``--profile``
or ``COMPOSE_PROFILES`` naming one of them (``*`` enables all), or by being targeted on the
command line (``up svc``, ``run svc``): the commands call :func:`enable_services` for that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dockyard.compose.graph import dependencies
from dockyard.compose.model import Project
from dockyard.errors import InvalidArgument


def active_profiles(flags: Iterable[str], environ: Mapping[str, str]) -> set[str]:
    """--profile values plus COMPOSE_PROFILES (comma separated)."""
    out = {p.strip() for p in flags if p.strip()}
    out |= {p.strip() for p in environ.get("COMPOSE_PROFILES", "").split(",") if p.strip()}
    return out


def apply_profiles(project: Project, profiles: set[str]) -> None:
    """Move the services of profiles not enabled into ``project.disabled``."""
    for name in list(project.services):
        service = project.services[name]
        if service.profiles and "*" not in profiles and not profiles & set(service.profiles):
            project.disabled[name] = project.services.pop(name)


def enable_services(project: Project, names: Iterable[str]) -> None:
    """Enable the named services (targeted on the command line) and what they depend on.

    Raises InvalidArgument for a name that is no service of the project.
    """
    names = list(names)
    for name in names:
        if name not in project.services and name not in project.disabled:
            known = ", ".join(sorted({*project.services, *project.disabled}))
            raise InvalidArgument(f'no such service: "{name}" (the project has: {known})')
    for name in dependencies(project, names):
        if name in project.disabled:
            project.services[name] = project.disabled.pop(name)
