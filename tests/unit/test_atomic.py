"""write_atomic: readers see the old or the new file, never a part; no temp file survives."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.util.atomic import fsync_dir, write_atomic


@pytest.fixture(autouse=True)
def known_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def entries(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def test_creates_file_with_content_and_default_mode(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    write_atomic(str(target), b'{"pid": 1}')
    assert target.read_bytes() == b'{"pid": 1}'
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert entries(tmp_path) == ["state.json"]


def test_replaces_content_with_a_new_inode(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old content that is longer than the new one")
    before = target.stat().st_ino
    write_atomic(str(target), b"new")
    assert target.read_bytes() == b"new"
    # rename(2) swaps the directory entry: a reader holding the old file keeps the old bytes.
    assert target.stat().st_ino != before
    assert entries(tmp_path) == ["state.json"]


def test_open_reader_keeps_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    with open(target, "rb") as reader:
        write_atomic(str(target), b"new")
        assert reader.read() == b"old"
    assert target.read_bytes() == b"new"


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_mode(tmp_path: Path, mode: int) -> None:
    target = tmp_path / "secret"
    write_atomic(str(target), b"x", mode=mode)
    assert stat.S_IMODE(target.stat().st_mode) == mode


def test_empty_and_large_data(tmp_path: Path) -> None:
    write_atomic(str(tmp_path / "empty"), b"")
    assert (tmp_path / "empty").read_bytes() == b""
    big = os.urandom(3 * 1024 * 1024 + 7)
    write_atomic(str(tmp_path / "big"), big)
    assert (tmp_path / "big").read_bytes() == big


def test_short_writes_are_continued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write

    def short_write(fd: int, data: bytes | memoryview) -> int:
        return real_write(fd, bytes(data[:3]))  # write(2) may write less than asked

    monkeypatch.setattr("dockyard.util.atomic.os.write", short_write)
    write_atomic(str(tmp_path / "f"), b"0123456789abcdef")
    assert (tmp_path / "f").read_bytes() == b"0123456789abcdef"


def test_temp_removed_and_target_untouched_when_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")

    def failing_write(fd: int, data: bytes | memoryview) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("dockyard.util.atomic.os.write", failing_write)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(str(target), b"new")
    assert target.read_bytes() == b"old"
    assert entries(tmp_path) == ["state.json"]


def test_temp_removed_when_fsync_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("dockyard.util.atomic.os.fsync", failing_fsync)
    with pytest.raises(OSError, match="Input/output"):
        write_atomic(str(tmp_path / "f"), b"data")
    assert entries(tmp_path) == []


def test_temp_removed_when_rename_fails(tmp_path: Path) -> None:
    # rename(2) of a file over a non-empty directory fails (EISDIR).
    target = tmp_path / "dir"
    target.mkdir()
    (target / "inside").write_bytes(b"")
    with pytest.raises(OSError):
        write_atomic(str(target), b"data")
    assert entries(tmp_path) == ["dir"]
    assert entries(target) == ["inside"]


def test_relative_path_in_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_atomic("relative", b"x")
    assert (tmp_path / "relative").read_bytes() == b"x"


def test_missing_folder_raises_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomic(str(tmp_path / "absent" / "f"), b"x")
    assert entries(tmp_path) == []


def test_sync_fsyncs_file_and_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr("dockyard.util.atomic.os.fsync", recording_fsync)
    write_atomic(str(tmp_path / "f"), b"x")
    assert len(synced) == 2
    assert os.path.dirname(synced[0]) == str(tmp_path)  # the temp file, before the rename
    assert synced[1] == str(tmp_path)  # then the folder, so the new entry is durable

    synced.clear()
    write_atomic(str(tmp_path / "g"), b"y", sync=False)
    assert synced == []
    assert (tmp_path / "g").read_bytes() == b"y"


def test_fsync_dir(tmp_path: Path) -> None:
    fsync_dir(str(tmp_path))
    with pytest.raises(NotADirectoryError):
        (tmp_path / "file").write_bytes(b"")
        fsync_dir(str(tmp_path / "file"))
