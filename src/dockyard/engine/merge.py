"""A create request's Config merged with its image's config, as dockerd's merge() does.

The rules (moby daemon/create.go, merge):

- Entrypoint and Cmd: an Entrypoint in the request replaces the image's and drops the image's
  Cmd; with neither in the request, both come from the image; a Cmd alone keeps the image's
  Entrypoint. ``--entrypoint ""`` arrives as ``[""]``: an explicitly empty entrypoint, which
  also drops the image's Cmd.
- Env: the image's variables, each replaced by a request variable of the same name, then the
  request's new ones (order kept).
- Labels, ExposedPorts, Volumes: the union, the request winning on a key.
- WorkingDir, User, StopSignal, Hostname, Domainname, Shell: the request's, else the image's.
- Healthcheck: the request's; an empty Test inherits the image's Test, zero durations and
  retries inherit the image's values.
"""

from __future__ import annotations

import copy
from typing import Any

from dockyard.errors import InvalidArgument

CONFIG_FIELDS: dict[str, Any] = {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": None,
    "Cmd": None,
    "Image": "",
    "Volumes": None,
    "WorkingDir": "",
    "Entrypoint": None,
    "OnBuild": None,
    "Labels": None,
}
# Present in inspect only when set (omitempty).
OPTIONAL_FIELDS = (
    "ExposedPorts",
    "Healthcheck",
    "StopSignal",
    "StopTimeout",
    "ArgsEscaped",
    "Shell",
    "MacAddress",
)

_STRING_LISTS = ("Env", "Cmd", "Entrypoint", "OnBuild", "Shell")


def _as_list(config: dict[str, Any], key: str) -> list[str] | None:
    """Docker's StrSlice: a JSON string is a one-element list; null stays null."""
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"invalid Config.{key} {value!r}: use a list of strings")
    return list(value)


def normalise_request(raw: dict[str, Any]) -> dict[str, Any]:
    """The request's Config with types checked and every field inspect shows present."""
    config = copy.deepcopy(CONFIG_FIELDS)
    for key, value in raw.items():
        if key == "HostConfig" or key == "NetworkingConfig":
            continue
        if key in CONFIG_FIELDS or key in OPTIONAL_FIELDS:
            config[key] = value
    for key in _STRING_LISTS:
        if key in config:
            config[key] = _as_list(config, key)
    for key in ("Tty", "OpenStdin", "StdinOnce", "AttachStdin", "AttachStdout", "AttachStderr"):
        if not isinstance(config.get(key) or False, bool):
            raise InvalidArgument(f"invalid Config.{key} {config[key]!r}: use true or false")
        config[key] = bool(config.get(key))
    for key in ("Hostname", "Domainname", "User", "WorkingDir", "Image"):
        if config.get(key) is None:
            config[key] = ""
        if not isinstance(config[key], str):
            raise InvalidArgument(f"invalid Config.{key} {config[key]!r}: use a string")
    for key in ("Labels", "Volumes", "ExposedPorts"):
        value = config.get(key)
        if value is not None and not isinstance(value, dict):
            raise InvalidArgument(f"invalid Config.{key} {value!r}: use a JSON object")
    for entry in config.get("Env") or []:
        if entry.startswith("="):
            raise InvalidArgument(f"invalid environment variable: {entry}")
    if config.get("WorkingDir") and not config["WorkingDir"].startswith("/"):
        raise InvalidArgument(
            f"the working directory '{config['WorkingDir']}' is invalid, it needs to be an absolute path"
        )
    return config


def env_key(entry: str) -> str:
    return entry.split("=", 1)[0]


def merge_env(base: list[str] | None, override: list[str] | None) -> list[str] | None:
    """base with each variable of override replacing the same name, then override's new ones."""
    if not base:
        return list(override) if override is not None else (None if base is None else [])
    out = list(base)
    index = {env_key(e): i for i, e in enumerate(out)}
    for entry in override or []:
        key = env_key(entry)
        if key in index:
            out[index[key]] = entry
        else:
            index[key] = len(out)
            out.append(entry)
    return out


def merge(config: dict[str, Any], image_config: dict[str, Any] | None) -> dict[str, Any]:
    """``config`` (normalised request) merged with the image's ``config`` object, in place."""
    image = image_config or {}
    entrypoint = config.get("Entrypoint")
    if entrypoint == [""]:
        config["Entrypoint"] = None
        explicit_empty = True
    else:
        explicit_empty = False
    if not entrypoint:
        if not config.get("Cmd") and not explicit_empty:
            config["Cmd"] = copy.deepcopy(image.get("Cmd"))
            if "ArgsEscaped" in image:
                config["ArgsEscaped"] = image["ArgsEscaped"]
        if entrypoint is None:
            config["Entrypoint"] = copy.deepcopy(image.get("Entrypoint"))
    config["Env"] = merge_env(image.get("Env"), config.get("Env"))
    for key in ("Labels", "ExposedPorts", "Volumes"):
        theirs = image.get(key) or {}
        ours = config.get(key) or {}
        if theirs or ours:
            config[key] = {**theirs, **ours}
        elif key == "Labels":
            config[key] = {}
    for key in ("WorkingDir", "User", "StopSignal", "Domainname", "Shell"):
        if not config.get(key) and image.get(key):
            config[key] = copy.deepcopy(image[key])
    if config.get("OnBuild") is None and image.get("OnBuild"):
        config["OnBuild"] = None  # ONBUILD triggers run at build time, never in a container
    config["Healthcheck"] = merge_healthcheck(config.get("Healthcheck"), image.get("Healthcheck"))
    if config["Healthcheck"] is None:
        config.pop("Healthcheck")
    return config


def merge_healthcheck(ours: dict[str, Any] | None, theirs: dict[str, Any] | None) -> dict[str, Any] | None:
    if ours is None:
        return copy.deepcopy(theirs) if theirs else None
    if theirs is None:
        return ours
    merged = dict(ours)
    if not merged.get("Test"):
        merged["Test"] = theirs.get("Test")
    for key in ("Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"):
        if not merged.get(key) and theirs.get(key):
            merged[key] = theirs[key]
    return merged


def command(config: dict[str, Any]) -> tuple[str, list[str]]:
    """(Path, Args) as inspect shows them: the entrypoint's first word, then the rest and Cmd."""
    entrypoint = config.get("Entrypoint") or []
    cmd = config.get("Cmd") or []
    words = list(entrypoint) + list(cmd)
    if not words:
        raise InvalidArgument("No command specified")
    return words[0], words[1:]
