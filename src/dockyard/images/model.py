"""Plain data of the image store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Layer:
    diff_id: str  # sha256 of the uncompressed tar
    chain_id: str  # the snapshot's key
    blob: str  # digest of the blob in the content store (compressed or not)
    media_type: str
    blob_size: int
    diff_size: int  # bytes of the uncompressed tar
    size: int  # bytes of regular files in the unpacked layer (Docker's layer "Size")


@dataclass
class Image:
    id: str  # "sha256:<config digest>"
    repo_tags: list[str] = field(default_factory=list)  # familiar form: "busybox:latest"
    repo_digests: list[str] = field(default_factory=list)  # "busybox@sha256:..."
    config: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    size: int = 0
    parent: str = ""
    manifest: str = ""  # digest of the manifest blob ("" when none is stored)
    last_tag_time: str = ""
    layers: list[Layer] = field(default_factory=list)

    @property
    def short_id(self) -> str:
        return self.id.partition(":")[2][:12]

    @property
    def top_chain(self) -> str | None:
        return self.layers[-1].chain_id if self.layers else None

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.config.get("config") or {}).get("Labels") or {})
