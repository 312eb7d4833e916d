"""GET /containers/json: which containers to list, as dockerd's list.go folds the filters.

Keys: status, label, name, id, ancestor, exited, before, since, health, volume, network. ``name``
and ``id`` are regular expressions searched in the value (moby's filters.Match); ``label`` is
``key`` or ``key=value``; a ``status`` filter implies ``all``; ``exited`` matches containers that
ran and exited with that code; ``before``/``since`` name a container and cut the list (newest
first) around it. An unknown key or a bad value is a 400, as dockerd's ``invalid filter``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from dockyard.engine.container import ZERO_TIME, Container
from dockyard.engine.networking import networks as endpoint_map
from dockyard.errors import InvalidArgument

KEYS = frozenset(
    {"status", "label", "name", "id", "ancestor", "exited", "before", "since", "health", "volume", "network",
     "is-task", "isolation", "publish", "expose"}
)  # fmt: skip
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
HEALTH = ("starting", "healthy", "unhealthy", "none")


@dataclass
class ListQuery:
    all: bool = False
    limit: int = -1
    filters: dict[str, list[str]] = field(default_factory=dict)


def _search(pattern: str, value: str) -> bool:
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return pattern in value


def validate(filters: dict[str, list[str]]) -> None:
    for key, values in filters.items():
        if key not in KEYS:
            raise InvalidArgument(f"invalid filter '{key}'")
        for value in values:
            if key == "status" and value not in STATUSES:
                raise InvalidArgument(f"invalid filter 'status={value}'")
            if key == "health" and value not in HEALTH:
                raise InvalidArgument(f"Unrecognised filter value for health: {value}")
            if key == "exited":
                try:
                    int(value)
                except ValueError:
                    raise InvalidArgument(f"invalid filter 'exited={value}'") from None


def _labels_match(wanted: list[str], labels: dict[str, str]) -> bool:
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in labels:
            return False
        if sep and labels[key] != value:
            return False
    return True


def select(
    containers: list[Container],
    query: ListQuery,
    *,
    lookup: Callable[[str], Container],
    ancestor_ids: Callable[[str], set[str]],
) -> list[Container]:
    """The containers to show, newest first. ``lookup`` resolves before/since references;
    ``ancestor_ids`` maps an ancestor filter value to the image ids it stands for."""
    f = query.filters
    validate(f)
    show_all = query.all or bool(f.get("status")) or query.limit > 0
    ordered = sorted(containers, key=lambda c: c.created, reverse=True)
    before = lookup(f["before"][0]).id if f.get("before") else None
    since = lookup(f["since"][0]).id if f.get("since") else None
    wanted_images: set[str] = set()
    for value in f.get("ancestor", []):
        wanted_images |= ancestor_ids(value)
    exited = [int(v) for v in f.get("exited", [])]
    out: list[Container] = []
    for c in ordered:
        if before is not None:
            if c.id == before:
                before = None
            continue
        if since is not None and c.id == since:
            break
        st = c.state
        if not show_all and st.status not in ("running", "paused", "restarting"):
            continue
        if f.get("status") and st.status not in f["status"]:
            continue
        if f.get("id") and not any(_search(v, c.id) for v in f["id"]):
            continue
        if f.get("name") and not any(_search(v, c.name) or _search(v, c.bare_name) for v in f["name"]):
            continue
        if f.get("label") and not _labels_match(f["label"], c.config.get("Labels") or {}):
            continue
        if exited and not (st.status == "exited" and st.started_at != ZERO_TIME and st.exit_code in exited):
            continue
        if (
            f.get("ancestor")
            and c.image_id not in wanted_images
            and c.config.get("Image") not in f["ancestor"]
        ):
            continue
        if f.get("health"):
            health = (st.health or {}).get("Status") or "none"
            if health not in f["health"]:
                continue
        if f.get("volume") and not any(
            v in (mp.name, mp.destination, mp.source) for v in f["volume"] for mp in c.mounts
        ):
            continue
        if f.get("network") and not set(endpoint_map(c, {})) & set(f["network"]):
            continue
        if f.get("expose") or f.get("publish"):
            exposed = set(c.config.get("ExposedPorts") or {})
            if not any(
                p in exposed or p + "/tcp" in exposed for p in f.get("expose", []) + f.get("publish", [])
            ):
                continue
        out.append(c)
        if query.limit > 0 and len(out) >= query.limit:
            break
    return out
