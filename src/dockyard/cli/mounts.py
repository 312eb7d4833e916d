"""``-v``, ``--mount``, ``--tmpfs`` and ``--device`` values to the Engine API's shapes.

``-v SRC:DST[:OPTS]`` (a host path or a volume name) goes to ``HostConfig.Binds`` as the docker
CLI sends it; ``-v /path`` alone is an anonymous volume in ``Config.Volumes``. A source starting
with ``.`` is a path relative to the current folder and is made absolute, as docker 23+ does.
``--mount`` is docker's CSV of ``key=value`` fields, to ``HostConfig.Mounts``.
"""

from __future__ import annotations

import os

from dockyard.cli import units
from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def parse_volume(spec: str) -> tuple[str | None, str | None]:
    """(a ``Binds`` entry, or None; an anonymous volume's path, or None) for one ``-v`` value."""
    parts = spec.split(":")
    if len(parts) == 1:
        if not spec:
            raise InvalidArgument("invalid empty volume spec: use -v [SOURCE:]DESTINATION[:OPTIONS]")
        return None, spec
    if len(parts) > 3 or not parts[0] or not parts[1]:
        raise InvalidArgument(
            f"invalid volume specification: '{spec}': use -v [SOURCE:]DESTINATION[:OPTIONS]"
        )
    source = parts[0]
    if source.startswith("."):
        source = os.path.abspath(source)
    return ":".join([source, *parts[1:]]), None


_TRUE = {"", "1", "true", "True", "TRUE"}
_FALSE = {"0", "false", "False", "FALSE"}


def _bool_field(key: str, value: str | None) -> bool:
    if value is None or value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidArgument(f"invalid value for {key}: {value}")


def parse_mount(spec: str) -> dict[str, Any]:
    """One ``--mount`` value (``type=bind,source=/a,target=/b,readonly``) as a ``Mount`` object."""
    import csv

    try:
        fields = next(csv.reader([spec]))
    except (csv.Error, StopIteration):
        raise InvalidArgument(f"invalid --mount value: {spec}") from None
    mount: dict[str, Any] = {"Type": "volume"}
    bind: dict[str, Any] = {}
    volume: dict[str, Any] = {}
    tmpfs: dict[str, Any] = {}
    for field in fields:
        key, sep, value = field.partition("=")
        key = key.strip().lower()
        val: str | None = value if sep else None
        if key == "type":
            mount["Type"] = value
        elif key in ("source", "src"):
            mount["Source"] = os.path.abspath(value) if value.startswith(".") else value
        elif key in ("target", "destination", "dst"):
            mount["Target"] = value
        elif key in ("readonly", "ro"):
            mount["ReadOnly"] = _bool_field(key, val)
        elif key == "consistency":
            mount["Consistency"] = value
        elif key == "bind-propagation":
            bind["Propagation"] = value
        elif key == "bind-nonrecursive":
            bind["NonRecursive"] = _bool_field(key, val)
        elif key == "volume-nocopy":
            volume["NoCopy"] = _bool_field(key, val)
        elif key == "volume-label":
            k, _, v = value.partition("=")
            volume.setdefault("Labels", {})[k] = v
        elif key == "volume-driver":
            volume.setdefault("DriverConfig", {})["Name"] = value
        elif key == "volume-opt":
            k, _, v = value.partition("=")
            volume.setdefault("DriverConfig", {}).setdefault("Options", {})[k] = v
        elif key == "tmpfs-size":
            try:
                tmpfs["SizeBytes"] = units.ram_in_bytes(value)
            except ValueError as exc:
                raise InvalidArgument(f"invalid value for tmpfs-size: {exc}") from None
        elif key == "tmpfs-mode":
            try:
                tmpfs["Mode"] = int(value, 8)
            except ValueError:
                raise InvalidArgument(
                    f"invalid value for tmpfs-mode: {value}: use an octal mode such as 1777"
                ) from None
        elif not sep:
            raise InvalidArgument(f"invalid field '{field}' must be a key=value pair")
        else:
            raise InvalidArgument(f"unexpected key '{key}' in '{field}'")
    if "Target" not in mount:
        raise InvalidArgument(f"target is required in --mount {spec}")
    kind = mount["Type"]
    if bind:
        if kind != "bind":
            raise InvalidArgument(f"cannot mix 'bind-*' options with mount type '{kind}'")
        mount["BindOptions"] = bind
    if volume:
        if kind != "volume":
            raise InvalidArgument(f"cannot mix 'volume-*' options with mount type '{kind}'")
        mount["VolumeOptions"] = volume
    if tmpfs:
        if kind != "tmpfs":
            raise InvalidArgument(f"cannot mix 'tmpfs-*' options with mount type '{kind}'")
        mount["TmpfsOptions"] = tmpfs
    return mount


def parse_tmpfs(spec: str) -> tuple[str, str]:
    """``/run:rw,size=64m`` -> (``/run``, ``rw,size=64m``) for ``HostConfig.Tmpfs``."""
    path, _, options = spec.partition(":")
    if not path.startswith("/"):
        raise InvalidArgument(f"invalid tmpfs mount: {spec}: the path must be absolute")
    return path, options


def _valid_device_mode(mode: str) -> bool:
    return bool(mode) and len(mode) <= 3 and all(c in "rwm" for c in mode) and len(set(mode)) == len(mode)


def parse_device(spec: str) -> dict[str, str]:
    """``/dev/sda[:/dev/xvda][:rwm]`` as a ``DeviceMapping`` (docker's ``parseLinuxDevice``)."""
    parts = spec.split(":")
    if len(parts) > 3 or not parts[0]:
        raise InvalidArgument(f"invalid device specification: {spec}")
    permissions = "rwm"
    dest = ""
    if len(parts) == 3:
        permissions = parts[2]
    if len(parts) >= 2:
        if len(parts) == 2 and _valid_device_mode(parts[1]):
            permissions = parts[1]
        else:
            dest = parts[1]
    if not _valid_device_mode(permissions):
        raise InvalidArgument(f"invalid device mode: {permissions}: use any of r, w and m")
    return {"PathOnHost": parts[0], "PathInContainer": dest or parts[0], "CgroupPermissions": permissions}
