"""Merging Compose files (and ``extends``), on the long syntax, as compose-go's override rules:

- mappings merge key by key, the later file winning on scalars;
- ``command``, ``entrypoint`` and ``healthcheck.test`` are replaced whole;
- ``ports`` are merged by (host_ip, published, target, protocol), ``volumes`` by target,
  ``configs``/``secrets`` by target, ``env_file`` by path: a later entry with the same key
  replaces the earlier one in place;
- ``environment``, ``labels``, ``networks``, ``depends_on``, ``ulimits``, ``build.args`` are
  mappings (canonical.py made them so) and merge by key; an ulimit is replaced whole;
- ``logging`` merges its options when the driver is the same (or unset), else is replaced;
- other lists (``cap_add``, ``dns``, ``expose``, ``profiles``, ...) are appended, without
  duplicates;
- a key tagged ``!reset`` is removed, one tagged ``!override`` replaced whole (directives.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.compose.directives import OVERRIDE, RESET
from dockyard.compose.ports import port_key

_REPLACED = {"command", "entrypoint", "healthcheck.test", "ulimits.*"}

_KEYED: dict[str, Callable[[dict[str, Any]], Any]] = {
    "ports": port_key,
    "volumes": lambda m: m["target"],
    "configs": lambda u: u["target"],
    "secrets": lambda u: u["target"],
    "env_file": lambda e: e["path"],
}


def _keyed_merge(base: list[Any], over: list[Any], key: Callable[[Any], Any]) -> list[Any]:
    out = list(base)
    index = {key(item): i for i, item in enumerate(out)}
    for item in over:
        k = key(item)
        if k in index:
            out[index[k]] = item
        else:
            index[k] = len(out)
            out.append(item)
    return out


def _append_unique(base: list[Any], over: list[Any]) -> list[Any]:
    out = list(base)
    for item in over:
        if item not in out:
            out.append(item)
    return out


def merge_service(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` (a later file's, or the extending service's) on top of ``base``; neither is changed.

    ``over``'s ``!reset`` keys are removed and its ``!override`` keys replace without merging.
    """
    over = dict(over)
    reset = over.pop(RESET, [])
    override = over.pop(OVERRIDE, [])
    base = {
        k: v for k, v in base.items() if k not in reset and k not in override and k not in (RESET, OVERRIDE)
    }
    return _merge(base, over, "")


def _merge(base: dict[str, Any], over: dict[str, Any], path: str) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        sub = f"{path}.{key}" if path else key
        wildcard = f"{path}.*" if path else "*"
        if key not in out or sub in _REPLACED or wildcard in _REPLACED:
            out[key] = value
            continue
        old = out[key]
        if sub == "logging":
            same = (
                not value.get("driver") or not old.get("driver") or value.get("driver") == old.get("driver")
            )
            out[key] = _merge(old, value, sub) if same else value
        elif isinstance(old, dict) and isinstance(value, dict):
            out[key] = _merge(old, value, sub)
        elif isinstance(old, list) and isinstance(value, list):
            keyer = _KEYED.get(sub)
            out[key] = _keyed_merge(old, value, keyer) if keyer else _append_unique(old, value)
        else:
            out[key] = value
    return out


def merge_resources(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Top-level networks/volumes/configs/secrets: by key, each entry's fields merged."""
    out = {section: dict(entries) for section, entries in base.items()}
    for section, entries in over.items():
        target = out.setdefault(section, {})
        for key, value in entries.items():
            target[key] = _merge(target[key], value, "") if key in target else value
    return out
