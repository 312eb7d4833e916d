"""Crafted images on a loopback registry: each pull is refused with a clear error and leaves the
host and the image store as they were (must-show 2 of the image issue)."""

from __future__ import annotations

import asyncio
import gzip
import os
import tarfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import DockyardError
from dockyard.images import options as image_options
from dockyard.images.service import ImageService
from tests.conftest import remove_tree
from tests.hostile.static_registry import (
    LAYER_GZIP,
    OCI_INDEX,
    StaticRegistry,
    canonical,
    entry,
    sha,
    tar,
)

OUTSIDE = f"/tmp/dockyard-hostile-{os.getpid()}"


@pytest.fixture(scope="module")
def reg() -> Iterator[StaticRegistry]:
    r = StaticRegistry()
    try:
        yield r
    finally:
        r.stop()


def _service(root: Path, **limits: int) -> ImageService:
    return ImageService(root, options=image_options.build(limits=limits or None))


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[ImageService]:
    root = tmp_path / f"store-{os.getpid()}"
    s = _service(root)
    try:
        yield s
    finally:
        s.close()
        remove_tree(str(root))


def refused(svc: ImageService, ref: str, platform: str | None = None) -> str:
    """The pull's error, raised before the stream or sent in it; fails if the pull succeeds."""

    async def run(agen: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
        return [m async for m in agen]

    try:
        msgs = asyncio.run(run(svc.pull(ref, None, platform)))
    except DockyardError as e:
        return str(e)
    errors = [str(m["error"]) for m in msgs if "error" in m]
    assert errors, f"the pull of {ref} succeeded: {msgs}"
    return errors[0]


def assert_untouched(svc: ImageService) -> None:
    assert svc.list() == []
    assert svc.snapshots.layers() == []
    assert os.listdir(svc.snapshots.root / "tmp") == []
    assert svc.content.ingests() == []
    assert list(svc.content.list()) == []
    assert not os.path.lexists(OUTSIDE)
    assert svc.check()["Clean"]


def one_layer(reg: StaticRegistry, name: str, layer: bytes, **kw: Any) -> str:
    reg.add_image(name, "t", [layer], **kw)
    return f"{reg.host}/{name}:t"


HOSTILE_LAYERS: dict[str, tuple[list[Any], str]] = {
    "dotdot": ([entry(f"../../..{OUTSIDE}", data=b"x")], "'..' in the path"),
    "absolute": ([entry(OUTSIDE, data=b"x")], "absolute path"),
    "symlink-then-write": (
        [
            entry("escape", "sym", link=os.path.dirname(OUTSIDE)),
            entry(f"escape/{os.path.basename(OUTSIDE)}", data=b"x"),
        ],
        "its parent 'escape' is a symlink",
    ),
    "hardlink-outside": ([entry("h", "hard", link="/etc/passwd")], "absolute path"),
    "hardlink-climbing": ([entry("h", "hard", link="../../../etc/passwd")], "'..' in the path"),
    "hardlink-not-in-layer": ([entry("h", "hard", link="etc/passwd")], "which is not in this layer"),
    "block-device": ([entry("usr/bin/disk", "blk", dev=(8, 0))], "device nodes are allowed under /dev only"),
    "forged-whiteout": ([entry("etc", "chr", dev=(0, 0))], "overlay whiteout in disguise"),
    "whiteout-climbing": ([entry("../.wh.etc")], "'..' in the path"),
    "whiteout-of-dot": ([entry("a/.wh..")], "whiteout of nothing"),
    "whiteout-through-symlink": (
        [entry("l", "sym", link="/etc"), entry("l/.wh.passwd")],
        "its parent 'l' is a symlink",
    ),
    "overlay-xattr": ([], "belongs to overlayfs"),
    "deep-nesting": ([entry("a/" * 300 + "f", data=b"x")], "path depth"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_LAYERS))
def test_hostile_layer_entries_are_refused(reg: StaticRegistry, svc: ImageService, case: str) -> None:
    entries, message = HOSTILE_LAYERS[case]
    if case == "overlay-xattr":
        info, data = entry("d", "dir")
        info.pax_headers = {"SCHILY.xattr.trusted.overlay.opaque": "y"}
        entries = [(info, data)]
    ref = one_layer(reg, f"hostile/{case}", tar(entries))
    error = refused(svc, ref)
    assert message in error and "refus" in error, error
    assert_untouched(svc)


def test_huge_declared_size_is_refused_from_its_header(reg: StaticRegistry, svc: ImageService) -> None:
    info = tarfile.TarInfo("big")
    info.size = 100 << 30  # 100 GiB declared, 1 KiB sent
    layer = info.tobuf(tarfile.PAX_FORMAT) + b"\0" * 1024
    error = refused(svc, one_layer(reg, "bomb/declared", layer))
    assert "declared size of 'big'" in error and "max-layer-size" in error, error
    assert_untouched(svc)


def test_entry_count_and_expansion_limits(reg: StaticRegistry, tmp_path: Path) -> None:
    small = _service(tmp_path / "limited", **{"max-entries": 1000, "max-layer-size": 1 << 20})
    try:
        many = tar([entry(f"f{i}") for i in range(1001)])
        error = refused(small, one_layer(reg, "bomb/entries", many))
        assert "the number of entries exceeds the limit of 1000" in error, error
        zeros = tar([entry(f"zeros{i}", data=bytes(512 << 10)) for i in range(16)])
        packed = gzip.compress(zeros, 9)  # 8 MiB of tar from about 8 KiB of gzip, no entry too big
        error = refused(small, one_layer(reg, "bomb/gzip", zeros, blobs=[packed], media_type=LAYER_GZIP))
        assert "the uncompressed layer" in error and "limit of 1048576" in error, error
        assert_untouched(small)
    finally:
        small.close()
        remove_tree(str(tmp_path / "limited"))


def test_digest_and_blob_lies(reg: StaticRegistry, svc: ImageService) -> None:
    layer = tar([entry("hello", data=b"hello")])
    # A blob whose bytes do not match its descriptor's digest.
    reg.add_image("lies/blob", "t", [layer])
    reg.blobs[sha(layer)] = tar([entry("hello", data=b"HELLO")])
    assert "digest mismatch" in refused(svc, f"{reg.host}/lies/blob:t")
    assert_untouched(svc)
    # A config whose diff id is not the layer's.
    reg.add_image("lies/diffid", "t", [layer], diff_ids=[sha(b"something else")])
    assert "digest mismatch" in refused(svc, f"{reg.host}/lies/diffid:t")
    assert_untouched(svc)
    # A manifest fetched by digest whose content has another digest.
    digest, manifest = reg.add_image("lies/manifest", "t", [layer])
    reg.manifests[("lies/manifest", digest)] = ("application/vnd.oci.image.manifest.v1+json", manifest + b" ")
    assert "digest mismatch" in refused(svc, f"{reg.host}/lies/manifest@{digest}")
    # A manifest naming a blob the registry does not have.
    missing = tar([entry("gone", data=os.urandom(64))])
    reg.add_image("lies/missing", "t", [missing])
    del reg.blobs[sha(missing)]
    assert "blob unknown" in refused(svc, f"{reg.host}/lies/missing:t")
    assert_untouched(svc)


def test_indexes_that_loop_nest_or_mislead(reg: StaticRegistry, svc: ImageService) -> None:
    digest, manifest = reg.add_image("idx/leaf", "t", [tar([entry("x", data=b"x")])])
    # An index naming itself: only a registry that lies about digests can serve it.
    fake = "sha256:" + "ab" * 32
    amd64 = {"os": "linux", "architecture": "amd64"}
    self_ref = canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_INDEX, "digest": fake, "size": 200, "platform": amd64},
    ]})  # fmt: skip
    reg.manifests[("idx/loop", "t")] = (OCI_INDEX, self_ref)
    reg.manifests[("idx/loop", fake)] = (OCI_INDEX, self_ref)
    assert "digest mismatch" in refused(svc, f"{reg.host}/idx/loop:t", "linux/amd64")
    # Nine indexes nested around a manifest: the default limit is 8 levels.
    child, child_type = digest, "application/vnd.oci.image.manifest.v1+json"
    size = len(manifest)
    for level in range(9):
        idx = canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": child_type, "digest": child, "size": size, "platform": amd64},
        ]})  # fmt: skip
        child, child_type, size = (
            reg.put_manifest("idx/leaf", f"n{level}", idx, OCI_INDEX),
            OCI_INDEX,
            len(idx),
        )
    error = refused(svc, f"{reg.host}/idx/leaf:n8", "linux/amd64")
    assert "indexes nested deeper than 8 levels" in error, error
    assert not refused_ok(svc, f"{reg.host}/idx/leaf:n6")  # 7 levels resolve
    svc.remove(f"{reg.host}/idx/leaf:n6", True, False, lambda _i: None)
    # An index without the wanted platform lists what it has.
    arm = canonical({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": child_type, "digest": digest, "size": len(manifest),
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    ]})  # fmt: skip
    reg.put_manifest("idx/arm", "t", arm, OCI_INDEX)
    error = refused(svc, f"{reg.host}/idx/arm:t", "linux/amd64")
    assert "no matching manifest for linux/amd64" in error and "has: linux/arm64/v8" in error, error


def refused_ok(svc: ImageService, ref: str) -> list[str]:
    async def run() -> list[dict[str, Any]]:
        return [m async for m in svc.pull(ref, None, "linux/amd64")]

    return [m["error"] for m in asyncio.run(run()) if "error" in m]


def test_oversized_manifest_and_schema1(reg: StaticRegistry, svc: ImageService) -> None:
    def hundred_mib() -> Iterator[bytes]:
        yield b'{"schemaVersion":2,"layers":["'
        for _ in range(100):
            yield b"A" * (1 << 20)

    reg.manifests[("big/manifest", "t")] = ("application/vnd.oci.image.manifest.v1+json", hundred_mib)
    error = refused(svc, f"{reg.host}/big/manifest:t")
    assert "larger than the limit of 4194304 bytes: refused" in error, error
    v1 = canonical({"schemaVersion": 1, "name": "old/image", "tag": "t", "fsLayers": [], "history": []})
    reg.manifests[("old/image", "t")] = ("application/vnd.docker.distribution.manifest.v1+prettyjws", v1)
    error = refused(svc, f"{reg.host}/old/image:t")
    assert "schema 1 is unsupported" in error and "push the image again" in error, error
    assert_untouched(svc)


def test_what_a_refused_pull_left_is_collected_by_prune(reg: StaticRegistry, svc: ImageService) -> None:
    good = tar([entry("fine", data=os.urandom(100_000))])
    bad = tar([entry("../escape", data=b"x")])
    reg.add_image("partial/image", "t", [good, bad])
    assert "'..' in the path" in refused(svc, f"{reg.host}/partial/image:t")
    # The first layer was fine: its blob and folder are stored, but no image holds them.
    assert svc.snapshots.layers() == [sha(good)] and svc.content.has(sha(good))
    report = svc.prune(False, {}, lambda _i: None)
    assert report["SpaceReclaimed"] >= 100_000
    assert_untouched(svc)
