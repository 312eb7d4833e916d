"""The order of services: ``depends_on`` as a graph, started dependencies first.

A cycle is an error naming it (``web -> api -> web``). ``levels`` groups services that may
start together; ``order`` flattens them (names sorted within a level, so runs are repeatable).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dockyard.compose.model import Service
from dockyard.errors import InvalidArgument


class DependencyCycle(InvalidArgument):
    pass


def _deps(services: Mapping[str, Service], name: str) -> list[str]:
    service = services[name]
    deps = [d for d in service.depends_on if d in services]
    mode = service.network_mode or ""
    if mode.startswith("service:") and mode[8:] in services:
        deps.append(mode[8:])
    return deps


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


def find_cycle(services: Mapping[str, Service]) -> list[str] | None:
    """A cycle as the path that closes it (``["a", "b", "a"]``), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for dep in sorted(_deps(services, name)):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[name] = 2
        return None

    for name in sorted(services):
        if name not in state:
            found = visit(name)
            if found:
                return found
    return None


def levels(services: Mapping[str, Service]) -> list[list[str]]:
    cycle = find_cycle(services)
    if cycle:
        raise DependencyCycle(
            "dependency cycle between services: " + " -> ".join(cycle) + ": remove one of these depends_on"
        )
    placed: dict[str, int] = {}

    def level(name: str) -> int:
        if name not in placed:
            placed[name] = 1 + max((level(d) for d in _deps(services, name)), default=-1)
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
        stack.extend(_deps(services, name))
    return [name for name in order(services) if name in seen]
