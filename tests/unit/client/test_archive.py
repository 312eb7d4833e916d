"""docker cp's path rules and the tars it builds and extracts on the host (dockyard.client.archive)."""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from dockyard.client import archive
from dockyard.errors import InvalidArgument, NotFound

PS = archive.PathStat


def tar_of(entries: dict[str, bytes | None], links: dict[str, str] | None = None) -> io.BytesIO:
    """A tar of files (bytes) and folders (None), plus hard links name -> target."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.LNKTYPE
            info.linkname = target
            tar.addfile(info)
    out.seek(0)
    return out


def test_split_dir_entry() -> None:
    assert archive.split_dir_entry("/a/b") == ("/a", "b")
    assert archive.split_dir_entry("/a/b/") == ("/a", "b")
    assert archive.split_dir_entry("/a/.") == ("/a", ".")
    assert archive.split_dir_entry("b") == (".", "b")
    assert archive.split_dir_entry("/b") == ("/", "b")


def test_plan_follows_docker() -> None:
    file_src = PS("/etc/hosts", exists=True, is_dir=False)
    dir_src = PS("/etc/ssl", exists=True, is_dir=True)
    contents = PS("/etc/ssl/.", exists=True, is_dir=True)
    existing_dir = PS("/out", exists=True, is_dir=True)
    existing_file = PS("/out/f", exists=True, is_dir=False)
    new = PS("/out/new", exists=False, is_dir=False)
    assert archive.plan(file_src, existing_dir) == ("/out", "hosts", "hosts")
    assert archive.plan(dir_src, existing_dir) == ("/out", "ssl", "ssl")
    assert archive.plan(contents, existing_dir) == ("/out", ".", ".")
    assert archive.plan(file_src, existing_file) == ("/out", "hosts", "f")
    assert archive.plan(file_src, new) == ("/out", "hosts", "new")
    assert archive.plan(dir_src, new) == ("/out", "ssl", "new")
    assert archive.plan(contents, new) == ("/out", ".", "new")
    with pytest.raises(InvalidArgument, match="cannot copy a directory onto the file"):
        archive.plan(dir_src, existing_file)
    with pytest.raises(InvalidArgument, match="no such directory"):
        archive.plan(file_src, PS("/out/missing/", exists=False, is_dir=False))


def test_decode_stat_go_mode_bits() -> None:
    header = base64.b64encode(
        json.dumps({"name": "etc", "mode": archive.GO_MODE_DIR | 0o755}).encode()
    ).decode()
    stat = archive.decode_stat("/etc", header)
    assert stat.is_dir and stat.exists and stat.name == "etc"
    link = base64.b64encode(
        json.dumps({"name": "l", "mode": archive.GO_MODE_SYMLINK, "linkTarget": "/x"}).encode()
    )
    assert archive.decode_stat("/l", link.decode()).link_target == "/x"


def test_extract_renames_the_top_entry(tmp_path: Path) -> None:
    archive.extract(
        tar_of({"ssl": None, "ssl/a.pem": b"A", "ssl/sub": None, "ssl/sub/b": b"B"}),
        str(tmp_path),
        "ssl",
        "copy",
    )
    assert (tmp_path / "copy" / "a.pem").read_bytes() == b"A"
    assert (tmp_path / "copy" / "sub" / "b").read_bytes() == b"B"
    archive.extract(tar_of({"./": None, "./x": b"X"}), str(tmp_path / "copy"), ".", ".")
    assert (tmp_path / "copy" / "x").read_bytes() == b"X"


def test_extract_refuses_escapes(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(InvalidArgument, match="would land outside"):
        archive.extract(tar_of({"top/../../evil": b"x"}), str(dest), "top", "top")
    with pytest.raises(InvalidArgument, match="would land outside"):
        archive.extract(tar_of({"other/file": b"x"}), str(dest), "top", "top")
    with pytest.raises(InvalidArgument, match="refusing hard link"):
        archive.extract(tar_of({"top": None}, {"top/link": "/etc/passwd"}), str(dest), "top", "top")
    assert not (tmp_path / "evil").exists()
    with pytest.raises(NotFound, match="does not exist"):
        archive.extract(tar_of({"a": b""}), str(tmp_path / "missing"), "a", "a")


def test_extract_keeps_the_users_ownership(tmp_path: Path) -> None:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo("f")
        info.uid = info.gid = 4242
        info.size = 1
        tar.addfile(info, io.BytesIO(b"z"))
    data.seek(0)
    archive.extract(data, str(tmp_path), "f", "f")
    assert (tmp_path / "f").stat().st_uid == os.getuid()


def test_tar_path_names_and_contents(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f").write_text("F")
    (src / "link").symlink_to("sub/f")
    blob = b"".join(archive.tar_path(str(src), "renamed"))
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        names = tar.getnames()
        assert names == ["renamed", "renamed/link", "renamed/sub", "renamed/sub/f"]
        assert tar.getmember("renamed/link").issym()
    blob = b"".join(archive.tar_path(f"{src}/.", "."))
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        assert tar.getnames()[0] == "." and "./sub/f" in tar.getnames()
    with pytest.raises(NotFound, match="no such file or directory"):
        list(archive.tar_path(str(tmp_path / "nope"), "x"))
