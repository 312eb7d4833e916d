"""Manifests and indexes (OCI image-spec manifest.md, image-index.md; Docker schema2).

    parse(data, content_type)     -> Manifest | Index; schema1 and unknown types are refused
    Index.select(platform)        the manifest for one platform (index.md "platform")
    build_manifest(...)           canonical bytes of a new manifest

Standard library only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidArgument, NotFound, Unsupported
from dockyard.oci import mediatypes as mt
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.platform import Platform


@dataclass(frozen=True, slots=True)
class Manifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    raw: bytes

    @property
    def docker(self) -> bool:
        return self.media_type == mt.DOCKER_MANIFEST


@dataclass(frozen=True, slots=True)
class Index:
    media_type: str
    manifests: tuple[Descriptor, ...]
    raw: bytes

    def select(self, platform: Platform) -> Descriptor:
        """The first entry for ``platform``: a manifest, or a nested index (image-index.md
        allows them; the caller bounds the nesting)."""
        for desc in self.manifests:
            usable = desc.media_type in mt.MANIFESTS or desc.media_type in mt.INDEXES
            if usable and desc.platform and platform.matches(desc.platform):
                return desc
        have = ", ".join(
            "/".join(
                str(d.platform.get(k, "")) for k in ("os", "architecture", "variant") if d.platform.get(k)
            )
            for d in self.manifests
            if d.platform
        )
        raise NotFound(
            f"no matching manifest for {platform} in the manifest list entries (has: {have or 'none'}): "
            "pick one with --platform"
        )


def parse(data: bytes, content_type: str | None = None, where: str = "manifest") -> Manifest | Index:
    """Parse manifest or index bytes; ``content_type`` is the registry's header when there is one."""
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidArgument(f"{where}: not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise InvalidArgument(f"{where}: expected a JSON object")
    media_type = obj.get("mediaType") or _strip_params(content_type)
    if not media_type:
        # OCI manifests may omit mediaType (image-spec 1.0); the shape tells which it is.
        media_type = mt.OCI_INDEX if "manifests" in obj else mt.OCI_MANIFEST
    if media_type in mt.SCHEMA1 or obj.get("schemaVersion") == 1:
        raise Unsupported(
            f"{where}: Docker image manifest schema 1 is unsupported (deprecated since 2017): "
            "push the image again with a current client to get an OCI or schema 2 manifest"
        )
    if media_type in mt.INDEXES:
        entries = obj.get("manifests")
        if not isinstance(entries, list):
            raise InvalidArgument(f"{where}: index without a manifests list")
        return Index(
            media_type,
            tuple(Descriptor.from_json(e, f"{where}: manifests[{i}]") for i, e in enumerate(entries)),
            data,
        )
    if media_type in mt.MANIFESTS:
        layers = obj.get("layers")
        if not isinstance(layers, list):
            raise InvalidArgument(f"{where}: manifest without a layers list")
        return Manifest(
            media_type,
            Descriptor.from_json(obj.get("config"), f"{where}: config"),
            tuple(Descriptor.from_json(e, f"{where}: layers[{i}]") for i, e in enumerate(layers)),
            data,
        )
    raise Unsupported(f"{where}: unsupported manifest media type {media_type!r}")


def _strip_params(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip()


def canonical(obj: Any) -> bytes:
    """Compact JSON: the bytes that get digested, stable for the same object."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def build_manifest(config: Descriptor, layers: list[Descriptor], *, docker: bool = False) -> bytes:
    obj = {
        "schemaVersion": 2,
        "mediaType": mt.DOCKER_MANIFEST if docker else mt.OCI_MANIFEST,
        "config": config.to_json(),
        "layers": [d.to_json() for d in layers],
    }
    return canonical(obj)
