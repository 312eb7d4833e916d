"""The services' dependency graph: cycles (named), and the order to start them in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dockyard.compose.model import Project, Service


def service_dependencies(services: Mapping[str, Service], name: str) -> list[str]:
    """What ``name`` needs started first, among ``services``: its depends_on, and the service whose
    network it shares (``network_mode: service:<x>``; the loader also adds that to depends_on)."""
    service = services[name]
    deps = [d for d in service.depends_on if d in services]
    mode = service.network_mode or ""
    if mode.startswith("service:") and mode[8:] in services and mode[8:] not in deps:
        deps.append(mode[8:])
    return deps


def find_cycle(services: Mapping[str, Service]) -> list[str] | None:
    """A dependency loop as ["a", "b", "a"], or None. Dependencies on unknown services are skipped."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for dep in sorted(service_dependencies(services, name)):
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


def dependencies(project: Project, names: Iterable[str]) -> set[str]:
    """``names`` and every service they depend on, transitively (enabled or not)."""
    everything = {**project.disabled, **project.services}
    out: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in out or name not in everything:
            continue
        out.add(name)
        todo.extend(everything[name].depends_on)
    return out


def startup_order(project: Project, names: Iterable[str] | None = None) -> list[str]:
    """Enabled services (all, or ``names`` and their dependencies), dependencies first.

    Ties are broken by name, so the order is stable. ``down``/``stop`` use the reverse.
    """
    wanted = dependencies(project, names) if names is not None else set(project.services)
    wanted &= set(project.services)
    order: list[str] = []
    placed: set[str] = set()

    def place(name: str) -> None:
        if name in placed:
            return
        placed.add(name)
        for dep in sorted(project.services[name].depends_on):
            if dep in wanted:
                place(dep)
        order.append(name)

    for name in sorted(wanted):
        place(name)
    return order
