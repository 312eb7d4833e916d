"""Manifests of the four kinds a registry stores, parsed just enough to check and link them.

    OCI image manifest   application/vnd.oci.image.manifest.v1+json
    OCI image index      application/vnd.oci.image.index.v1+json
    Docker schema2       application/vnd.docker.distribution.manifest.v2+json
    Docker list          application/vnd.docker.distribution.manifest.list.v2+json

The kind comes from the document's ``mediaType``; OCI makes that field optional, so without it
the request's Content-Type decides, and failing that the shape (``manifests`` -> index). When
both are given they must agree (OCI distribution spec: "Pushing Manifests").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dockyard.registry.digest import Digest, parse_digest
from dockyard.registry.errcode import RegistryError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
IMAGE_KINDS = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_KINDS = (OCI_INDEX, DOCKER_LIST)
ALL_KINDS = (*IMAGE_KINDS, *INDEX_KINDS)

#: The OCI spec asks registries to accept manifests of at least 4 MiB; larger ones get 413.
MAX_MANIFEST = 4 * 1024 * 1024

#: Layers of these types may live outside the registry (``urls``): not checked for existence.
_FOREIGN = (
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
)


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    platform: dict[str, Any] | None = None
    foreign: bool = False


@dataclass
class Manifest:
    media_type: str
    raw: bytes
    doc: dict[str, Any]
    blobs: list[Descriptor] = field(default_factory=list)  # config + layers (image kinds)
    children: list[Descriptor] = field(default_factory=list)  # manifests (index kinds)
    subject: Descriptor | None = None

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_KINDS

    @property
    def artifact_type(self) -> str | None:
        """The referrers API's artifactType: the field, else an image's config media type."""
        at = self.doc.get("artifactType")
        if isinstance(at, str):
            return at
        if not self.is_index and self.blobs:
            return self.blobs[0].media_type
        return None

    @property
    def annotations(self) -> dict[str, str] | None:
        a = self.doc.get("annotations")
        return a if isinstance(a, dict) else None


def _invalid(msg: str) -> RegistryError:
    return RegistryError("MANIFEST_INVALID", msg)


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _invalid(f"{where} is not a descriptor object: give mediaType, digest and size")
    mt, dg, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not isinstance(mt, str) or not isinstance(dg, str) or not isinstance(size, int) or size < 0:
        raise _invalid(f"{where} needs a string mediaType, a string digest and a size >= 0, got {value!r}")
    digest = parse_digest(dg, code="MANIFEST_INVALID")
    platform = value.get("platform") if isinstance(value.get("platform"), dict) else None
    foreign = mt in _FOREIGN or bool(value.get("urls"))
    return Descriptor(mt, digest, size, platform, foreign)


def parse_manifest(raw: bytes, content_type: str | None) -> Manifest:
    """Parse and check a pushed manifest; raises MANIFEST_INVALID naming what is wrong."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise _invalid(f"manifest is not valid JSON ({e}): send the manifest document itself") from None
    if not isinstance(doc, dict):
        raise _invalid("manifest is not a JSON object")
    if doc.get("schemaVersion") != 2:
        raise _invalid(
            f"schemaVersion {doc.get('schemaVersion')!r} is not supported: push schemaVersion 2 "
            "(Docker schema1 is deprecated and refused)"
        )
    declared = doc.get("mediaType")
    ctype = (content_type or "").split(";")[0].strip() or None
    if declared is not None and not isinstance(declared, str):
        raise _invalid("mediaType must be a string")
    if declared and ctype and ctype in ALL_KINDS and declared != ctype:
        raise _invalid(f"Content-Type {ctype} does not match the manifest's mediaType {declared}")
    media_type = declared or (ctype if ctype in ALL_KINDS else None)
    if media_type is None:
        media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
    if media_type not in ALL_KINDS:
        raise _invalid(f"unsupported manifest mediaType {media_type!r}: use one of {', '.join(ALL_KINDS)}")
    m = Manifest(media_type, raw, doc)
    if m.is_index:
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise _invalid("an index needs a 'manifests' list")
        m.children = [_descriptor(c, f"manifests[{i}]") for i, c in enumerate(children)]
    else:
        config = doc.get("config")
        layers = doc.get("layers")
        if layers is None and media_type == OCI_MANIFEST:
            layers = []
        if not isinstance(layers, list):
            raise _invalid("an image manifest needs a 'layers' list")
        m.blobs = [_descriptor(config, "config")] + [
            _descriptor(la, f"layers[{i}]") for i, la in enumerate(layers)
        ]
    if "subject" in doc:
        m.subject = _descriptor(doc["subject"], "subject")
    return m


def pick_platform(index: dict[str, Any], accepted: list[str]) -> dict[str, Any] | None:
    """For a client that cannot take an index: the linux/amd64 entry (distribution's fallback)."""
    entries = [
        e for e in index.get("manifests", []) if isinstance(e, dict) and e.get("mediaType") in accepted
    ]
    for e in entries:
        p = e.get("platform") or {}
        if p.get("os") == "linux" and p.get("architecture") == "amd64":
            return e
    return entries[0] if entries else None
