"""The json-file log: the writer's format and rotation, the readers' filters and following."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from dockyard.engine.logs import (
    JsonFileWriter,
    format_time,
    log_files,
    parse_time,
    read_log_until,
    read_logs,
)
from dockyard.errors import InvalidArgument

T0 = 1_764_300_000_000_000_000  # 2025-11-28T03:20:00Z in ns


def entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def collect(path: Path, **kw: Any) -> list[tuple[str, bytes]]:
    async def main() -> list[tuple[str, bytes]]:
        return [item async for item in read_logs(path, **kw)]

    return asyncio.run(asyncio.wait_for(main(), 10))


# ---------------------------------------------------------------- timestamps


def test_format_time_is_fixed_nine_digits() -> None:
    assert format_time(T0) == "2025-11-28T03:20:00.000000000Z"
    assert format_time(T0 + 123_456_789) == "2025-11-28T03:20:00.123456789Z"
    assert format_time(T0 + 1_000_000_001) == "2025-11-28T03:20:01.000000001Z"


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2025-11-28T03:20:00.123456789Z", T0 + 123_456_789),
        ("2025-11-28T03:20:00.1Z", T0 + 100_000_000),  # Go's RFC3339Nano trims zeros
        ("2025-11-28T03:20:00Z", T0),
        ("2025-11-28T04:20:00.5+01:00", T0 + 500_000_000),
        ("2025-11-28T02:50:00-00:30", T0),
    ],
)
def test_parse_time(text: str, ns: int) -> None:
    assert parse_time(text) == ns


def test_parse_time_names_the_bad_value() -> None:
    with pytest.raises(InvalidArgument, match="'yesterday'"):
        parse_time("yesterday")


# ---------------------------------------------------------------- writing


def test_one_entry_per_line_and_the_partial_rest(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    w = JsonFileWriter(path)
    w.write("stdout", b"one\ntwo\nthr", T0)
    w.write("stderr", b"ee\n", T0 + 1)
    w.close()
    assert path.read_text() == (
        '{"log":"one\\n","stream":"stdout","time":"2025-11-28T03:20:00.000000000Z"}\n'
        '{"log":"two\\n","stream":"stdout","time":"2025-11-28T03:20:00.000000000Z"}\n'
        '{"log":"thr","stream":"stdout","time":"2025-11-28T03:20:00.000000000Z"}\n'
        '{"log":"ee\\n","stream":"stderr","time":"2025-11-28T03:20:00.000000001Z"}\n'
    )
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_escaping_and_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    w = JsonFileWriter(path)
    w.write("stdout", b'tab\t"q" \\ \x1b[1m caf\xc3\xa9 bad\xff\n', T0)
    w.close()
    (e,) = entries(path)
    assert e["log"] == 'tab\t"q" \\ \x1b[1m café bad\ufffd\n'


def test_appends_to_an_existing_log(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    for word in (b"a\n", b"b\n"):
        w = JsonFileWriter(path)
        w.write("stdout", word, T0)
        w.close()
    assert [e["log"] for e in entries(path)] == ["a\n", "b\n"]


def test_rotation_keeps_max_file_files_under_max_size(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    w = JsonFileWriter(path, max_size=300, max_file=3)
    for i in range(40):
        w.write("stdout", f"line {i:02d}\n".encode(), T0 + i)
    w.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["c-json.log", "c-json.log.1", "c-json.log.2"]
    for p in tmp_path.iterdir():
        assert 0 < p.stat().st_size <= 300
    logged = [e["log"] for f in log_files(path) for e in entries(Path(f))]
    # Oldest first, contiguous, ending with the last line written.
    assert logged[-1] == "line 39\n"
    first = int(logged[0].split()[1])
    assert logged == [f"line {i:02d}\n" for i in range(first, 40)]


def test_rotation_with_one_file_drops_the_full_one(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    w = JsonFileWriter(path, max_size=200, max_file=1)
    for i in range(10):
        w.write("stdout", f"line {i}\n".encode(), T0)
    w.close()
    assert [p.name for p in tmp_path.iterdir()] == ["c-json.log"]
    assert entries(path)[-1]["log"] == "line 9\n"


def test_one_chunk_rotates_in_the_middle(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    w = JsonFileWriter(path, max_size=250, max_file=2)
    w.write("stdout", b"".join(f"l{i}\n".encode() for i in range(6)), T0)
    w.close()
    got = [e["log"] for f in log_files(path) for e in entries(Path(f))]
    assert got[-1] == "l5\n" and len(got) >= 3


def test_position_names_file_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    w = JsonFileWriter(path)
    w.write("stdout", b"x\n", T0)
    inode, offset = w.position()
    assert inode == os.stat(path).st_ino and offset == os.path.getsize(path)
    w.close()


@pytest.mark.parametrize(("size", "files"), [(0, 1), (-5, 1), (100, 0)])
def test_bad_limits_are_refused(tmp_path: Path, size: int, files: int) -> None:
    with pytest.raises(InvalidArgument):
        JsonFileWriter(tmp_path / "x.log", max_size=size, max_file=files)


# ---------------------------------------------------------------- reading


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """Ten entries, a second apart, alternating stdout/stderr, rotated over three files."""
    path = tmp_path / "c-json.log"
    w = JsonFileWriter(path, max_size=300, max_file=5)
    for i in range(10):
        w.write("stdout" if i % 2 == 0 else "stderr", f"m{i}\n".encode(), T0 + i * 1_000_000_000)
    w.close()
    assert len(log_files(path)) == 3
    return path


def test_read_all_oldest_first(log: Path) -> None:
    assert collect(log) == [("stdout" if i % 2 == 0 else "stderr", f"m{i}\n".encode()) for i in range(10)]


def test_streams_filter(log: Path) -> None:
    assert [d for _, d in collect(log, stderr=False)] == [f"m{i}\n".encode() for i in range(0, 10, 2)]
    assert [s for s, _ in collect(log, stdout=False)] == ["stderr"] * 5


def test_since_and_until(log: Path) -> None:
    t = T0 / 1e9
    got = [d for _, d in collect(log, since=t + 3, until=t + 6)]
    assert got == [b"m3\n", b"m4\n", b"m5\n", b"m6\n"]


@pytest.mark.parametrize("n", [0, 1, 3, 4, 9, 10, 25])
def test_tail_across_files(log: Path, n: int) -> None:
    got = [d for _, d in collect(log, tail=n)]
    assert got == [f"m{i}\n".encode() for i in range(max(0, 10 - n), 10)]


def test_tail_counts_both_streams_before_filtering(log: Path) -> None:
    # Docker counts the last N messages, then filters by stream.
    assert [d for _, d in collect(log, tail=3, stderr=False)] == [b"m8\n"]


def test_tail_skips_a_line_being_written(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    w = JsonFileWriter(path)
    for i in range(3):
        w.write("stdout", f"m{i}\n".encode(), T0)
    w.close()
    with open(path, "a") as f:
        f.write('{"log":"torn')
    assert [d for _, d in collect(path, tail=2)] == [b"m1\n", b"m2\n"]
    assert [d for _, d in collect(path)] == [b"m0\n", b"m1\n", b"m2\n"]


def test_timestamps(log: Path) -> None:
    got = collect(log, tail=1, timestamps=True)
    assert got == [("stderr", b"2025-11-28T03:20:09.000000000Z m9\n")]


def test_missing_log_is_empty(tmp_path: Path) -> None:
    assert collect(tmp_path / "none.log") == []


def test_read_log_until_a_position_across_rotation(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    w = JsonFileWriter(path, max_size=300, max_file=5)
    for i in range(6):
        w.write("stdout", f"a{i}\n".encode(), T0)
    inode, offset = w.position()
    for i in range(6):
        w.write("stdout", f"b{i}\n".encode(), T0)  # rotates: the position's file is now .1 or .2
    w.close()
    got = [d for _, d in read_log_until(path, inode, offset)]
    assert got == [f"a{i}\n".encode() for i in range(6)]


def test_follow_across_rotations_until_exit(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    w = JsonFileWriter(path, max_size=250, max_file=3)
    w.write("stdout", b"first\n", T0)
    done = False

    async def writer() -> None:
        nonlocal done
        for i in range(30):
            w.write("stdout", f"w{i}\n".encode())
            await asyncio.sleep(0.005 if i % 5 else 0.08)  # rotations while the reader waits
        w.close()
        done = True

    async def main() -> list[bytes]:
        task = asyncio.create_task(writer())
        got = [d async for _, d in read_logs(path, follow=True, until_exit=lambda: done, poll_interval=0.01)]
        await task
        return got

    got = asyncio.run(asyncio.wait_for(main(), 20))
    assert got == [b"first\n"] + [f"w{i}\n".encode() for i in range(30)]


def test_follow_stops_at_until(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    w = JsonFileWriter(path)
    w.write("stdout", b"old\n", T0)

    async def main() -> list[bytes]:
        return [d async for _, d in read_logs(path, follow=True, until=time.time() + 0.2, poll_interval=0.01)]

    started = time.monotonic()
    assert asyncio.run(asyncio.wait_for(main(), 10)) == [b"old\n"]
    assert time.monotonic() - started < 5
    w.close()


def test_follow_a_truncated_log_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    w = JsonFileWriter(path)
    w.write("stdout", b"before\n", T0)
    stop = False

    async def other() -> None:
        nonlocal stop
        await asyncio.sleep(0.1)
        os.truncate(path, 0)
        w2 = JsonFileWriter(path)
        w2.write("stdout", b"after\n", T0)
        w2.close()
        await asyncio.sleep(0.1)
        stop = True

    async def main() -> list[bytes]:
        task = asyncio.create_task(other())
        got = [d async for _, d in read_logs(path, follow=True, until_exit=lambda: stop, poll_interval=0.01)]
        await task
        return got

    assert asyncio.run(asyncio.wait_for(main(), 10)) == [b"before\n", b"after\n"]
    w.close()


def test_follow_keeps_up_with_a_writer_that_rotates_all_the_time(tmp_path: Path) -> None:
    """A writer thread rotating every few lines, the follower racing it: nothing lost or doubled."""
    import threading

    path = tmp_path / "c-json.log"
    # Every kept file is renamed at each rotation (as Docker does): keep their number modest.
    w = JsonFileWriter(path, max_size=1500, max_file=1000)
    done = threading.Event()

    def writer() -> None:
        for i in range(2000):
            w.write("stdout", f"r{i}\n".encode())
            if i % 20 == 0:
                time.sleep(0.0005)
        w.close()
        done.set()

    async def main() -> list[bytes]:
        t = threading.Thread(target=writer)
        t.start()
        try:
            return [
                d async for _, d in read_logs(path, follow=True, until_exit=done.is_set, poll_interval=0.001)
            ]
        finally:
            t.join()

    got = asyncio.run(asyncio.wait_for(main(), 60))
    assert got == [f"r{i}\n".encode() for i in range(2000)]
