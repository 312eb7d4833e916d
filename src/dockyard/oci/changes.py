"""``--change`` instructions of ``docker commit`` and ``docker import``, applied to an image config.

Docker accepts CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR (and
STOPSIGNAL, HEALTHCHECK in newer versions); arguments in JSON array form or shell form as in a
Dockerfile. Standard library only.
"""

from __future__ import annotations

import copy
import json
import shlex
from typing import Any

from dockyard.errors import InvalidArgument

ALLOWED = (
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "USER",
    "VOLUME",
    "WORKDIR",
    "STOPSIGNAL",
)


def apply(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """Apply each instruction to a copy of the container ``config`` ({"Cmd": ..., "Env": ...})."""
    out: dict[str, Any] = copy.deepcopy(config)
    for line in changes:
        for sub in line.splitlines():
            if sub.strip():
                _apply_one(out, sub.strip())
    return out


def _apply_one(cfg: dict[str, Any], line: str) -> None:
    word, _, rest = line.partition(" ")
    inst = word.upper()
    rest = rest.strip()
    if inst not in ALLOWED:
        raise InvalidArgument(f"{word} is not a valid change command: use one of {', '.join(ALLOWED)}")
    if inst in ("CMD", "ENTRYPOINT"):
        cfg["Cmd" if inst == "CMD" else "Entrypoint"] = _exec_form(rest)
        if inst == "ENTRYPOINT":
            # Dockerfile semantics: a new ENTRYPOINT resets an inherited CMD.
            cfg["Cmd"] = None
    elif inst == "ENV":
        env = list(cfg.get("Env") or [])
        for key, value in _pairs(rest, inst):
            env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
        cfg["Env"] = env
    elif inst == "LABEL":
        labels = dict(cfg.get("Labels") or {})
        labels.update(dict(_pairs(rest, inst)))
        cfg["Labels"] = labels
    elif inst == "EXPOSE":
        ports = dict(cfg.get("ExposedPorts") or {})
        for p in rest.split():
            ports[p if "/" in p else f"{p}/tcp"] = {}
        cfg["ExposedPorts"] = ports
    elif inst == "VOLUME":
        vols = dict(cfg.get("Volumes") or {})
        for v in _list_or_words(rest):
            vols[v] = {}
        cfg["Volumes"] = vols
    elif inst == "ONBUILD":
        cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), rest]
    elif inst == "USER":
        cfg["User"] = rest
    elif inst == "WORKDIR":
        cfg["WorkingDir"] = rest
    elif inst == "STOPSIGNAL":
        cfg["StopSignal"] = rest


def _exec_form(rest: str) -> list[str]:
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", rest]


def _list_or_words(rest: str) -> list[str]:
    if rest.startswith("["):
        try:
            value = json.loads(rest)
            if isinstance(value, list):
                return [str(v) for v in value]
        except json.JSONDecodeError:
            pass
    return rest.split()


def _pairs(rest: str, inst: str) -> list[tuple[str, str]]:
    """``K=V K2="v 2"`` or the legacy ``K V with spaces`` form."""
    try:
        words = shlex.split(rest)
    except ValueError as e:
        raise InvalidArgument(f"{inst} {rest}: {e}") from None
    if not words:
        raise InvalidArgument(f"{inst} needs at least one argument")
    if "=" not in words[0]:
        key, _, value = rest.partition(" ")
        return [(key, value.strip())]
    out = []
    for w in words:
        key, eq, value = w.partition("=")
        if not eq or not key:
            raise InvalidArgument(f"{inst} {rest}: {w!r} is not KEY=VALUE")
        out.append((key, value))
    return out
