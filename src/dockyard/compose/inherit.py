"""Anonymous volumes survive a recreate, as in Compose v2.

When ``up`` replaces a container (its config or image changed), the new one gets the old one's
anonymous volumes at the same paths, so a database whose image declares ``VOLUME`` keeps its data:
- a path the new image declares as a ``VOLUME``;
- a service volume with no source (``volumes: [/data]``) at the same path.

Named volumes need nothing (the name is the same); binds and tmpfs are not inherited.
``up --renew-anon-volumes`` (``-V``) turns this off: fresh anonymous volumes.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dockyard.compose.model import Service


def inherit_mounts(
    body: dict[str, Any],
    service: Service,
    image_volumes: Iterable[str],
    old_mounts: Sequence[Mapping[str, Any]],
) -> None:
    """Edit the create ``body`` of ``service``'s new container to reuse ``old_mounts``' (the old
    container's ``Mounts`` from inspect) anonymous volumes; ``image_volumes``: the new image's
    ``Config.Volumes`` paths."""
    declared = {posixpath.normpath(p) for p in image_volumes}
    anonymous = {posixpath.normpath(m.target) for m in service.volumes if m.type == "volume" and not m.source}
    mounts: list[dict[str, Any]] = body.setdefault("HostConfig", {}).setdefault("Mounts", [])
    by_target = {posixpath.normpath(str(m.get("Target", ""))): m for m in mounts}
    for old in old_mounts:
        if old.get("Type") != "volume" or not old.get("Name"):
            continue
        target = posixpath.normpath(str(old.get("Destination", "")))
        if target not in declared and target not in anonymous:
            continue
        new = by_target.get(target)
        if new is None:
            entry = {
                "Type": "volume",
                "Source": old["Name"],
                "Target": target,
                "ReadOnly": not old.get("RW", True),
            }
            mounts.append(entry)
            by_target[target] = entry
        elif new.get("Type") == "volume" and not new.get("Source"):
            new["Source"] = old["Name"]
