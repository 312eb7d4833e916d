"""The image store end to end on the real kernel: bootstrap, inspect/list/history, tag and
remove with Docker's rules, prune, containers' root filesystems, commit, import/export,
save/load."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.images.service import ImageService
from dockyard.snapshots import mount
from tests.conftest import remove_tree

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="overlay mounts need root")

INSPECT_FIELDS = {
    "Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "Container", "ContainerConfig",
    "DockerVersion", "Author", "Config", "Architecture", "Os", "Size", "VirtualSize", "GraphDriver",
    "RootFS", "Metadata",
}  # fmt: skip
SUMMARY_FIELDS = {
    "Id", "ParentId", "RepoTags", "RepoDigests", "Created", "Size", "SharedSize", "VirtualSize", "Labels",
    "Containers",
}  # fmt: skip


def never(_image_id: str) -> bool:
    return False


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[ImageService]:
    root = tmp_path / f"images-{os.getpid()}"
    s = ImageService(root)
    try:
        yield s
    finally:
        s.close()
        remove_tree(str(root))


@pytest.fixture
def busybox(svc: ImageService) -> str:
    return svc.bootstrap_busybox()


def run_in(rootfs: Path, script: str) -> str:
    return subprocess.run(["chroot", str(rootfs), "/bin/sh", "-c", script], check=True, capture_output=True,
                          text=True).stdout  # fmt: skip


def test_bootstrap_is_deterministic_and_inspectable(svc: ImageService, busybox: str, tmp_path: Path) -> None:
    other = ImageService(tmp_path / "other")
    try:
        assert other.bootstrap_busybox() == busybox  # the same busybox bytes, the same image id
    finally:
        other.close()
    assert svc.bootstrap_busybox() == busybox
    info = svc.inspect("busybox")
    assert set(info) == INSPECT_FIELDS
    assert info["Id"] == busybox and info["RepoTags"] == ["busybox:latest"]
    assert info["Config"]["Cmd"] == ["sh"] and info["Config"]["Env"][0].startswith("PATH=")
    assert (
        info["GraphDriver"]["Name"] == "overlay2" and Path(info["GraphDriver"]["Data"]["UpperDir"]).is_dir()
    )
    assert info["RootFS"]["Type"] == "layers" and len(info["RootFS"]["Layers"]) == 1
    assert info["Size"] > 500_000 and info["Metadata"]["LastTagTime"].endswith("Z")
    for name in (
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox:latest",
        busybox,
        busybox[7:19],
        busybox[:15],
    ):
        assert svc.resolve(name).id == busybox
    summary = svc.summary(svc.list()[0])
    assert set(summary) == SUMMARY_FIELDS and summary["RepoTags"] == ["busybox:latest"]
    assert svc.history("busybox")[0]["Id"] == busybox


def test_lookup_errors(svc: ImageService, busybox: str) -> None:
    with pytest.raises(NotFound, match="No such image: nope:latest"):
        svc.resolve("nope")
    with pytest.raises(NotFound, match="No such image: sha256:ffff"):
        svc.resolve("sha256:ffff")
    with pytest.raises(InvalidArgument, match="repository name must be lowercase"):
        svc.resolve("BusyBox")


def test_rootfs_commit_export_and_history(svc: ImageService, busybox: str, tmp_path: Path) -> None:
    target = tmp_path / f"rootfs-{os.getpid()}"
    svc.prepare_rootfs("c1", busybox, target)
    try:
        svc.prepare_rootfs("c1", busybox, target)  # already mounted: nothing to do
        assert run_in(target, "echo hi > /root/note; rm /bin/vi; cat /root/note") == "hi\n"
        assert svc.changes("c1") == [
            {"Path": "/bin", "Kind": 0}, {"Path": "/bin/vi", "Kind": 2},
            {"Path": "/root", "Kind": 0}, {"Path": "/root/note", "Kind": 1},
        ]  # fmt: skip
        assert svc.rw_size("c1") == 3
        new = svc.commit("c1", busybox, {"Cmd": ["sh"], "Env": ["A=1"]}, comment="note", author="me",
                         changes=["LABEL a=b", "CMD cat /root/note"], repo="mine", tag="v1")  # fmt: skip
        info = svc.inspect("mine:v1")
        assert info["Parent"] == busybox and info["Comment"] == "note" and info["Author"] == "me"
        assert info["Config"]["Labels"] == {"a": "b"} and info["Container"] == "c1"
        assert info["Config"]["Cmd"] == ["/bin/sh", "-c", "cat /root/note"]
        assert len(info["RootFS"]["Layers"]) == 2
        hist = svc.history("mine:v1")
        assert [h["Id"] for h in hist] == [new, busybox] and hist[0]["Tags"] == ["mine:v1"]
        assert hist[0]["Size"] == 3
        with tarfile.open(fileobj=io.BytesIO(b"".join(svc.export("c1", target)))) as tf:
            names = tf.getnames()
        assert "root/note" in names and "bin/busybox" in names and "bin/vi" not in names
    finally:
        svc.unmount_rootfs("c1", target)
        svc.unmount_rootfs("c1", target)  # idempotent
    assert not mount.is_mounted(str(target))
    # Exported from a container that is not mounted: mounted for the export only.
    data = b"".join(svc.export("c1", target))
    assert len(data) > 500_000 and not mount.is_mounted(str(target))
    # The committed image runs with the change in it.
    svc.prepare_rootfs("c2", "mine:v1", target)
    try:
        assert run_in(target, "cat /root/note; ls /bin/vi 2>&1 || true").startswith("hi\n")
    finally:
        svc.unmount_rootfs("c2", target)
        svc.remove_rootfs("c2")
        svc.remove_rootfs("c1")
        svc.remove_rootfs("c1")


def test_tag_and_remove_follow_docker(svc: ImageService, busybox: str) -> None:
    svc.tag("busybox", "localhost:5000/bb", None)
    svc.tag(busybox, "other", "v2")
    assert sorted(svc.resolve(busybox).repo_tags) == [
        "busybox:latest",
        "localhost:5000/bb:latest",
        "other:v2",
    ]
    with pytest.raises(InvalidArgument):
        svc.tag("busybox", "Bad", None)
    user = "1a2b3c4d5e6f7a8b9c0d"

    def used(image_id: str) -> str:
        return user

    # By id with references in several repositories: must be forced.
    with pytest.raises(Conflict, match=r"\(must be forced\) - image is referenced in multiple repositories"):
        svc.remove(busybox, False, False, never)
    assert svc.remove("other:v2", False, False, used) == [{"Untagged": "other:v2"}]
    assert svc.remove("localhost:5000/bb", False, False, used) == [{"Untagged": "localhost:5000/bb:latest"}]
    with pytest.raises(Conflict) as e:
        svc.remove("busybox", False, False, used)
    assert str(e.value) == (
        'conflict: unable to remove repository reference "busybox" (must force) - container 1a2b3c4d5e6f '
        f"is using its referenced image {busybox[7:19]}"
    )
    with pytest.raises(
        Conflict,
        match=rf"unable to delete {busybox[7:19]} \(must be forced\) - image is being used by stopped "
        "container 1a2b3c4d5e6f",
    ):
        svc.remove(busybox, False, False, used)
    records = svc.remove("busybox", True, False, used)
    assert records[0] == {"Untagged": "busybox:latest"}
    assert {"Deleted": busybox} in records
    assert svc.list() == [] and list(svc.content.list()) == [] and svc.snapshots.layers() == []
    with pytest.raises(NotFound):
        svc.remove("busybox", False, False, never)


def test_children_block_removal_and_prune(svc: ImageService, busybox: str, tmp_path: Path) -> None:
    target = tmp_path / "r"
    svc.prepare_rootfs("c", busybox, target)
    try:
        run_in(target, "touch /x")
    finally:
        svc.unmount_rootfs("c", target)
    child = svc.commit("c", busybox, {}, comment="", author="", changes=[], repo=None, tag=None)
    svc.remove_rootfs("c")
    with pytest.raises(Conflict, match=r"cannot be forced.*dependent child images"):
        svc.remove(busybox, True, False, never)
    assert [i.id for i in svc.list(filters={"dangling": ["true"]})] == [child]
    assert svc.summary(svc.resolve(child))["RepoTags"] == []
    report = svc.prune(True, None, lambda i: i == child)  # in use: kept
    assert report == {"ImagesDeleted": None, "SpaceReclaimed": 0}
    report = svc.prune(True, None, never)
    assert report["ImagesDeleted"][0] == {"Deleted": child} and report["SpaceReclaimed"] == 0
    assert [i.id for i in svc.list()] == [busybox]
    report = svc.prune(True, None, never)  # tagged images stay with dangling-only
    assert report["ImagesDeleted"] is None
    report = svc.prune(False, {"label": ["nope"]}, never)
    assert report["ImagesDeleted"] is None
    report = svc.prune(False, None, never)
    assert {"Untagged": "busybox:latest"} in report["ImagesDeleted"] and report["SpaceReclaimed"] > 500_000


def test_list_filters(svc: ImageService, busybox: str) -> None:
    svc.tag("busybox", "app", "1")
    assert [i.id for i in svc.list(filters={"reference": ["app"]})] == [busybox]
    assert svc.list(filters={"reference": ["zzz*"]}) == []
    assert svc.list(filters={"dangling": ["true"]}) == []
    assert svc.list(filters={"label": ["x=y"]}) == []
    assert svc.list(filters={"before": ["busybox"]}) == []
    with pytest.raises(InvalidArgument, match="invalid filter 'colour'"):
        svc.list(filters={"colour": ["red"]})


def rootfs_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in (("hello", b"world\n"), ("etc/os-release", b"ID=test\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.parametrize("packed", ["tar", "gzip"])
def test_import(svc: ImageService, packed: str, tmp_path: Path) -> None:
    data = rootfs_tar() if packed == "tar" else gzip.compress(rootfs_tar())
    image_id = svc.import_tar(io.BytesIO(data), "imported", "v1", ['CMD ["/hello"]'])
    info = svc.inspect("imported:v1")
    assert (
        info["Id"] == image_id
        and info["Config"]["Cmd"] == ["/hello"]
        and info["Comment"] == "Imported from -"
    )
    target = tmp_path / "imp"
    svc.prepare_rootfs("i", image_id, target)
    try:
        assert (target / "hello").read_bytes() == b"world\n"
    finally:
        svc.unmount_rootfs("i", target)
        svc.remove_rootfs("i")
    with pytest.raises(InvalidArgument, match="not a valid tar archive"):
        svc.import_tar(io.BytesIO(b"not a tar at all" * 64), None, None, [])


def test_save_and_load_roundtrip(svc: ImageService, busybox: str, tmp_path: Path) -> None:
    svc.tag("busybox", "second", "x")
    data = b"".join(svc.save(["busybox", "second:x"]))
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
        names = tf.getnames()
        index = json.load(tf.extractfile("index.json"))  # type: ignore[arg-type]
    # dockerd 25+'s layout: docker-archive's manifest.json and an OCI layout over the same blobs.
    assert manifest[0]["Config"] == "blobs/sha256/" + busybox[7:]
    assert sorted(manifest[0]["RepoTags"]) == ["busybox:latest", "second:x"]
    assert manifest[0]["Layers"][0] in names and "repositories" in names and "oci-layout" in names
    assert sorted(m["annotations"]["io.containerd.image.name"] for m in index["manifests"]) == [
        "docker.io/library/busybox:latest",
        "docker.io/library/second:x",
    ]
    other = ImageService(tmp_path / "loaded")
    try:
        msgs = list(other.load(io.BytesIO(data)))
        assert msgs[0]["status"] == "Loading layer"
        assert {"stream": "Loaded image: busybox:latest\n"} in msgs and {
            "stream": "Loaded image: second:x\n"
        } in msgs
        assert other.resolve("second:x").id == busybox
        assert other.inspect("busybox")["RootFS"] == svc.inspect("busybox")["RootFS"]
        # Loading again is harmless; by id the image is saved untagged.
        assert list(other.load(io.BytesIO(b"".join(svc.save([busybox])))))[-1] == {
            "stream": f"Loaded image ID: {busybox}\n"
        }
        with pytest.raises(InvalidArgument, match="not an image archive"):
            list(other.load(io.BytesIO(rootfs_tar())))
    finally:
        other.close()
