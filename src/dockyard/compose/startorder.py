"""The order of services: ``depends_on`` as a graph, started dependencies first.

A cycle is an error naming it (``web -> api -> web``). ``levels`` groups services that may
start together; ``order`` flattens them (names sorted within a level, so runs are repeatable).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dockyard.compose.graph import find_cycle, service_dependencies
from dockyard.compose.model import Service
from dockyard.errors import InvalidArgument


class DependencyCycle(InvalidArgument):
    pass


def check_references(services: Mapping[str, Service], disabled: Iterable[str] = ()) -> None:
    off = set(disabled)
    for name, service in sorted(services.items()):
        for dep, spec in sorted(service.depends_on.items()):
            if dep in services:
                continue
            if dep in off and not spec.required:
                continue
            where = "is not enabled (its profile is not active)" if dep in off else "is not defined"
            raise InvalidArgument(
                f'service "{name}" depends on "{dep}", which {where}: define it, enable its profile '
                "or remove it from depends_on"
            )


def levels(services: Mapping[str, Service]) -> list[list[str]]:
    cycle = find_cycle(services)
    if cycle:
        raise DependencyCycle(
            "dependency cycle between services: " + " -> ".join(cycle) + ": remove one of these depends_on"
        )
    placed: dict[str, int] = {}

    def level(name: str) -> int:
        if name not in placed:
            placed[name] = 1 + max((level(d) for d in service_dependencies(services, name)), default=-1)
        return placed[name]

    out: list[list[str]] = []
    for name in services:
        n = level(name)
        while len(out) <= n:
            out.append([])
        out[n].append(name)
    return [sorted(group) for group in out]


def order(services: Mapping[str, Service]) -> list[str]:
    return [name for group in levels(services) for name in group]


def with_dependencies(services: Mapping[str, Service], wanted: Iterable[str]) -> list[str]:
    """``wanted`` and everything they depend on, transitively."""
    seen: set[str] = set()
    stack = list(wanted)
    while stack:
        name = stack.pop()
        if name in seen or name not in services:
            continue
        seen.add(name)
        stack.extend(service_dependencies(services, name))
    return [name for name in order(services) if name in seen]


def with_restart_dependents(services: Mapping[str, Service], wanted: Iterable[str]) -> list[str]:
    """``wanted`` and, transitively, the services that depend on one of them with
    ``depends_on: {<it>: {restart: true}}``: Compose restarts those with their dependency."""
    seen: set[str] = set()
    stack = [name for name in wanted if name in services]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(
            other
            for other, s in services.items()
            if (dep := s.depends_on.get(name)) is not None and dep.restart
        )
    return [name for name in order(services) if name in seen]
