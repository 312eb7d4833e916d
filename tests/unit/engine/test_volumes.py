"""The local volume driver on a temp data root: metadata, filters, removal, prune, copy-up, mounts."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.engine.events import EventBus
from dockyard.engine.volumes import ANONYMOUS_LABEL, VolumeStore, is_mount_point
from dockyard.errors import Conflict, InvalidArgument, NotFound


@pytest.fixture
def store(tmp_path: Path) -> Iterator[VolumeStore]:
    conn = sqlite3.connect(tmp_path / "engine.db")
    vs = VolumeStore(conn, tmp_path)
    try:
        yield vs
    finally:
        for name in vs.names():
            for cid in vs.users(name):
                vs.release(name, cid)
            vs.release(name, "")  # unmounts a device volume left mounted by a failing test
        conn.close()


def nobody(_name: str) -> list[str]:
    return []


def test_create_returns_docker_volume_json(store: VolumeStore, tmp_path: Path) -> None:
    doc = store.create("data", labels={"a": "1"})
    assert set(doc) == {"CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"}
    assert doc["Name"] == "data" and doc["Driver"] == "local" and doc["Scope"] == "local"
    assert doc["Labels"] == {"a": "1"} and doc["Options"] == {}
    assert doc["Mountpoint"] == str(tmp_path / "volumes" / "data" / "_data")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["CreatedAt"])
    assert os.path.isdir(doc["Mountpoint"])
    assert stat.S_IMODE(os.stat(tmp_path / "volumes").st_mode) == 0o701
    # Creating it again returns the existing volume untouched (dockerd does the same).
    assert store.create("data", labels={"other": "x"}) == doc
    assert store.get("data") == doc


def test_metadata_survives_a_new_store(tmp_path: Path) -> None:
    db = tmp_path / "engine.db"
    conn = sqlite3.connect(db)
    VolumeStore(conn, tmp_path).create("keep", labels={"k": "v"})
    conn.close()
    conn = sqlite3.connect(db)
    try:
        assert VolumeStore(conn, tmp_path).get("keep")["Labels"] == {"k": "v"}
    finally:
        conn.close()


def test_bad_names_and_options(store: VolumeStore) -> None:
    with pytest.raises(InvalidArgument, match="includes invalid characters for a local volume name"):
        store.create("a/b")
    with pytest.raises(InvalidArgument, match="invalid characters"):
        store.create("x")  # at least two characters
    with pytest.raises(InvalidArgument, match='invalid option: "size"'):
        store.create("v1", driver_opts={"size": "1g"})
    with pytest.raises(InvalidArgument, match='missing required option: "device"'):
        store.create("v2", driver_opts={"type": "tmpfs"})
    with pytest.raises(NotFound, match="volume driver 'nfsplugin' not found"):
        store.create("v3", driver="nfsplugin")
    assert store.names() == []


def test_anonymous_volume(store: VolumeStore) -> None:
    doc = store.create_anonymous()
    assert re.fullmatch(r"[0-9a-f]{64}", doc["Name"])
    assert doc["Labels"] == {ANONYMOUS_LABEL: ""}
    assert store.is_anonymous(doc["Name"]) and not store.is_anonymous("missing")


def test_get_and_remove_missing(store: VolumeStore) -> None:
    with pytest.raises(NotFound, match=r"^get nope: no such volume$"):
        store.get("nope")
    with pytest.raises(NotFound, match="no such volume"):
        store.remove("nope")
    store.remove("nope", force=True)


def test_list_filters(store: VolumeStore) -> None:
    store.create("web-data", labels={"app": "web", "tier": "front"})
    store.create("db-data", labels={"app": "db"})
    store.create("cache")
    used = {"db-data": ["c1"]}

    def names(filters: dict[str, list[str]]) -> list[str]:
        out = store.list(filters, in_use=lambda n: used.get(n, []))
        assert out["Warnings"] == []
        return [v["Name"] for v in out["Volumes"]]

    assert names({}) == ["cache", "db-data", "web-data"]
    assert names({"name": ["data"]}) == ["db-data", "web-data"]  # a substring/regexp, as dockerd
    assert names({"name": ["^web"]}) == ["web-data"]
    assert names({"label": ["app"]}) == ["db-data", "web-data"]
    assert names({"label": ["app=web"]}) == ["web-data"]
    assert names({"label": ["app=web", "tier=back"]}) == []
    assert names({"driver": ["local"]}) == ["cache", "db-data", "web-data"]
    assert names({"dangling": ["true"]}) == ["cache", "web-data"]
    assert names({"dangling": ["0"]}) == ["db-data"]
    with pytest.raises(InvalidArgument, match="invalid filter 'color'"):
        store.list({"color": ["red"]})
    with pytest.raises(InvalidArgument, match="invalid filter 'dangling=maybe'"):
        store.list({"dangling": ["maybe"]})


def test_remove_in_use_names_the_containers(store: VolumeStore) -> None:
    store.create("busy")
    with pytest.raises(Conflict, match=r"^remove busy: volume is in use - \[c1, c2\]$"):
        store.remove("busy", in_use=lambda n: ["c2", "c1"])
    store.acquire("busy", "c3")
    with pytest.raises(Conflict, match=r"volume is in use - \[c3\]"):
        store.remove("busy", force=True)
    store.release("busy", "c3")
    store.remove("busy", in_use=nobody)
    assert not store.exists("busy")
    assert not (store.root / "busy").exists()


def test_prune_removes_unused_anonymous_volumes_by_default(store: VolumeStore) -> None:
    named = store.create("named")["Name"]
    anon = store.create_anonymous()["Name"]
    busy = store.create_anonymous()["Name"]
    Path(store.get(anon)["Mountpoint"], "blob").write_bytes(b"x" * 1000)

    def in_use(name: str) -> list[str]:
        return ["c1"] if name == busy else []

    out = store.prune({}, in_use)
    assert out == {"VolumesDeleted": [anon], "SpaceReclaimed": 1000}
    assert store.exists(named) and store.exists(busy)
    assert store.prune({"label": ["nothing"], "all": ["true"]}, in_use)["VolumesDeleted"] == []
    assert store.prune({"all": ["true"]}, in_use)["VolumesDeleted"] == [named]
    with pytest.raises(InvalidArgument, match="invalid filter 'dangling'"):
        store.prune({"dangling": ["true"]}, in_use)


def test_prune_label_negation(store: VolumeStore) -> None:
    store.create("keep", labels={"keep": "yes"})
    store.create("drop")
    out = store.prune({"all": ["1"], "label!": ["keep"]}, nobody)
    assert out["VolumesDeleted"] == ["drop"]


def test_usage_data(store: VolumeStore) -> None:
    store.create("sized")
    data = Path(store.get("sized")["Mountpoint"])
    (data / "a").write_bytes(b"1" * 300)
    os.link(data / "a", data / "a-again")  # counted once
    (data / "sub").mkdir()
    (data / "sub" / "b").write_bytes(b"2" * 200)
    os.symlink("/etc/passwd", data / "link")  # never followed
    (docs,) = store.list_with_usage(lambda name: 2)
    assert docs["UsageData"] == {"Size": 500 + len("/etc/passwd"), "RefCount": 2}


def _image_tree(root: Path) -> Path:
    src = root / "image" / "var" / "lib" / "app"
    src.mkdir(parents=True)
    os.chmod(src, 0o750)
    os.chown(src, 1000, 1001)
    (src / "conf").write_text("setting=1\n")
    os.chown(src / "conf", 1000, 1000)
    os.chmod(src / "conf", 0o640)
    (src / "suid").write_bytes(b"#!/bin/sh\n")
    os.chmod(src / "suid", 0o4755)
    os.link(src / "conf", src / "conf-link")
    os.symlink("/etc/shadow", src / "escape")  # a hostile link: copied as a link, never read
    (src / "empty").mkdir(mode=0o1777)
    os.chmod(src / "empty", 0o1777)
    os.mkfifo(src / "pipe")
    os.utime(src / "conf", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    os.setxattr(src / "conf", "user.note", b"kept")
    return src


def test_populate_copies_the_image_content_up(store: VolumeStore, tmp_path: Path) -> None:
    src = _image_tree(tmp_path)
    store.create("app")
    data = Path(store.get("app")["Mountpoint"])
    assert store.populate("app", str(src)) is True
    root_st = os.stat(data)
    assert (root_st.st_uid, root_st.st_gid, stat.S_IMODE(root_st.st_mode)) == (1000, 1001, 0o750)
    conf = os.stat(data / "conf")
    assert (conf.st_uid, conf.st_gid, stat.S_IMODE(conf.st_mode)) == (1000, 1000, 0o640)
    assert conf.st_mtime_ns == 1_600_000_000_123_456_789
    assert (data / "conf").read_text() == "setting=1\n"
    assert os.getxattr(data / "conf", "user.note") == b"kept"
    assert os.stat(data / "conf-link").st_ino == conf.st_ino
    assert stat.S_IMODE(os.stat(data / "suid").st_mode) == 0o4755
    assert os.readlink(data / "escape") == "/etc/shadow"
    assert stat.S_IMODE(os.stat(data / "empty").st_mode) == 0o1777
    assert stat.S_ISFIFO(os.lstat(data / "pipe").st_mode)
    # Only an empty volume is filled: a second container's copy-up leaves the data alone.
    (data / "conf").write_text("changed\n")
    assert store.populate("app", str(src)) is False
    assert (data / "conf").read_text() == "changed\n"


def test_populate_from_nothing(store: VolumeStore, tmp_path: Path) -> None:
    store.create("blank")
    assert store.populate("blank", str(tmp_path / "no-such-folder")) is False
    (tmp_path / "file").write_text("x")
    assert store.populate("blank", str(tmp_path / "file")) is False
    with pytest.raises(NotFound):
        store.populate("missing", str(tmp_path))


def test_tmpfs_driver_options_mount_on_first_use(store: VolumeStore) -> None:
    opts = {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,mode=0710,uid=1000"}
    doc = store.create("scratch", driver_opts=opts)
    assert doc["Options"] == opts
    path = store.acquire("scratch", "c1")
    assert path == doc["Mountpoint"] and is_mount_point(path)
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o710 and st.st_uid == 1000
    assert store.acquire("scratch", "c2") == path
    store.release("scratch", "c1")
    assert is_mount_point(path)  # c2 still uses it
    store.release("scratch", "c2")
    assert not is_mount_point(path)
    store.release("scratch", "c2")  # idempotent


def test_bind_driver_options_and_a_bad_device(store: VolumeStore, tmp_path: Path) -> None:
    host = tmp_path / "host-folder"
    host.mkdir()
    (host / "f").write_text("from the host")
    store.create("bound", driver_opts={"type": "none", "device": str(host), "o": "bind"})
    path = store.acquire("bound", "c1")
    try:
        assert is_mount_point(path) and Path(path, "f").read_text() == "from the host"
        assert store.acquire("bound", "c2") == path  # not mounted a second time
    finally:
        store.release("bound", "c1")
        store.release("bound", "c2")
    assert not is_mount_point(path)
    store.create("broken", driver_opts={"type": "none", "device": str(tmp_path / "absent"), "o": "bind"})
    with pytest.raises(Exception, match="error while mounting volume") as info:
        store.acquire("broken", "c1")
    assert "check the volume's driver options" in str(info.value)
    assert store.users("broken") == set()


def test_events_of_volumes(tmp_path: Path) -> None:
    bus = EventBus()
    conn = sqlite3.connect(tmp_path / "engine.db")
    try:
        vs = VolumeStore(conn, tmp_path, events=bus)
        vs.create("ev")
        vs.create("ev")  # already there: no second event
        vs.remove("ev")
        anon = vs.create_anonymous()["Name"]
        vs.prune({}, nobody)
    finally:
        conn.close()
    got = [(e["Type"], e["Action"], e["Actor"]["ID"], e["Actor"]["Attributes"]) for e in bus.history()]
    assert got == [
        ("volume", "create", "ev", {"driver": "local"}),
        ("volume", "destroy", "ev", {"driver": "local"}),
        ("volume", "create", anon, {"driver": "local"}),
        ("volume", "destroy", anon, {"driver": "local"}),
        ("volume", "prune", "", {"reclaimed": "0"}),
    ]
