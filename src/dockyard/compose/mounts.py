"""Volume short syntax to long: ``[SOURCE:]TARGET[:OPTIONS]``.

The source is a host path (bind) when it starts with ``.``, ``/`` or ``~``, else the key of a
top-level volume; a lone TARGET is an anonymous volume. OPTIONS is a comma list of ``ro``/``rw``,
``z``/``Z`` (SELinux relabel), ``nocopy``, a bind propagation, or a consistency (ignored on
Linux). Short-syntax binds create a missing host folder (Compose's legacy behaviour, kept by the
spec); long-syntax binds only with ``bind.create_host_path: true``.
"""

from __future__ import annotations

import os
from typing import Any

from dockyard.compose.schema import BOOL_STRINGS
from dockyard.compose.units import parse_size

_PROPAGATIONS = ("shared", "rshared", "slave", "rslave", "private", "rprivate")
_CONSISTENCY = ("cached", "delegated", "consistent", "default")


def resolve_host_path(path: str, base_dir: str) -> str:
    """Absolute host path: ``~`` expanded, relative paths against ``base_dir`` (the project folder)."""
    if path.startswith("~"):
        path = os.path.expanduser(path)
    return os.path.normpath(os.path.join(base_dir, path))


def is_host_path(source: str) -> bool:
    return source.startswith((".", "/", "~"))


def _check_target(target: str) -> None:
    if not target.startswith("/"):
        raise ValueError(f"the target {target!r} must be an absolute path in the container")


def parse_volume(spec: str, base_dir: str) -> dict[str, Any]:
    """The long-syntax mount of a short entry. Raises ValueError with the reason."""
    parts = spec.split(":")
    if len(parts) > 3 or not all(parts[:2]):
        raise ValueError("use [SOURCE:]TARGET[:OPTIONS], e.g. data:/var/lib/data or ./src:/app:ro")
    if len(parts) == 1:
        _check_target(parts[0])
        return {"type": "volume", "target": parts[0]}
    source, target = parts[0], parts[1]
    _check_target(target)
    options = [o for o in parts[2].split(",")] if len(parts) == 3 else []
    bind = is_host_path(source)
    mount: dict[str, Any] = {"type": "bind" if bind else "volume", "target": target}
    mount["source"] = resolve_host_path(source, base_dir) if bind else source
    bind_opts: dict[str, Any] = {"create_host_path": True} if bind else {}
    for option in options:
        if option in ("ro", "rw"):
            mount["read_only"] = option == "ro"
        elif option in ("z", "Z") and bind:
            bind_opts["selinux"] = option
        elif option in _PROPAGATIONS and bind:
            bind_opts["propagation"] = option
        elif option == "nocopy" and not bind:
            mount["volume"] = {"nocopy": True}
        elif option in _CONSISTENCY:
            continue  # a Docker Desktop (osxfs) hint; Linux binds have nothing to tune
        else:
            kinds = "ro, rw, z, Z, or a propagation" if bind else "ro, rw or nocopy"
            raise ValueError(f"unknown option {option!r} for a {'bind' if bind else 'volume'}: use {kinds}")
    if bind_opts:
        mount["bind"] = bind_opts
    return mount


def long_volume(entry: dict[str, Any], base_dir: str) -> dict[str, Any]:
    """A long-syntax mount checked, host paths resolved. Raises ValueError."""
    kind = entry["type"]
    if kind not in ("volume", "bind", "tmpfs"):
        raise ValueError(f"unsupported type {kind!r}: use volume, bind or tmpfs")
    target = entry.get("target")
    if not target:
        raise ValueError('"target" is required')
    _check_target(target)
    mount: dict[str, Any] = {"type": kind, "target": target}
    source = entry.get("source")
    if kind == "bind":
        if not source:
            raise ValueError('a bind needs a "source" host path')
        mount["source"] = resolve_host_path(source, base_dir)
    elif kind == "volume" and source:
        mount["source"] = source
    elif kind == "tmpfs" and source:
        raise ValueError("a tmpfs mount takes no source")
    if "read_only" in entry:
        mount["read_only"] = _bool(entry["read_only"])
    if kind == "bind":
        bind = dict(entry.get("bind") or {})
        out: dict[str, Any] = {"create_host_path": _bool(bind.get("create_host_path", False))}
        if bind.get("propagation"):
            if bind["propagation"] not in _PROPAGATIONS:
                raise ValueError(
                    f"unknown propagation {bind['propagation']!r}: use one of {', '.join(_PROPAGATIONS)}"
                )
            out["propagation"] = bind["propagation"]
        if bind.get("selinux"):
            if bind["selinux"] not in ("z", "Z"):
                raise ValueError(f"unknown selinux option {bind['selinux']!r}: use z or Z")
            out["selinux"] = bind["selinux"]
        mount["bind"] = out
    if kind == "volume" and entry.get("volume"):
        mount["volume"] = {"nocopy": _bool(entry["volume"].get("nocopy", False))}
    if kind == "tmpfs" and entry.get("tmpfs"):
        tmpfs = entry["tmpfs"]
        out = {}
        if "size" in tmpfs:
            out["size"] = parse_size(tmpfs["size"])
        if "mode" in tmpfs:
            out["mode"] = parse_mode(tmpfs["mode"])
        mount["tmpfs"] = out
    return mount


def parse_mode(value: Any) -> int:
    """A file mode: YAML's octal int (0440 reads as 288) or a string of octal digits ("0440")."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value), 8)
    except ValueError:
        raise ValueError(f"invalid mode {value!r}: use octal digits such as 0440") from None


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else BOOL_STRINGS[str(value).lower()]
