"""Checks across the merged project: every reference names something declared, no dependency loop.

The shape of each file was checked when it was read (schema.py); these checks need all the
files merged and ``extends`` applied. Errors name the file that defined the service last.
"""

from __future__ import annotations

from collections.abc import Callable

from dockyard.compose.graph import find_cycle
from dockyard.compose.model import Project, Service
from dockyard.compose.problems import invalid, suggest


def check_references(project: Project, display_of: Callable[[str], str]) -> None:
    """Raise InvalidArgument at the first reference to an undeclared service, network, volume,
    config or secret, or at a dependency loop. Looks at enabled and disabled services alike."""
    everything: dict[str, Service] = {**project.services, **project.disabled}
    for name in sorted(everything):
        svc, file, at = everything[name], display_of(name), f"services.{name}"
        mode = svc.network_mode or ""
        if svc.image is None and svc.build is None:
            raise invalid(file, at, "has neither an image nor a build: add image: or build:")
        if mode.startswith("service:") and mode[8:] not in everything:
            raise invalid(
                file, f"{at}.network_mode", f'unknown service "{mode[8:]}"{suggest(mode[8:], everything)}'
            )
        for dep in svc.depends_on:
            if dep not in everything:
                raise invalid(
                    file,
                    f"{at}.depends_on",
                    f'unknown service "{dep}"{suggest(dep, everything)}: '
                    f"the project has {', '.join(sorted(everything))}",
                )
        if svc.container_name and svc.replicas() > 1:
            raise invalid(
                file,
                f"{at}.container_name",
                f'"{svc.container_name}" cannot name {svc.replicas()} replicas: '
                "container names are unique, drop container_name or run one replica",
            )
        if mode and svc.networks:
            raise invalid(file, at, f'network_mode "{mode}" and networks cannot be used together: keep one')
        for net in svc.networks:
            if net not in project.networks:
                raise invalid(
                    file,
                    f"{at}.networks",
                    f'network "{net}" is not declared{suggest(net, project.networks)}: '
                    "add it under the top-level networks:",
                )
        for i, mount in enumerate(svc.volumes):
            if mount.type == "volume" and mount.source and mount.source not in project.volumes:
                raise invalid(
                    file,
                    f"{at}.volumes[{i}]",
                    f'volume "{mount.source}" is not declared{suggest(mount.source, project.volumes)}: '
                    f"add it under the top-level volumes:, or write ./{mount.source} for a folder",
                )
        for kind, uses, declared in (
            ("config", svc.configs, project.configs),
            ("secret", svc.secrets, project.secrets),
        ):
            for i, use in enumerate(uses):
                if use.source not in declared:
                    raise invalid(
                        file,
                        f"{at}.{kind}s[{i}]",
                        f'{kind} "{use.source}" is not declared{suggest(use.source, declared)}: '
                        f"add it under the top-level {kind}s:",
                    )
    cycle = find_cycle(everything)
    if cycle:
        raise invalid(
            display_of(cycle[0]), f"services.{cycle[0]}.depends_on", f"dependency cycle: {' -> '.join(cycle)}"
        )


def check_enabled_dependencies(project: Project, display_of: Callable[[str], str]) -> None:
    """An enabled service must not need one that its profiles leave out (unless ``required: false``)."""
    for name in sorted(project.services):
        for dep, how in project.services[name].depends_on.items():
            if dep in project.disabled and how.required:
                profiles = ", ".join(project.disabled[dep].profiles)
                raise invalid(
                    display_of(name),
                    f"services.{name}.depends_on",
                    f'service "{dep}" is not enabled (its profiles: {profiles}): enable one with --profile '
                    "or COMPOSE_PROFILES, or mark the dependency required: false",
                )
