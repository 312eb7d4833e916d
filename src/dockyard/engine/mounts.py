"""A container's mounts from its request: HostConfig.Binds, Mounts, Tmpfs, VolumesFrom and the
image's VOLUMEs, as dockerd's registerMountPoints orders and checks them.

Precedence for one destination: Binds and Mounts (two for one path is ``Duplicate mount
point``), then VolumesFrom, then the image's (and ``-v /path``'s) Config.Volumes, which become
anonymous volumes only where nothing else is mounted. HostConfig.Tmpfs entries are not mount
points in inspect's sense (dockerd lists them nowhere but HostConfig), so they are returned apart.

Binds: ``src:dst[:opts]`` (or ``dst`` alone: an anonymous volume). An absolute ``src`` is a
bind mount (created as a folder when missing, as dockerd does for -v), anything else a volume
name. Options: ro/rw, z/Z (SELinux relabel at start, engine/labels.relabel_mount; nothing to do
without SELinux), nocopy, and a propagation mode.
"""

from __future__ import annotations

import os
import posixpath
import re
from typing import Any

from dockyard.engine.container import MountPoint
from dockyard.errors import InvalidArgument

_PROPAGATION = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_CONSISTENCY = ("consistent", "cached", "delegated")
TMPFS_DEFAULTS = ["noexec", "nosuid", "nodev"]


def _check_destination(dest: str, spec: str, kind: str) -> str:
    if not dest.startswith("/"):
        raise InvalidArgument(
            f"invalid volume specification: '{spec}': invalid mount config for type \"{kind}\": "
            f"invalid mount path: '{dest}' mount path must be absolute"
        )
    clean = posixpath.normpath(dest)
    if clean == "/":
        raise InvalidArgument(f"invalid volume specification: '{spec}': destination can't be '/'")
    return clean


def parse_bind(spec: str) -> MountPoint:
    """One HostConfig.Binds entry."""
    parts = spec.split(":")
    if len(parts) == 1 and parts[0]:
        # A destination alone: an anonymous volume (dockerd's parser accepts it in Binds too).
        dest = _check_destination(parts[0], spec, "volume")
        return MountPoint(type="volume", destination=dest, driver="local", anonymous=True)
    if len(parts) > 3 or not all(parts[:2]):
        raise InvalidArgument(f"invalid volume specification: '{spec}': use source:destination[:options]")
    source, dest = parts[0], parts[1]
    mode = parts[2] if len(parts) == 3 else ""
    options = [o for o in mode.split(",") if o] if mode else []
    rw = True
    propagation = ""
    no_copy = False
    for opt in options:
        if opt in ("ro", "rw"):
            rw = opt == "rw"
        elif opt in ("z", "Z") or opt in _CONSISTENCY:
            pass
        elif opt in _PROPAGATION:
            propagation = opt
        elif opt == "nocopy":
            no_copy = True
        else:
            raise InvalidArgument(f"invalid mode: {opt}")
    kind = "bind" if source.startswith("/") else "volume"
    dest = _check_destination(dest, spec, kind)
    if kind == "bind":
        if no_copy:
            raise InvalidArgument(f"invalid mode: nocopy: only volumes take it ({spec})")
        return MountPoint(
            type="bind",
            source=posixpath.normpath(source),
            destination=dest,
            mode=mode,
            rw=rw,
            propagation=propagation or "rprivate",
        )
    if not _VOLUME_NAME.match(source):
        raise InvalidArgument(
            f'create {source}: "{source}" includes invalid characters for a local volume name, only '
            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use '
            "absolute path"
        )
    if propagation:
        raise InvalidArgument(
            f"invalid mode: {propagation}: propagation applies to bind mounts only ({spec})"
        )
    return MountPoint(
        type="volume",
        name=source,
        destination=dest,
        driver="local",
        mode=mode or "z",
        rw=rw,
        no_copy=no_copy,
    )


def parse_mount(raw: Any) -> MountPoint:
    """One HostConfig.Mounts entry (the --mount flag): bind, volume or tmpfs."""
    if not isinstance(raw, dict):
        raise InvalidArgument(f'invalid mount {raw!r}: use {{"Type": ..., "Target": ...}}')
    kind = raw.get("Type") or ""
    target = raw.get("Target") or raw.get("Destination") or ""
    source = raw.get("Source") or ""
    spec = f"type={kind},target={target}"
    if kind not in ("bind", "volume", "tmpfs"):
        raise InvalidArgument(f"mount type unknown: {kind!r}: use bind, volume or tmpfs")
    if not target:
        raise InvalidArgument(f'invalid mount config for type "{kind}": field Target must not be empty')
    dest = _check_destination(target, spec, kind)
    read_only = bool(raw.get("ReadOnly"))
    if kind == "bind":
        if not source:
            raise InvalidArgument('invalid mount config for type "bind": field Source must not be empty')
        if not source.startswith("/"):
            raise InvalidArgument(
                f"invalid mount config for type \"bind\": invalid mount path: '{source}' mount path must "
                "be absolute"
            )
        if not os.path.exists(source):
            raise InvalidArgument(
                f'invalid mount config for type "bind": bind source path does not exist: {source}'
            )
        bind_opts = raw.get("BindOptions") or {}
        propagation = bind_opts.get("Propagation") or "rprivate"
        if propagation not in _PROPAGATION:
            raise InvalidArgument(f"invalid propagation mode: {propagation}")
        return MountPoint(
            type="bind",
            source=posixpath.normpath(source),
            destination=dest,
            rw=not read_only,
            propagation=propagation,
            options=["nonrecursive"] if bind_opts.get("NonRecursive") else [],
        )
    if kind == "volume":
        if source and not _VOLUME_NAME.match(source):
            raise InvalidArgument(f'invalid mount config for type "volume": invalid volume name {source!r}')
        volume_opts = raw.get("VolumeOptions") or {}
        return MountPoint(
            type="volume",
            name=source,
            destination=dest,
            driver=((volume_opts.get("DriverConfig") or {}).get("Name") or "local"),
            rw=not read_only,
            anonymous=not source,
            no_copy=bool(volume_opts.get("NoCopy")),
        )
    if source:
        raise InvalidArgument('invalid mount config for type "tmpfs": field Source must be empty')
    tmpfs_opts = raw.get("TmpfsOptions") or {}
    options = list(TMPFS_DEFAULTS)
    if tmpfs_opts.get("SizeBytes"):
        options.append(f"size={int(tmpfs_opts['SizeBytes'])}")
    if tmpfs_opts.get("Mode"):
        options.append(f"mode={int(tmpfs_opts['Mode']):o}")
    if read_only:
        options.append("ro")
    return MountPoint(type="tmpfs", destination=dest, rw=not read_only, options=options)


def tmpfs_mounts(tmpfs: dict[str, Any] | None) -> list[dict[str, Any]]:
    """HostConfig.Tmpfs ({"/run": "rw,size=64m"}) as OCI mounts; user options override defaults."""
    out = []
    for dest, opts in (tmpfs or {}).items():
        if not isinstance(opts, str):
            raise InvalidArgument(f"invalid HostConfig.Tmpfs[{dest!r}]: use a string of mount options")
        clean = _check_destination(dest, f"{dest}:{opts}", "tmpfs")
        given = [o for o in opts.split(",") if o]
        options = [o for o in TMPFS_DEFAULTS if _negation(o) not in given] + given
        out.append({"destination": clean, "type": "tmpfs", "source": "tmpfs", "options": options})
    return out


def _negation(option: str) -> str:
    return {"noexec": "exec", "nosuid": "suid", "nodev": "dev"}.get(option, "")


def parse_volumes_from(entry: str) -> tuple[str, str]:
    """ "name[:ro|rw]" -> (name, mode)."""
    name, _, mode = entry.partition(":")
    if not name or mode not in ("", "ro", "rw", "z", "Z"):
        raise InvalidArgument(f"invalid volumes-from {entry!r}: use <container>[:ro|rw]")
    return name, mode


def plan(
    host_config: dict[str, Any],
    image_volumes: dict[str, Any] | None,
    inherited: list[MountPoint] | None = None,
) -> list[MountPoint]:
    """Every mount point of a new container (volumes not yet created), shallowest first."""
    points: dict[str, MountPoint] = {}
    for spec in host_config.get("Binds") or []:
        if not isinstance(spec, str):
            raise InvalidArgument(f"invalid volume specification: {spec!r}: use a string")
        mp = parse_bind(spec)
        if mp.destination in points:
            raise InvalidArgument(f"Duplicate mount point: {mp.destination}")
        points[mp.destination] = mp
    for raw in host_config.get("Mounts") or []:
        mp = parse_mount(raw)
        if mp.destination in points:
            raise InvalidArgument(f"Duplicate mount point: {mp.destination}")
        points[mp.destination] = mp
    for mp in inherited or []:
        points.setdefault(mp.destination, mp)
    tmpfs = {posixpath.normpath(d) for d in (host_config.get("Tmpfs") or {})}
    for dest in image_volumes or {}:
        clean = _check_destination(dest, dest, "volume")
        if clean in points or clean in tmpfs:
            continue
        points[clean] = MountPoint(type="volume", destination=clean, driver="local", anonymous=True)
    return sorted(points.values(), key=lambda m: (m.destination.count("/"), m.destination))


def oci_mount(mp: MountPoint) -> dict[str, Any]:
    """The config.json entry of a resolved mount point (volumes already have their source)."""
    if mp.type == "tmpfs":
        return {
            "destination": mp.destination,
            "type": "tmpfs",
            "source": "tmpfs",
            "options": list(mp.options),
        }
    options = ["bind" if "nonrecursive" in mp.options else "rbind"]
    if not mp.rw:
        options.append("ro")
    options.append(mp.propagation or "rprivate")
    return {"destination": mp.destination, "type": "bind", "source": mp.source, "options": options}
