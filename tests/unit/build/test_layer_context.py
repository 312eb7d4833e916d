"""Reproducible layer tars from an upper folder, and context unpacking with .dockerignore."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from dockyard.build.cache import BuildCache, step_key
from dockyard.build.context import apply_dockerignore, unpack
from dockyard.build.layer import layer_tar
from dockyard.build.state import parse_duration, parse_rfc3339, rfc3339
from dockyard.errors import InvalidArgument


def _tree(root: Path, mtime: int) -> None:
    (root / "b").mkdir(parents=True)
    (root / "b" / "z").write_text("z")
    (root / "a").write_text("a")
    (root / "etc").mkdir()
    (root / "etc" / "hosts").write_text("")  # an engine mount point: left out
    for p in [root / "b" / "z", root / "a", root / "b", root / "etc" / "hosts", root / "etc"]:
        os.utime(p, (mtime, mtime))


def test_layer_tar_is_reproducible_and_clamped(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    _tree(one, 2_000_000_000)
    _tree(two, 2_100_000_000)
    t1 = b"".join(layer_tar(one, 1000))
    t2 = b"".join(layer_tar(two, 1000))
    assert hashlib.sha256(t1).digest() == hashlib.sha256(t2).digest()
    with tarfile.open(fileobj=io.BytesIO(t1)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["a", "b", "b/z"]
    assert {m.mtime for m in members} == {1000}
    assert all(not m.pax_headers for m in members)
    older = b"".join(layer_tar(one, 2_050_000_000))
    with tarfile.open(fileobj=io.BytesIO(older)) as tar:
        assert {m.mtime for m in tar.getmembers()} == {2_000_000_000}  # older than T: kept


def test_layer_tar_writes_whiteouts(tmp_path: Path) -> None:
    upper = tmp_path / "u"
    upper.mkdir()
    os.mknod(upper / "gone", 0o600 | 0o020000, os.makedev(0, 0))
    with tarfile.open(fileobj=io.BytesIO(b"".join(layer_tar(upper, 0)))) as tar:
        assert tar.getnames() == [".wh.gone"]


def _tar(entries: dict[str, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.uid = 1234
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def test_unpack_context_and_dockerignore(tmp_path: Path) -> None:
    body = _tar(
        {
            "Dockerfile": b"FROM scratch\n",
            ".dockerignore": b"*.log\nsecret/\n!keep.log\nDockerfile\n",
            "a.log": b"x",
            "keep.log": b"k",
            "secret/key": b"k",
            "/abs/file": b"f",
            "../../outside": b"o",
            "src/main.c": b"int main;",
        }
    )
    folder = tmp_path / "ctx"
    assert unpack(body, folder) is None
    apply_dockerignore(folder, keep=("Dockerfile",))
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert names == [".dockerignore", "Dockerfile", "abs/file", "keep.log", "src/main.c"]
    assert not (tmp_path / "outside").exists()
    assert os.stat(folder / "src" / "main.c").st_uid == 0


def test_unpack_never_writes_through_a_symlink(tmp_path: Path) -> None:
    buf = io.BytesIO()
    outside = tmp_path / "outside"
    outside.mkdir()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        link = tarfile.TarInfo("escape")
        link.type = tarfile.SYMTYPE
        link.linkname = str(outside)
        tar.addfile(link)
        for name in ("escape/made/file", "escape/file"):
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    buf.seek(0)
    unpack(buf, tmp_path / "ctx")
    assert os.listdir(outside) == []
    assert os.readlink(tmp_path / "ctx" / "escape") == str(outside)


def test_unpack_plain_dockerfile_and_bad_tar(tmp_path: Path) -> None:
    assert unpack(io.BytesIO(b"FROM busybox\nRUN true\n"), tmp_path / "x") == "FROM busybox\nRUN true\n"
    with pytest.raises(InvalidArgument, match="empty"):
        unpack(io.BytesIO(b""), tmp_path / "y")


def test_cache_roundtrip(tmp_path: Path) -> None:
    cache = BuildCache(tmp_path / "c.db")
    try:
        k = step_key("sha256:p", {"run": ["a"]})
        assert k != step_key("sha256:p", {"run": ["b"]}) and k != step_key(None, {"run": ["a"]})
        assert cache.get(k) is None
        cache.put(k, "sha256:i")
        assert cache.get(k) == "sha256:i" and cache.image_ids() == {"sha256:i"}
        assert cache.clear() == 1 and cache.get(k) is None
    finally:
        cache.close()


def test_time_and_duration_helpers() -> None:
    assert rfc3339(0) == "1970-01-01T00:00:00Z"
    assert parse_rfc3339("2024-01-02T03:04:05.123456789Z") == 1704164645
    assert parse_rfc3339("2024-01-02T05:04:05+02:00") == 1704164645
    assert parse_duration("1m30s", "interval") == 90 * 10**9
    assert parse_duration("500ms", "timeout") == 5 * 10**8
    with pytest.raises(InvalidArgument, match="invalid duration"):
        parse_duration("5x", "interval")


def test_copied_up_folders_without_changes_are_left_out(tmp_path: Path) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    for root in (lower, upper):
        (root / "etc").mkdir(parents=True)
        (root / "root").mkdir()
        (root / "var").mkdir()
    (upper / "etc" / "hostname").write_text("")  # a mount point the runtime made
    (upper / "root" / ".cache").mkdir()  # a RUN --mount target
    (upper / "var" / "new").write_text("n")  # a real change below a copied-up folder
    tar = b"".join(layer_tar(upper, 0, [lower], {"root/.cache", "root"}))
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        assert t.getnames() == ["var", "var/new"]
    os.chmod(upper / "root", 0o700)  # a real change of the folder itself
    tar = b"".join(layer_tar(upper, 0, [lower], {"root/.cache", "root"}))
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        assert t.getnames() == ["root", "var", "var/new"]
