"""Descriptors (OCI image spec, descriptor.md): a typed, sized, digested pointer to content.

Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.oci.digest import Digest


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    urls: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, obj: Any, where: str = "descriptor") -> Descriptor:
        if not isinstance(obj, dict):
            raise InvalidArgument(f"{where}: expected a JSON object, got {type(obj).__name__}")
        media_type = obj.get("mediaType")
        digest = obj.get("digest")
        size = obj.get("size")
        if not isinstance(media_type, str) or not media_type:
            raise InvalidArgument(f"{where}: mediaType missing")
        if not isinstance(digest, str):
            raise InvalidArgument(f"{where}: digest missing")
        Digest.parse(digest)
        # bool is an int subclass in Python; JSON true is no size.
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidArgument(f"{where}: size {size!r} is not a non-negative integer")
        platform = obj.get("platform")
        return cls(
            media_type,
            digest,
            size,
            platform if isinstance(platform, dict) else None,
            dict(obj.get("annotations") or {}),
            tuple(obj.get("urls") or ()),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.platform:
            out["platform"] = self.platform
        if self.annotations:
            out["annotations"] = self.annotations
        if self.urls:
            out["urls"] = list(self.urls)
        return out
