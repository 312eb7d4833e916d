"""COPY/ADD on real folders: sources, globs, destination rules, owners, modes, archives."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from dockyard.build.copy import Copier, Owner, content_hash, find_sources, parse_chmod, resolve_owner
from dockyard.errors import InvalidArgument, NotFound


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("A")
    (root / "b.txt").write_text("B")
    (root / ".hidden").write_text("H")
    (root / "dir" / "x").write_text("X")
    (root / "dir" / "sub" / "y").write_text("Y")
    os.symlink("a.txt", root / "link")
    return root


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\nstaff:x:50:\n")
    (root / "existing").mkdir()
    os.symlink("/existing", root / "alias")
    return root


def test_find_sources_plain_glob_and_errors(ctx: Path) -> None:
    assert [s.rel for s in find_sources(str(ctx), "/a.txt")] == ["a.txt"]
    assert [s.rel for s in find_sources(str(ctx), "*.txt")] == ["a.txt", "b.txt"]
    assert ".hidden" in [s.rel for s in find_sources(str(ctx), "*")]
    assert find_sources(str(ctx), "link")[0].path == str(ctx / "a.txt")  # followed inside the root
    with pytest.raises(InvalidArgument, match=r"forbidden path outside the build context: \.\./x"):
        find_sources(str(ctx), "../x")
    with pytest.raises(NotFound, match="file not found in build context"):
        find_sources(str(ctx), "missing.txt")
    with pytest.raises(NotFound, match="no source files"):
        find_sources(str(ctx), "*.none")


def test_symlink_cannot_lead_out_of_the_context(ctx: Path, tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("S")
    os.symlink("../secret", ctx / "escape")
    with pytest.raises(NotFound):
        find_sources(str(ctx), "escape")  # resolved as ctx/secret: "/.." stops at the root


def test_content_hash_ignores_mtime_not_content(ctx: Path) -> None:
    first = content_hash(find_sources(str(ctx), "dir"))
    os.utime(ctx / "dir" / "x", (1, 1))
    assert content_hash(find_sources(str(ctx), "dir")) == first
    (ctx / "dir" / "x").write_text("Z")
    assert content_hash(find_sources(str(ctx), "dir")) != first
    os.chmod(ctx / "a.txt", 0o600)
    h1 = content_hash(find_sources(str(ctx), "a.txt"))
    os.chmod(ctx / "a.txt", 0o644)
    assert content_hash(find_sources(str(ctx), "a.txt")) != h1


def test_copy_file_to_file_and_into_dir(ctx: Path, rootfs: Path) -> None:
    c = Copier(str(rootfs), Owner(), None)
    c.copy(find_sources(str(ctx), "a.txt"), "/new/name.txt")
    assert (rootfs / "new" / "name.txt").read_text() == "A"
    c.copy(find_sources(str(ctx), "a.txt"), "/existing")
    assert (rootfs / "existing" / "a.txt").read_text() == "A"
    c.copy(find_sources(str(ctx), "b.txt"), "/alias/")  # through the image's symlink, inside it
    assert (rootfs / "existing" / "b.txt").read_text() == "B"
    c.copy(find_sources(str(ctx), "*.txt"), "/multi/")
    assert sorted(os.listdir(rootfs / "multi")) == ["a.txt", "b.txt"]
    with pytest.raises(InvalidArgument, match="must be a directory and end with a /"):
        c.copy(find_sources(str(ctx), "*.txt"), "/nodir")


def test_copy_directory_contents_owner_and_chmod(ctx: Path, rootfs: Path) -> None:
    owner = resolve_owner(str(rootfs), "app:staff")
    assert (owner.uid, owner.gid) == (1000, 50)
    assert resolve_owner(str(rootfs), "app") == Owner(1000, 1001)
    assert resolve_owner(str(rootfs), "7:8") == Owner(7, 8)
    with pytest.raises(NotFound, match="no such user 'nobody'"):
        resolve_owner(str(rootfs), "nobody")
    Copier(str(rootfs), owner, parse_chmod("0750")).copy(find_sources(str(ctx), "dir"), "/app")
    assert (rootfs / "app" / "x").read_text() == "X" and (rootfs / "app" / "sub" / "y").exists()
    st = os.stat(rootfs / "app" / "sub" / "y")
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1000, 50, 0o750)
    with pytest.raises(InvalidArgument, match="octal"):
        parse_chmod("rwx")


def test_add_extracts_local_archive(tmp_path: Path, rootfs: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"inside"
        info = tarfile.TarInfo("pkg/file")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        evil = tarfile.TarInfo("../../evil")
        evil.size = 1
        tar.addfile(evil, io.BytesIO(b"x"))
    ctx = tmp_path / "c2"
    ctx.mkdir()
    (ctx / "pkg.tgz").write_bytes(buf.getvalue())
    Copier(str(rootfs), Owner(), None).copy(find_sources(str(ctx), "pkg.tgz"), "/opt/", extract=True)
    assert (rootfs / "opt" / "pkg" / "file").read_bytes() == b"inside"
    assert not (tmp_path / "evil").exists()
    Copier(str(rootfs), Owner(), None).copy(find_sources(str(ctx), "pkg.tgz"), "/raw/")
    assert (rootfs / "raw" / "pkg.tgz").exists()
