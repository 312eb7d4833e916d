"""The image service's settings, from the daemon's options (daemon.json keys in brackets).

max_concurrent_downloads   layers fetched at once per pull   [max-concurrent-downloads] 3
max_concurrent_uploads     blobs sent at once per push       [max-concurrent-uploads]   5
registry                   insecure registries, mirrors, manifest size, index depth
limits                     per-layer tar-bomb bounds          [image-limits]
push_chunk_size            None: one PUT per blob; else PATCH chunks of that many bytes
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dockyard.distribution.settings import INDEX_DEPTH, MANIFEST_MAX, RegistrySettings
from dockyard.errors import InvalidArgument
from dockyard.snapshots.limits import LayerLimits


@dataclass
class ImageOptions:
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    limits: LayerLimits = field(default_factory=LayerLimits)
    push_chunk_size: int | None = None
    sync_layers: bool = False  # fsync each layer blob before it is renamed into the store


#: ``image-limits`` keys (daemon.json / --image-limit KEY=N) and their defaults
LIMIT_KEYS = {
    "max-entries": 1_000_000,
    "max-depth": 256,
    "max-layer-size": 64 << 30,
    "max-manifest-size": MANIFEST_MAX,
    "max-index-depth": INDEX_DEPTH,
}


def build(
    *,
    max_concurrent_downloads: int = 3,
    max_concurrent_uploads: int = 5,
    insecure_registries: list[str] | tuple[str, ...] = (),
    registry_mirrors: list[str] | tuple[str, ...] = (),
    offline_domains: frozenset[str] = frozenset(),
    limits: dict[str, Any] | None = None,
    sync_layers: bool = False,
) -> ImageOptions:
    values = dict(LIMIT_KEYS)
    for key, value in (limits or {}).items():
        if key not in LIMIT_KEYS:
            raise InvalidArgument(f"unknown image limit {key!r}: use one of {', '.join(LIMIT_KEYS)}")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidArgument(f"image limit {key} must be a positive integer, got {value!r}")
        values[key] = value
    return ImageOptions(
        max_concurrent_downloads=max_concurrent_downloads,
        max_concurrent_uploads=max_concurrent_uploads,
        registry=RegistrySettings.build(
            insecure=insecure_registries,
            mirrors=registry_mirrors,
            offline_domains=offline_domains,
            manifest_max=values["max-manifest-size"],
            index_depth=values["max-index-depth"],
        ),
        limits=LayerLimits(values["max-entries"], values["max-depth"], values["max-layer-size"]),
        sync_layers=sync_layers,
    )
