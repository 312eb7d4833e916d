"""secure_join keeps every resolution inside the root (the CVE-2021-30465 class)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime.paths import is_within, mkdir_all_inside, open_inside, secure_join


def test_plain_path(tmp_path: Path) -> None:
    assert secure_join(str(tmp_path), "/a/b") == f"{tmp_path}/a/b"


def test_dotdot_cannot_climb(tmp_path: Path) -> None:
    assert secure_join(str(tmp_path), "/../../etc/passwd") == f"{tmp_path}/etc/passwd"


def test_absolute_symlink_is_rooted(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    os.symlink("/etc", tmp_path / "link")
    assert secure_join(str(tmp_path), "/link/shadow") == f"{tmp_path}/etc/shadow"


def test_relative_symlink_escape_is_clamped(tmp_path: Path) -> None:
    os.symlink("../../../../tmp", tmp_path / "esc")
    assert secure_join(str(tmp_path), "/esc/x") == f"{tmp_path}/tmp/x"


def test_symlink_loop(tmp_path: Path) -> None:
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    with pytest.raises(InvalidArgument, match="too many levels"):
        secure_join(str(tmp_path), "/a")


def test_open_inside_rejects_outside(tmp_path: Path) -> None:
    inside = tmp_path / "root"
    inside.mkdir()
    fd = open_inside(str(inside), str(inside))
    os.close(fd)
    with pytest.raises(InvalidArgument, match="outside"):
        open_inside(str(inside), str(tmp_path))


def test_mkdir_all_refuses_symlink_component(tmp_path: Path) -> None:
    os.symlink("/tmp", tmp_path / "evil")
    with pytest.raises(InvalidArgument, match="symbolic link"):
        mkdir_all_inside(str(tmp_path), f"{tmp_path}/evil/x")


def test_is_within() -> None:
    assert is_within("/a/b", "/a/b/c")
    assert not is_within("/a/b", "/a/bc")
