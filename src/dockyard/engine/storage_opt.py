"""``--storage-opt`` (HostConfig.StorageOpt) for the overlay snapshotter: refused with a reason.

dockerd's overlay2 driver takes one option, ``size``, and only when its backing filesystem can
enforce it: xfs mounted with project quotas (``pquota``/``prjquota``), where each container's
upper folder gets a project id and a hard block limit. Anything else is an error at create:
"--storage-opt is supported only for overlay over xfs with 'pquota' mount option". Dockyard does
not set project quotas yet, so it refuses ``size`` everywhere, saying what the data root is on
and what would make the option possible; unknown keys get dockerd's "Unknown option".
"""

from __future__ import annotations

import os
from typing import Any

from dockyard.errors import InvalidArgument, Unsupported

_OCTAL = {"\\040": " ", "\\011": "\t", "\\012": "\n", "\\134": "\\"}


def backing_filesystem(path: str, mountinfo: str = "/proc/self/mountinfo") -> tuple[str, str, list[str]]:
    """(fs type, source, super options) of the mount that holds ``path``."""
    real = os.path.realpath(path)
    best: tuple[int, tuple[str, str, list[str]]] = (-1, ("unknown", "unknown", []))
    with open(mountinfo, encoding="utf-8") as f:
        for line in f:
            left, _, right = line.rstrip("\n").partition(" - ")
            point = left.split()[4]
            for code, char in _OCTAL.items():
                point = point.replace(code, char)
            inside = real == point or real.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= best[0]:
                fstype, source, options = [*right.split(), "", "", ""][:3]
                best = (len(point), (fstype, source, options.split(",")))
    return best[1]


def has_project_quota(fstype: str, options: list[str]) -> bool:
    return fstype == "xfs" and any(o in ("prjquota", "pquota", "pqnoenforce") for o in options)


def check(storage_opt: dict[str, Any] | None, data_root: str) -> None:
    for key, value in (storage_opt or {}).items():
        if key.lower() != "size":
            raise InvalidArgument(f"Unknown option {key}: the overlay storage takes only size")
        fstype, source, options = backing_filesystem(data_root)
        if not has_project_quota(fstype, options):
            raise InvalidArgument(
                f"--storage-opt size={value} is not supported on this host: the data root {data_root} "
                f"is on {fstype} ({source}) without project quotas; a per-container size limit needs "
                "the data root on xfs mounted with pquota. Drop --storage-opt, or limit writes with "
                "--tmpfs PATH:size=... or a volume on a filesystem of its own"
            )
        raise Unsupported(
            f"--storage-opt size={value}: the data root {data_root} is on xfs with project quotas, "
            "but dockyard does not set per-container project quotas yet: drop --storage-opt"
        )
