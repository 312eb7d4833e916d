"""``extends``: a service built on another one, of the same file or of another file.

The base service is resolved first (it may extend a third), then the extending service is
merged on top with the same rules as a later file (merge.py). A service of another file is read
with that file's folder as the base of its relative paths (canonical.py did that when it read
the file). A loop (a extends b extends a) is an error naming the chain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.compose.merge import merge_service
from dockyard.compose.problems import invalid

Services = dict[str, dict[str, Any]]
#: Reads another Compose file: its canonical services and the name to show in errors.
FileReader = Callable[[str], tuple[Services, str]]


class _Resolver:
    def __init__(self, read_file: FileReader) -> None:
        self.read_file = read_file
        self.done: dict[tuple[str, str], dict[str, Any]] = {}

    def resolve(
        self, name: str, services: Services, scope: str, display: str, stack: list[tuple[str, str, str]]
    ) -> dict[str, Any]:
        """``scope`` tells files apart ("" for the project's merged files, else the file's path)."""
        key = (scope, name)
        if key in self.done:
            return self.done[key]
        service = services[name]
        ext = service.get("extends")
        if ext is None:
            return service
        if any((s, n) == key for s, n, _ in stack):
            chain = " -> ".join([n for _, n, _ in stack] + [name])
            raise invalid(display, f"services.{stack[0][1]}.extends", f"extends loops: {chain}")
        target = ext.get("file")
        if target:
            base_services, base_display = self.read_file(target)
            base_scope = target
        else:
            base_services, base_display, base_scope = services, display, scope
        base_name = ext["service"]
        if base_name not in base_services:
            where = f" in {base_display}" if target else ""
            raise invalid(display, f"services.{name}.extends", f'no service "{base_name}" to extend{where}')
        base = self.resolve(
            base_name, base_services, base_scope, base_display, [*stack, (scope, name, display)]
        )
        base = {k: v for k, v in base.items() if k != "extends"}
        own = {k: v for k, v in service.items() if k != "extends"}
        merged = merge_service(base, own)
        self.done[key] = merged
        return merged


def apply_extends(services: Services, display_of: Callable[[str], str], read_file: FileReader) -> Services:
    """The services with every ``extends`` resolved; ``display_of(service)`` names its file for errors."""
    resolver = _Resolver(read_file)
    return {name: resolver.resolve(name, services, "", display_of(name), []) for name in services}
