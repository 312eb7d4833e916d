"""docker cp on a temp rootfs full of hostile symlinks: stat, archive out, extract in, mounts."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest

from dockyard.engine.archive import (
    GO_MODE_DIR,
    GO_MODE_SYMLINK,
    ContainerFS,
    FSMount,
    encode_stat,
    extract_archive,
    go_file_mode,
    read_archive,
    stat_path,
)
from dockyard.errors import InvalidArgument, NotFound


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """Files outside the container that a symlink must never reach."""
    h = tmp_path / "host"
    h.mkdir()
    (h / "secret").write_text("host secret\n")
    return h


@pytest.fixture
def rootfs(tmp_path: Path, host: Path) -> Path:
    r = tmp_path / "rootfs"
    (r / "etc").mkdir(parents=True)
    (r / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    os.utime(r / "etc" / "passwd", ns=(1_700_000_000_500_000_000, 1_700_000_000_500_000_000))
    (r / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (r / "tmp").mkdir()
    (r / "srv" / "www").mkdir(parents=True)
    (r / "srv" / "www" / "index.html").write_text("<h1>hi</h1>")
    os.link(r / "srv" / "www" / "index.html", r / "srv" / "www" / "index.hard")
    # Hostile links: each points (absolutely or by climbing) at the host's file.
    os.symlink(str(host / "secret"), r / "abs-escape")
    os.symlink("../../../../../../../../" + str(host / "secret").lstrip("/"), r / "climb-escape")
    os.symlink(str(host), r / "dir-escape")
    os.symlink("/etc", r / "etc-link")
    os.symlink("loop2", r / "loop1")
    os.symlink("loop1", r / "loop2")
    return r


def fs_of(rootfs: Path, **kwargs: object) -> ContainerFS:
    return ContainerFS(container="box", root=str(rootfs), **kwargs)  # type: ignore[arg-type]


def read_tar(
    fs: ContainerFS, path: str
) -> tuple[dict[str, object], dict[str, tarfile.TarInfo], tarfile.TarFile]:
    doc, chunks = read_archive(fs, path)
    data = b"".join(chunks)
    tar = tarfile.open(fileobj=io.BytesIO(data))  # noqa: SIM115 -- in memory, returned open
    return doc, {m.name: m for m in tar.getmembers()}, tar


def make_tar(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    buf.seek(0)
    return buf


def entry(name: str, kind: bytes = tarfile.REGTYPE, **attrs: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.mtime = 1_600_000_000
    for k, v in attrs.items():
        setattr(info, k, v)
    return info


# ---------------------------------------------------------------- stat


def test_stat_of_a_file_matches_dockerd(rootfs: Path) -> None:
    doc = stat_path(fs_of(rootfs), "/etc/passwd")
    assert doc == {
        "name": "passwd",
        "size": len("root:x:0:0:root:/root:/bin/sh\n"),
        "mode": 0o644,
        "mtime": "2023-11-14T22:13:20.5Z",
        "linkTarget": "",
    }
    header = json.loads(base64.b64decode(encode_stat(doc)))
    assert header == doc


def test_stat_of_folders_and_links(rootfs: Path) -> None:
    fs = fs_of(rootfs)
    etc = stat_path(fs, "/etc/")
    assert etc["name"] == "etc" and etc["mode"] == GO_MODE_DIR | 0o755
    assert stat_path(fs, "/")["mode"] & GO_MODE_DIR
    link = stat_path(fs, "/etc-link")
    assert link["mode"] & GO_MODE_SYMLINK and link["linkTarget"] == "/etc"
    assert stat_path(fs, "/etc-link/")["name"] == "etc-link"


def test_links_never_reach_the_host(rootfs: Path, host: Path) -> None:
    fs = fs_of(rootfs)
    for path in ("/abs-escape", "/climb-escape"):
        doc = stat_path(fs, path)
        # Resolved inside the rootfs, where the host path does not exist.
        assert doc["linkTarget"] == str(host / "secret")
    with pytest.raises(NotFound, match=r"^Could not find the file /dir-escape/secret in container box$"):
        stat_path(fs, "/dir-escape/secret")
    # Plant the host path inside the rootfs: now the link finds the container's copy, not the host's.
    inside = rootfs / str(host).lstrip("/")
    inside.mkdir(parents=True)
    (inside / "secret").write_text("container copy\n")
    _doc, members, tar = read_tar(fs, "/dir-escape/secret")
    f = tar.extractfile(members["secret"])
    assert f is not None and f.read() == b"container copy\n"


def test_missing_paths_and_link_loops(rootfs: Path) -> None:
    fs = fs_of(rootfs)
    with pytest.raises(NotFound, match="Could not find the file /nope in container box"):
        stat_path(fs, "/nope")
    with pytest.raises(NotFound):
        stat_path(fs, "/etc/passwd/x")
    with pytest.raises(InvalidArgument, match="too many levels of symbolic links"):
        stat_path(fs, "/loop1/x")
    with pytest.raises(InvalidArgument, match="not a directory"):
        stat_path(fs, "/etc/passwd/")


def test_go_file_mode_bits() -> None:
    assert go_file_mode(stat.S_IFDIR | 0o1777) == GO_MODE_DIR | 0o777 | (1 << 20)
    assert go_file_mode(stat.S_IFREG | 0o4755) == (1 << 23) | 0o755
    assert go_file_mode(stat.S_IFCHR | 0o666) == (1 << 26) | (1 << 21) | 0o666
    assert go_file_mode(stat.S_IFIFO | 0o600) == (1 << 25) | 0o600


# ---------------------------------------------------------------- archive out


def test_archive_of_a_folder_uses_its_name(rootfs: Path) -> None:
    doc, members, _ = read_tar(fs_of(rootfs), "/srv")
    assert doc["name"] == "srv"
    assert sorted(members) == ["srv", "srv/www", "srv/www/index.hard", "srv/www/index.html"]
    assert members["srv"].isdir()
    # The second name of a hard-linked file is a link entry, as Go's tar writes it.
    assert members["srv/www/index.hard"].islnk() or members["srv/www/index.html"].islnk()


def test_archive_of_folder_content_with_dot(rootfs: Path) -> None:
    doc, members, _ = read_tar(fs_of(rootfs), "/etc/.")
    assert doc["name"] == "."
    assert sorted(members) == [".", "./hosts", "./passwd"]


def test_archive_of_a_file_and_of_a_link(rootfs: Path) -> None:
    _doc, members, tar = read_tar(fs_of(rootfs), "/etc/hosts")
    assert list(members) == ["hosts"]
    f = tar.extractfile(members["hosts"])
    assert f is not None and f.read() == b"127.0.0.1 localhost\n"
    _doc, members, _ = read_tar(fs_of(rootfs), "/etc-link")
    assert members["etc-link"].issym() and members["etc-link"].linkname == "/etc"
    # Through the link (a trailing component after it) the folder itself is archived.
    _doc, members, _ = read_tar(fs_of(rootfs), "/etc-link/.")
    assert "./passwd" in members


def test_archive_of_a_large_file_streams(rootfs: Path) -> None:
    big = rootfs / "big"
    with open(big, "wb") as f:
        f.truncate(5 << 20)
    _doc, chunks = read_archive(fs_of(rootfs), "/big")
    sizes = [len(c) for c in chunks]
    assert max(sizes) <= 1 << 20 and sum(sizes) >= 5 << 20


# ---------------------------------------------------------------- extract in


def test_extract_files_folders_links_and_owners(rootfs: Path) -> None:
    stream = make_tar(
        [
            (entry("app", tarfile.DIRTYPE, uid=1000, gid=1000, mode=0o750), None),
            (entry("app/run.sh", uid=1000, gid=100, mode=0o4755), b"#!/bin/sh\necho hi\n"),
            (entry("app/latest", tarfile.SYMTYPE, linkname="run.sh"), None),
            (entry("app/again", tarfile.LNKTYPE, linkname="app/run.sh"), None),
            (entry("deep/er/file"), b"made its folders"),
            (entry("fifo", tarfile.FIFOTYPE), None),
        ]
    )
    extract_archive(fs_of(rootfs), "/tmp", stream)
    app = rootfs / "tmp" / "app"
    st = os.stat(app)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1000, 0o750)
    assert st.st_mtime == 1_600_000_000  # folder times are set after their content
    run = os.stat(app / "run.sh")
    assert (run.st_uid, run.st_gid, stat.S_IMODE(run.st_mode)) == (1000, 100, 0o4755)
    assert os.readlink(app / "latest") == "run.sh"
    assert os.stat(app / "again").st_ino == run.st_ino
    assert (rootfs / "tmp" / "deep" / "er" / "file").read_text() == "made its folders"
    assert stat.S_IMODE(os.stat(rootfs / "tmp" / "deep").st_mode) == 0o755
    assert stat.S_ISFIFO(os.lstat(rootfs / "tmp" / "fifo").st_mode)


def test_extract_with_copy_uid_gid_takes_the_container_user(rootfs: Path) -> None:
    stream = make_tar([(entry("owned", uid=5, gid=6), b"x")])
    extract_archive(fs_of(rootfs, owner=(1000, 1000)), "/tmp", stream, copy_uid_gid=True)
    st = os.stat(rootfs / "tmp" / "owned")
    assert (st.st_uid, st.st_gid) == (1000, 1000)


def test_extract_never_writes_through_links_to_the_host(rootfs: Path, host: Path) -> None:
    # A symlink entry to the host folder, then a file "through" it: dockerd (chrooted) resolves
    # the link inside the container, where that folder does not exist, and fails; so do we.
    stream = make_tar(
        [
            (entry("sneaky", tarfile.SYMTYPE, linkname=str(host)), None),
            (entry("sneaky/secret"), b"overwritten"),
        ]
    )
    with pytest.raises(InvalidArgument, match="cannot extract 'sneaky/secret'"):
        extract_archive(fs_of(rootfs), "/tmp", stream)
    assert (host / "secret").read_text() == "host secret\n"
    # With the host's path present inside the container, the file lands there.
    inside = rootfs / str(host).lstrip("/")
    inside.mkdir(parents=True)
    stream = make_tar(
        [
            (entry("sneaky2", tarfile.SYMTYPE, linkname=str(host)), None),
            (entry("sneaky2/secret"), b"overwritten"),
        ]
    )
    extract_archive(fs_of(rootfs), "/tmp", stream)
    assert (host / "secret").read_text() == "host secret\n"
    assert (inside / "secret").read_text() == "overwritten"
    # The extraction folder itself given through a hostile link resolves inside the rootfs too.
    extract_archive(fs_of(rootfs), "/dir-escape", make_tar([(entry("new"), b"n")]))
    assert (inside / "new").exists() and not (host / "new").exists()
    # An existing symlink at an entry's name is replaced, not followed.
    extract_archive(fs_of(rootfs), "/", make_tar([(entry("abs-escape"), b"replaced")]))
    assert (host / "secret").read_text() == "host secret\n"
    assert (rootfs / "abs-escape").read_text() == "replaced"


def test_extract_refuses_breakouts(rootfs: Path, host: Path) -> None:
    for name in ("../escape", "a/../../escape"):
        with pytest.raises(InvalidArgument, match="outside the extraction folder"):
            extract_archive(fs_of(rootfs), "/tmp", make_tar([(entry(name), b"x")]))
    with pytest.raises(InvalidArgument, match="outside the extraction folder"):
        extract_archive(
            fs_of(rootfs), "/tmp", make_tar([(entry("hl", tarfile.LNKTYPE, linkname="../etc/passwd"), None)])
        )
    assert not (rootfs / "escape").exists()
    # A leading "/" is relative to the extraction folder, as in dockerd.
    extract_archive(fs_of(rootfs), "/tmp", make_tar([(entry("/abs"), b"x")]))
    assert (rootfs / "tmp" / "abs").exists()


def test_extract_destination_checks(rootfs: Path) -> None:
    fs = fs_of(rootfs)
    with pytest.raises(NotFound, match="Could not find the file /absent in container box"):
        extract_archive(fs, "/absent", make_tar([]))
    with pytest.raises(InvalidArgument, match="extraction point is not a directory"):
        extract_archive(fs, "/etc/passwd", make_tar([]))
    with pytest.raises(InvalidArgument, match="container rootfs is marked read-only"):
        extract_archive(fs_of(rootfs, readonly_rootfs=True), "/tmp", make_tar([]))
    with pytest.raises(InvalidArgument, match="not a tar archive"):
        extract_archive(fs, "/tmp", io.BytesIO(b"this is not a tar archive at all" * 40))


def test_no_overwrite_dir_non_dir(rootfs: Path) -> None:
    fs = fs_of(rootfs)
    with pytest.raises(InvalidArgument, match='cannot overwrite directory "/etc" with non-directory'):
        extract_archive(fs, "/", make_tar([(entry("etc"), b"x")]), no_overwrite_dir_non_dir=True)
    with pytest.raises(InvalidArgument, match="cannot overwrite non-directory"):
        extract_archive(
            fs, "/etc", make_tar([(entry("hosts", tarfile.DIRTYPE), None)]), no_overwrite_dir_non_dir=True
        )
    # Without the flag a file replaces a folder (and its content), as dockerd's untar does.
    extract_archive(fs, "/srv", make_tar([(entry("www"), b"now a file")]))
    assert (rootfs / "srv" / "www").read_text() == "now a file"


def test_mounts_of_a_stopped_container_are_spliced_in(rootfs: Path, tmp_path: Path) -> None:
    vol = tmp_path / "volume-data"
    vol.mkdir()
    (vol / "in-volume").write_text("volume content")
    ro = tmp_path / "ro-data"
    ro.mkdir()
    (rootfs / "data").mkdir()
    (rootfs / "data" / "hidden-by-mount").write_text("x")
    fs = fs_of(rootfs, mounts=[FSMount("/data", str(vol)), FSMount("/ro", str(ro), read_only=True)])
    assert stat_path(fs, "/data/in-volume")["size"] == len("volume content")
    with pytest.raises(NotFound):
        stat_path(fs, "/data/hidden-by-mount")
    _doc, members, _ = read_tar(fs, "/")
    assert "./data/in-volume" in members and "./data/hidden-by-mount" not in members
    extract_archive(fs, "/data", make_tar([(entry("new"), b"into the volume")]))
    assert (vol / "new").read_text() == "into the volume"
    with pytest.raises(InvalidArgument, match="mounted volume is marked read-only"):
        extract_archive(fs, "/ro", make_tar([(entry("x"), b"x")]))
    # ".." from inside a mount goes back to the container's folders, not the host's.
    assert stat_path(fs, "/data/../etc/passwd")["name"] == "passwd"
    # A running container shows its mounts itself: nothing is spliced.
    visible = fs_of(rootfs, mounts=[FSMount("/data", str(vol))], mounts_visible=True)
    assert stat_path(visible, "/data/hidden-by-mount")["name"] == "hidden-by-mount"
