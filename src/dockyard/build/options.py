"""What one build is asked to do (POST /build's query, `dockyard build`'s flags)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class BuildOptions:
    tags: list[str] = field(default_factory=list)
    dockerfile: str = "Dockerfile"  # path inside the context
    build_args: dict[str, str | None] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    pull: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    network: str = "default"  # RUN's network unless --network on the step: default, none, host
    platform: str | None = None
    remove: bool = True  # rm: remove intermediate containers
    force_remove: bool = False  # forcerm: also after a failed step
    cache_from: list[str] = field(default_factory=list)
    reproducible: bool = True  # T from SOURCE_DATE_EPOCH or the base image; False: Docker's "now"
    secrets: dict[str, bytes] = field(default_factory=dict)  # RUN --mount=type=secret,id=...
    quiet: bool = False
    auth: dict[str, Any] | None = None  # registry credentials for pulls of base images
