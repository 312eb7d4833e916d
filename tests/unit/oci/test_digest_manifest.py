"""Digests, chain ids, media types, manifests/indexes, platforms, image configs and --change."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from dockyard.errors import InvalidArgument, NotFound, Unsupported
from dockyard.oci import changes, image_config, mediatypes, platform
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest, DigestReader, Verifier, chain_ids, digest_bytes, digest_of
from dockyard.oci.manifest import Index, Manifest, build_manifest, parse

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def test_digest_parse_and_verify() -> None:
    d = Digest.parse(D1)
    assert (d.algorithm, d.short, str(d)) == ("sha256", "111111111111", D1)
    assert str(digest_bytes(b"x", "sha512")).startswith("sha512:")
    for bad in ("sha256:" + "A" * 64, "sha256:12", "nocolon", "sha1:" + "a" * 40):
        with pytest.raises(InvalidArgument):
            Digest.parse(bad)
    v = Verifier(Digest.parse(digest_of(b"hello")))
    v.update(b"hel")
    v.update(b"lo")
    assert v.check() == Digest.parse(digest_of(b"hello")) and v.size == 5
    v.update(b"!")
    with pytest.raises(InvalidArgument, match="digest mismatch"):
        v.check("blob")
    r = DigestReader(io.BytesIO(b"abc"))
    assert r.read(2) + r.read() == b"abc"
    assert str(r.verifier.digest()) == digest_of(b"abc")


def test_chain_ids_follow_the_image_spec() -> None:
    c2 = "sha256:" + hashlib.sha256(f"{D1} {D2}".encode()).hexdigest()
    assert chain_ids([D1, D2]) == [D1, c2]
    assert chain_ids([]) == []


def test_media_types() -> None:
    assert mediatypes.layer_compression(mediatypes.DOCKER_LAYER_GZIP) == "gzip"
    assert mediatypes.layer_compression(mediatypes.OCI_LAYER_ZSTD) == "zstd"
    assert mediatypes.layer_compression(mediatypes.OCI_LAYER_TAR) == ""
    assert mediatypes.is_layer(mediatypes.DOCKER_LAYER_FOREIGN_GZIP)
    assert not mediatypes.is_layer(mediatypes.OCI_CONFIG)
    assert mediatypes.layer_type("gzip", docker=True) == mediatypes.DOCKER_LAYER_GZIP


def _index(*platforms: dict[str, str]) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_INDEX,
            "manifests": [
                {
                    "mediaType": mediatypes.OCI_MANIFEST,
                    "digest": f"sha256:{i:064x}",
                    "size": 10,
                    "platform": p,
                }
                for i, p in enumerate(platforms)
            ],
        }
    ).encode()


def test_manifest_roundtrip_and_index_selection() -> None:
    raw = build_manifest(
        Descriptor(mediatypes.OCI_CONFIG, D1, 3), [Descriptor(mediatypes.OCI_LAYER_GZIP, D2, 9)]
    )
    m = parse(raw)
    assert isinstance(m, Manifest) and m.config.digest == D1 and m.layers[0].size == 9 and not m.docker
    idx = parse(
        _index(
            {"os": "linux", "architecture": "arm64", "variant": "v8"},
            {"os": "linux", "architecture": "amd64"},
        )
    )
    assert isinstance(idx, Index)
    assert idx.select(platform.parse("linux/amd64")).digest == f"sha256:{1:064x}"
    assert idx.select(platform.parse("linux/arm64")).digest == f"sha256:{0:064x}"
    with pytest.raises(NotFound, match="no matching manifest for linux/s390x"):
        idx.select(platform.parse("linux/s390x"))


def test_manifest_errors() -> None:
    with pytest.raises(Unsupported, match="schema 1 is unsupported"):
        parse(json.dumps({"schemaVersion": 1, "name": "x", "fsLayers": []}).encode())
    with pytest.raises(Unsupported, match="schema 1"):
        parse(b"{}", mediatypes.DOCKER_MANIFEST_V1_SIGNED)
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        parse(b"{nope")
    bad = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": {"mediaType": "x", "digest": D1, "size": True},
        "layers": [],
    }
    with pytest.raises(InvalidArgument, match="size True"):
        parse(json.dumps(bad).encode())
    with pytest.raises(Unsupported, match="unsupported manifest media type"):
        parse(b"{}", "text/html")


def test_platform_parse() -> None:
    assert str(platform.parse("linux/arm64/v8")) == "linux/arm64/v8"
    assert platform.parse(None) == platform.host()
    with pytest.raises(InvalidArgument, match="os/arch"):
        platform.parse("linux//")


def test_image_config_new_and_diff_ids() -> None:
    base = image_config.new_config(
        parent=None,
        diff_id=D1,
        container_config={"Cmd": ["sh"]},
        created="2024-01-01T00:00:00Z",
        created_by="x",
    )
    child = image_config.new_config(
        parent=base,
        diff_id=None,
        container_config={},
        created="2024-01-02T00:00:00Z",
        created_by="y",
        comment="c",
    )
    assert image_config.diff_ids(child) == [D1]
    assert child["history"][-1] == {
        "created": "2024-01-02T00:00:00Z",
        "created_by": "y",
        "comment": "c",
        "empty_layer": True,
    }
    assert image_config.load(image_config.encode(child)) == child
    with pytest.raises(InvalidArgument, match="diff_ids holds"):
        image_config.load(json.dumps({"rootfs": {"type": "layers", "diff_ids": [1]}}).encode())
    assert image_config.now_rfc3339().endswith("Z")


def test_changes() -> None:
    cfg = changes.apply(
        {"Env": ["A=1"], "Cmd": ["x"]},
        [
            'ENV A=2 B="b c"',
            "EXPOSE 80 53/udp",
            "LABEL k=v",
            'CMD ["echo", "hi"]',
            "WORKDIR /w",
            "USER nobody",
            "VOLUME /data",
            "ENTRYPOINT top -b",
        ],
    )
    assert cfg["Env"] == ["A=2", "B=b c"]
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert cfg["Labels"] == {"k": "v"}
    assert cfg["Entrypoint"] == ["/bin/sh", "-c", "top -b"] and cfg["Cmd"] is None
    assert (cfg["WorkingDir"], cfg["User"], cfg["Volumes"]) == ("/w", "nobody", {"/data": {}})
    assert changes.apply({}, ["CMD echo hi"])["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    with pytest.raises(InvalidArgument, match="RUN is not a valid change command"):
        changes.apply({}, ["RUN true"])
