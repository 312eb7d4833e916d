"""Compose v2's merge tags on a service's keys: ``ports: !reset []`` drops what earlier files
(or the extended service) set; ``ports: !override [...]`` replaces it instead of merging.

They are taken out of the document before it is interpolated and checked, and come back as two
marker keys of the canonical service (``RESET``, ``OVERRIDE``: key lists) that merge.py obeys.
"""

from __future__ import annotations

from typing import Any

from dockyard.compose.problems import invalid, join
from dockyard.compose.yamlfile import Override, Reset

RESET = "!reset"
OVERRIDE = "!override"

Directives = dict[str, dict[str, list[str]]]  # service -> {RESET: [key, ...], OVERRIDE: [key, ...]}


def split_directives(document: Any, file: str) -> tuple[Any, Directives]:
    """The document with the tags removed (reset keys dropped, overridden values unwrapped)."""
    found: Directives = {}
    if not isinstance(document, dict):
        return document, found
    services = document.get("services")
    out = dict(document)
    if isinstance(services, dict):
        clean_services: dict[Any, Any] = {}
        for name, svc in services.items():
            if not isinstance(svc, dict):
                clean_services[name] = svc
                continue
            clean: dict[Any, Any] = {}
            for key, value in svc.items():
                if isinstance(value, Reset):
                    found.setdefault(name, {}).setdefault(RESET, []).append(key)
                elif isinstance(value, Override):
                    found.setdefault(name, {}).setdefault(OVERRIDE, []).append(key)
                    clean[key] = value.value
                else:
                    clean[key] = value
            clean_services[name] = clean
        out["services"] = clean_services
    _refuse_elsewhere(out, file, "")
    return out, found


def _refuse_elsewhere(value: Any, file: str, path: str) -> None:
    if isinstance(value, Reset | Override):
        raise invalid(
            file, path, f"{value!r:.9}: dockyard supports !reset and !override on a service's keys only"
        )
    if isinstance(value, dict):
        for k, v in value.items():
            _refuse_elsewhere(v, file, join(path, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _refuse_elsewhere(v, file, join(path, i))
