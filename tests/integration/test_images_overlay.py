"""Overlay snapshots on the real kernel: stacks of 130 layers through both mount paths, the
changes of a container and the layer tar of a commit, scratch images."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.oci.digest import chain_ids, digest_of
from dockyard.snapshots import diff, mount
from dockyard.snapshots.overlay import OverlaySnapshotter
from dockyard.snapshots.unpack import apply_layer
from dockyard.util import mountapi
from tests.conftest import remove_tree

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts need root")


@pytest.fixture
def snaps(tmp_path: Path) -> Iterator[OverlaySnapshotter]:
    root = tmp_path / f"snap-{os.getpid()}"
    try:
        yield OverlaySnapshotter(root / "overlay")
    finally:
        remove_tree(str(root))


def layer(files: dict[str, bytes | None]) -> bytes:
    """A tar: bytes are files, None is a whiteout of that path."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            if data is None:
                head, _, base = name.rpartition("/")
                name, data = (f"{head}/.wh.{base}" if head else f".wh.{base}"), b""
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def stack(snaps: OverlaySnapshotter, tars: list[bytes]) -> str:
    chains = chain_ids([digest_of(t) for t in tars])
    parent = None
    for data, chain in zip(tars, chains, strict=True):
        tmp = snaps.begin(chain)
        stats = apply_layer(io.BytesIO(data), str(tmp))
        snaps.commit(chain, parent, tmp, stats.size)
        parent = chain
    return chains[-1]


@pytest.mark.parametrize("new_api", [True, False], ids=["lowerdir+", "mount2-short-links"])
def test_130_layers_in_one_mount(snaps: OverlaySnapshotter, tmp_path: Path, new_api: bool) -> None:
    if new_api and not mountapi.overlay_supports_lowerdir_plus():
        pytest.fail(f"this kernel ({os.uname().release}) lacks overlayfs lowerdir+ (needs 6.8+)")
    tars = [layer({f"f{i}": str(i).encode(), "top": str(i).encode()}) for i in range(130)]
    tars.append(layer({"f5": None}))
    top = stack(snaps, tars)
    m = snaps.prepare("c1", top)
    assert len(m.lowers) == 131
    assert len(mount.options(m)) < mount.PAGE  # short links keep the classic option string in a page
    target = tmp_path / "merged"
    target.mkdir()
    mount.mount_overlay(m, str(target), use_new_api=new_api)
    try:
        assert mount.is_mounted(str(target))
        assert (target / "top").read_bytes() == b"129"  # the topmost layer wins
        assert (target / "f0").read_bytes() == b"0"
        assert not (target / "f5").exists()  # whited out by the last layer
        (target / "new").write_text("x")
        os.unlink(target / "f7")
    finally:
        mount.unmount(str(target))
    mount.unmount(str(target))  # idempotent
    assert not mount.is_mounted(str(target))
    changes = diff.changes(snaps.upper_dir("c1"), m.lower_paths())
    assert changes == [{"Path": "/f7", "Kind": 2}, {"Path": "/new", "Kind": 1}]


def test_changes_and_commit_tar(snaps: OverlaySnapshotter, tmp_path: Path) -> None:
    top = stack(snaps, [layer({"etc/a": b"a", "etc/b": b"b", "d/x": b"x", "keep/k": b"k"})])
    m = snaps.prepare("c2", top)
    target = tmp_path / "m"
    target.mkdir()
    mount.mount_overlay(m, str(target))
    try:
        script = (
            "echo changed > etc/a && rm etc/b && mkdir -p new/sub && echo n > new/sub/f && "
            "rm -r d && mkdir d && echo y > d/y"
        )
        subprocess.run(["sh", "-c", script], cwd=target, check=True)
    finally:
        mount.unmount(str(target))
    got = diff.changes(snaps.upper_dir("c2"), m.lower_paths())
    assert got == [
        {"Path": "/d", "Kind": 2},  # replaced folder: opaque in overlay, "deleted" as moby reports it
        {"Path": "/d/y", "Kind": 1},
        {"Path": "/etc", "Kind": 0},
        {"Path": "/etc/a", "Kind": 0},
        {"Path": "/etc/b", "Kind": 2},
        {"Path": "/new", "Kind": 1},
        {"Path": "/new/sub", "Kind": 1},
        {"Path": "/new/sub/f", "Kind": 1},
    ]
    data = b"".join(diff.layer_tar(snaps.upper_dir("c2")))
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        members = tf.getmembers()
    names = [m.name for m in members]
    assert "etc/.wh.b" in names and "d/.wh..wh..opq" in names and "new/sub/f" in names
    assert not any("trusted.overlay" in str(m.pax_headers) for m in members)
    # The commit tar applied on top of the image gives the container's view.
    top2 = stack(snaps, [layer({"etc/a": b"a", "etc/b": b"b", "d/x": b"x", "keep/k": b"k"}), data])
    m2 = snaps.prepare("c3", top2)
    mount.mount_overlay(m2, str(target))
    try:
        assert sorted(os.listdir(target)) == ["d", "etc", "keep", "new"]
        assert os.listdir(target / "d") == ["y"] and os.listdir(target / "etc") == ["a"]
        assert (target / "etc/a").read_text() == "changed\n"
    finally:
        mount.unmount(str(target))
    assert diff.dir_size(snaps.upper_dir("c2")) == len("changed\n") + 2 + 2


def test_scratch_image_mounts_an_empty_stack(snaps: OverlaySnapshotter, tmp_path: Path) -> None:
    m = snaps.prepare("scratch", None)
    assert m.lowers == ("empty",)
    target = tmp_path / "s"
    target.mkdir()
    mount.mount_overlay(m, str(target))
    try:
        assert os.listdir(target) == []
        (target / "x").write_text("1")
    finally:
        mount.unmount(str(target))
    assert diff.changes(snaps.upper_dir("scratch"), m.lower_paths()) == [{"Path": "/x", "Kind": 1}]
    snaps.remove_container("scratch")
    snaps.remove_container("scratch")  # idempotent
    assert snaps.containers() == []


def test_layers_are_removed_with_their_links(snaps: OverlaySnapshotter) -> None:
    top = stack(snaps, [layer({"a": b"1"}), layer({"b": b"2"})])
    assert len(snaps.layers()) == 2 and len(os.listdir(snaps.root / "l")) == 2
    snaps.prepare("c", top)
    assert snaps.in_use_by_containers() == set(snaps.layers())
    snaps.remove(top)
    snaps.remove(top)  # idempotent
    assert len(snaps.layers()) == 1 and len(os.listdir(snaps.root / "l")) == 1
