"""The filesystem driver's promises: whole objects or nothing, idempotent delete, hidden temps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.registry.storage import PathNotFound
from dockyard.registry.storage.filesystem import TMP_PREFIX, FilesystemDriver


def test_writer_publishes_only_at_commit(tmp_path: Path) -> None:
    d = FilesystemDriver(str(tmp_path), fsync=False)
    w = d.writer("a/b/obj")
    w.write(b"half")
    assert d.stat("a/b/obj") is None
    assert d.list_dir("a/b") == []  # the temp file is hidden
    assert any(n.startswith(TMP_PREFIX) for n in os.listdir(tmp_path / "a" / "b"))
    w.write(b" and the rest")
    w.commit()
    assert d.get_content("a/b/obj") == b"half and the rest"
    c = d.writer("a/b/other")
    c.write(b"x")
    c.cancel()
    assert d.list_dir("a/b") == ["obj"]
    assert os.listdir(tmp_path / "a" / "b") == ["obj"]


def test_put_replace_move_delete(tmp_path: Path) -> None:
    d = FilesystemDriver(str(tmp_path), fsync=True)
    d.put_content("x/one", b"1")
    d.put_content("x/one", b"2")
    assert d.get_content("x/one") == b"2"
    d.move("x/one", "y/z/two")
    assert d.stat("x/one") is None
    assert d.get_content("y/z/two") == b"2"
    with pytest.raises(PathNotFound):
        d.move("x/one", "y/z/three")
    d.delete("y")
    d.delete("y")  # already gone: no error
    assert d.stat("y") is None
    assert d.list_dir("") == []  # empty parents pruned
    with pytest.raises(PathNotFound):
        d.get_content("y/z/two")


def test_concat_walk_and_read_offset(tmp_path: Path) -> None:
    d = FilesystemDriver(str(tmp_path), fsync=False)
    d.put_content("c/0", b"abc")
    d.put_content("c/1", b"def")
    d.concat("joined", ["c/0", "c/1"])
    with d.open_read("joined", 2) as f:
        assert f.read() == b"cdef"
    assert sorted(i.path for i in d.walk("c")) == ["c/0", "c/1"]
    info = d.stat("c")
    assert info is not None and info.is_dir
