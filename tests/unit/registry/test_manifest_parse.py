"""Manifest parsing: the four kinds, mediaType against Content-Type, and what is refused."""

from __future__ import annotations

import json

import pytest

from dockyard.registry.errcode import RegistryError
from dockyard.registry.manifest import DOCKER_LIST, OCI_INDEX, OCI_MANIFEST, parse_manifest, pick_platform

D = "sha256:" + "a" * 64


def doc(**kw: object) -> bytes:
    base: dict[str, object] = {
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": D, "size": 2},
        "layers": [],
    }
    base.update(kw)
    return json.dumps(base).encode()


def test_image_without_media_type_takes_content_type() -> None:
    m = parse_manifest(doc(), OCI_MANIFEST)
    assert m.media_type == OCI_MANIFEST and not m.is_index
    assert [str(b.digest) for b in m.blobs] == [D]
    assert m.artifact_type == "application/vnd.oci.image.config.v1+json"


def test_index_by_shape_and_subject() -> None:
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": D,
                    "size": 5,
                    "platform": {"os": "linux", "architecture": "arm64"},
                }
            ],
            "subject": {"mediaType": OCI_MANIFEST, "digest": D, "size": 5},
            "artifactType": "x/y",
        }
    ).encode()
    m = parse_manifest(raw, None)
    assert m.media_type == OCI_INDEX and m.is_index
    assert m.subject is not None and str(m.subject.digest) == D
    assert m.artifact_type == "x/y"


@pytest.mark.parametrize(
    "raw, ctype, words",
    [
        (b"not json", OCI_MANIFEST, "not valid JSON"),
        (b"[1]", OCI_MANIFEST, "not a JSON object"),
        (json.dumps({"schemaVersion": 1}).encode(), OCI_MANIFEST, "schemaVersion 1"),
        (doc(mediaType=OCI_MANIFEST), DOCKER_LIST, "does not match"),
        (doc(mediaType="text/plain"), None, "unsupported manifest mediaType"),
        (doc(layers=[{"digest": D}]), OCI_MANIFEST, "layers[0] needs"),
        (doc(config={"mediaType": "x", "digest": "sha256:zz", "size": 1}), OCI_MANIFEST, "invalid digest"),
    ],
)
def test_refused(raw: bytes, ctype: str | None, words: str) -> None:
    with pytest.raises(RegistryError) as e:
        parse_manifest(raw, ctype)
    assert e.value.code == "MANIFEST_INVALID"
    assert words in e.value.message


def test_foreign_layers_are_marked() -> None:
    m = parse_manifest(
        doc(
            layers=[
                {
                    "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                    "digest": D,
                    "size": 1,
                    "urls": ["https://example.invalid/l"],
                }
            ]
        ),
        OCI_MANIFEST,
    )
    assert m.blobs[1].foreign


def test_pick_platform_prefers_linux_amd64() -> None:
    index = {
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": "a", "platform": {"os": "linux", "architecture": "arm64"}},
            {"mediaType": OCI_MANIFEST, "digest": "b", "platform": {"os": "linux", "architecture": "amd64"}},
        ]
    }
    assert pick_platform(index, [OCI_MANIFEST])["digest"] == "b"  # type: ignore[index]
    assert pick_platform(index, ["other"]) is None
