"""The json-file log driver: the shim writes it, ``docker logs`` reads it.

One JSON object per line, as Docker's json-file driver writes them::

    {"log":"hi\\n","stream":"stdout","time":"2026-11-28T03:51:25.123456789Z"}

Output is split at newlines: every complete line is one entry ending in "\\n"; the rest of a read
chunk (a line still being written) is an entry of its own without one, so nothing waits in a
buffer and ``docker logs`` joins the pieces back. Rotation follows Docker's: when the next entry
would take the file past ``max_size``, ``x-json.log`` becomes ``x-json.log.1`` (``.1`` becomes
``.2`` ...) and only ``max_file`` files are kept; with ``max_file`` 1 the full file is dropped.
Files are renamed, never truncated, so a reader holding the old file reads it to its end.

:class:`JsonFileWriter` runs in the shim and imports only the standard library's C parts
(``_json``); :func:`read_logs` runs in the daemon.
"""

from __future__ import annotations

import os
import time
from _json import encode_basestring

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator
    from pathlib import Path

#: The read size of the log readers.
_BLOCK = 65536


# ---------------------------------------------------------------- timestamps


class _Clock:
    """RFC 3339 UTC timestamps with nanoseconds, the date part cached per second."""

    __slots__ = ("_prefix", "_sec")

    def __init__(self) -> None:
        self._sec = -1
        self._prefix = ""

    def format(self, t_ns: int) -> str:
        sec, ns = divmod(t_ns, 1_000_000_000)
        if sec != self._sec:
            self._sec = sec
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return f"{self._prefix}.{ns:09d}Z"


_clock = _Clock()


def format_time(t_ns: int) -> str:
    """``2026-11-28T03:51:25.123456789Z``: Docker's RFC3339NanoFixed, always nine digits."""
    return _clock.format(t_ns)


def parse_time(text: str) -> int:
    """Nanoseconds since the epoch from an RFC 3339 timestamp (any fraction length, Z or offset).

    Docker writes ``time`` with Go's RFC3339Nano, which trims trailing zeros of the fraction
    (``...:25.1Z``, or no fraction at all); ours always has nine digits. Both parse here.
    """
    import calendar

    try:
        base = calendar.timegm(
            (int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]),
             int(text[17:19]), 0, 0, 0)
        )  # fmt: skip
        rest = text[19:]
        frac = 0
        if rest.startswith("."):
            digits = 0
            while digits + 1 < len(rest) and rest[digits + 1].isdigit():
                digits += 1
            frac = int(rest[1 : 1 + digits][:9].ljust(9, "0"))
            rest = rest[1 + digits :]
        offset = 0
        if rest not in ("Z", "z"):
            sign = -1 if rest[0] == "-" else 1
            if rest[0] not in "+-" or len(rest) != 6:
                raise ValueError(rest)
            offset = sign * (int(rest[1:3]) * 3600 + int(rest[4:6]) * 60)
    except (ValueError, IndexError):
        from dockyard.errors import InvalidArgument

        raise InvalidArgument(
            f"invalid log timestamp {text!r}: use RFC 3339, e.g. 2026-11-28T03:51:25.123456789Z"
        ) from None
    return (base - offset) * 1_000_000_000 + frac


# ---------------------------------------------------------------- the writer (in the shim)


class JsonFileWriter:
    """Appends log entries to ``path``, rotating at ``max_size`` bytes and keeping ``max_file`` files.

    ``max_size`` None (Docker's default, -1) never rotates. A write that fails (a full disk)
    raises OSError; the shim counts it and goes on, so the container never blocks on its log.
    """

    __slots__ = ("_fd", "_inode", "_size", "max_file", "max_size", "path")

    def __init__(self, path: str | os.PathLike[str], max_size: int | None = None, max_file: int = 1) -> None:
        from dockyard.errors import InvalidArgument

        if max_size is not None and max_size <= 0:
            raise InvalidArgument(f"log max-size {max_size}: must be a positive number of bytes")
        if max_file < 1:
            raise InvalidArgument(f"log max-file {max_file}: must be at least 1")
        self.path = os.fspath(path)
        self.max_size = max_size
        self.max_file = max_file
        self._fd = -1
        self._inode = 0
        self._size = 0
        self._open()

    def _open(self) -> None:
        # 0640, as Docker creates its log files.
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        st = os.fstat(self._fd)
        self._inode = st.st_ino
        self._size = st.st_size

    def write(self, stream: str, data: bytes, t_ns: int | None = None) -> None:
        """Log ``data`` read from ``stream`` ("stdout" or "stderr") at ``t_ns`` (default: now)."""
        if not data:
            return
        tail = f',"stream":"{stream}","time":"{_clock.format(time.time_ns() if t_ns is None else t_ns)}"}}\n'
        batch: list[bytes] = []
        pending = 0
        start = 0
        end_all = len(data)
        while start < end_all:
            nl = data.find(b"\n", start)
            end = end_all if nl < 0 else nl + 1
            line = ('{"log":' + encode_basestring(data[start:end].decode("utf-8", "replace")) + tail).encode()
            start = end
            if (
                self.max_size is not None
                and self._size + pending > 0
                and self._size + pending + len(line) > self.max_size
            ):
                self._flush(batch)
                pending = 0
                batch = []
                self._rotate()
            batch.append(line)
            pending += len(line)
        self._flush(batch)

    def _flush(self, batch: list[bytes]) -> None:
        if not batch:
            return
        view = memoryview(b"".join(batch))
        while view:
            n = os.write(self._fd, view)
            self._size += n
            view = view[n:]

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = -1
        if self.max_file <= 1:
            _unlink_quiet(self.path)
        else:
            # x.log.(max_file-1) falls off the end; the rest move up by one.
            _unlink_quiet(f"{self.path}.{self.max_file - 1}")
            for i in range(self.max_file - 2, 0, -1):
                try:
                    os.rename(f"{self.path}.{i}", f"{self.path}.{i + 1}")
                except FileNotFoundError:
                    pass  # fewer rotations so far than max_file
            os.rename(self.path, f"{self.path}.1")
        self._open()

    def position(self) -> tuple[int, int]:
        """(inode, size) of the current file: where the next entry will start."""
        return self._inode, self._size

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass  # nothing to drop yet


# ---------------------------------------------------------------- the readers (in the daemon)


def log_files(path: str | os.PathLike[str]) -> list[str]:
    """The existing files of one log, oldest first: ``x.log.N`` ... ``x.log.1``, ``x.log``."""
    base = os.fspath(path)
    rotated = []
    i = 1
    while os.path.exists(f"{base}.{i}"):
        rotated.append(f"{base}.{i}")
        i += 1
    rotated.reverse()
    if os.path.exists(base):
        rotated.append(base)
    return rotated


class _Entry:
    __slots__ = ("data", "stream", "t_ns", "time")

    def __init__(self, line: bytes) -> None:
        from dockyard.oci import fastjson

        doc = fastjson.loads(line)
        self.stream: str = doc.get("stream", "stdout")
        self.time: str = doc.get("time", "")
        self.t_ns = parse_time(self.time) if self.time else 0
        self.data: bytes = doc.get("log", "").encode("utf-8", "surrogateescape")


def _parse(line: bytes) -> _Entry | None:
    try:
        return _Entry(line)
    except Exception:  # a torn or foreign line: skipped, as Docker's decoder resyncs on the next
        return None


class _Cursor:
    """Reads complete lines of one open log file from an offset, remembering a partial tail."""

    __slots__ = ("fd", "inode", "offset", "partial")

    def __init__(self, path: str, offset: int = 0) -> None:
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.inode = os.fstat(self.fd).st_ino
        self.offset = offset
        self.partial = b""

    def lines(self, limit: int | None = None) -> list[bytes]:
        """Complete lines from the offset to EOF (or to ``limit`` bytes of the file)."""
        out: list[bytes] = []
        while limit is None or self.offset < limit:
            size = _BLOCK if limit is None else min(_BLOCK, limit - self.offset)
            chunk = os.pread(self.fd, size, self.offset)
            if not chunk:
                break
            self.offset += len(chunk)
            data = self.partial + chunk
            parts = data.split(b"\n")
            self.partial = parts.pop()
            out.extend(p for p in parts if p)
        return out

    def close(self) -> None:
        os.close(self.fd)


def _tail_start(files: list[str], n: int) -> tuple[int, int]:
    """(index into ``files``, byte offset) from which exactly the last ``n`` entries remain.

    Scans backwards for newlines; a line still being written at the end of the live file has
    none yet, so it is not counted (it will be read as the next entry).
    """
    need = n
    for idx in range(len(files) - 1, -1, -1):
        try:
            fd = os.open(files[idx], os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # rotated away while we looked
        try:
            count = 0
            pos = os.fstat(fd).st_size
            while pos > 0:
                start = max(0, pos - _BLOCK)
                block = os.pread(fd, pos - start, start)
                i = len(block)
                while (j := block.rfind(b"\n", 0, i)) >= 0:
                    count += 1
                    # The (need+1)-th newline from the end ends the line before the wanted ones.
                    if count == need + 1:
                        return idx, start + j + 1
                    i = j
                pos = start
        finally:
            os.close(fd)
        need -= count
        if need == 0:
            return idx, 0
    return 0, 0


def read_log_until(path: str | os.PathLike[str], inode: int, offset: int) -> Iterator[tuple[str, bytes]]:
    """Every entry written before position (``inode``, ``offset``), oldest first.

    The shim answers an attach that asked for the log with the writer's position at the moment
    the client joined the live stream; replaying up to exactly there loses and doubles nothing,
    even when the file was rotated in between (the position names the file by inode).
    """
    for name in log_files(path):
        try:
            cur = _Cursor(name)
        except FileNotFoundError:
            continue
        try:
            target = cur.inode == inode
            for line in cur.lines(offset if target else None):
                entry = _parse(line)
                if entry is not None:
                    yield entry.stream, entry.data
        finally:
            cur.close()
        if target:
            return


async def read_logs(
    path: str | os.PathLike[str] | Path,
    *,
    follow: bool = False,
    since: float | None = None,
    until: float | None = None,
    tail: int | None = None,
    stdout: bool = True,
    stderr: bool = True,
    timestamps: bool = False,
    until_exit: Callable[[], bool] | None = None,
    poll_interval: float = 0.05,
) -> AsyncIterator[tuple[str, bytes]]:
    """Entries of the json-file log at ``path`` as (stream, bytes), oldest first.

    ``since``/``until`` are Unix times in seconds (fractions allowed; Docker's API sends
    "1700000000.000000001" strings, the daemon converts); ``tail`` keeps the last N entries of
    both streams (None or negative: all), counted before the stream filter, as Docker counts.
    ``timestamps`` prefixes each entry with its time and a space. With ``follow`` the reader
    keeps going at the end of the file -- across rotations, finishing the renamed file before it
    opens the new one -- until ``until`` has passed or ``until_exit()`` says the container has
    exited (one last read then catches what the shim flushed before it wrote exit.json).
    """
    import asyncio

    since_ns = None if since is None else int(since * 1_000_000_000)
    until_ns = None if until is None else int(until * 1_000_000_000)
    base = os.fspath(path)
    files = log_files(base)
    idx, offset = (0, 0) if tail is None or tail < 0 or not files else _tail_start(files, tail)

    def emit(lines: list[bytes]) -> Iterator[tuple[str, bytes] | None]:
        """Filtered entries; a None marks "past until": stop."""
        for line in lines:
            e = _parse(line)
            if e is None:
                continue
            if until_ns is not None and e.t_ns > until_ns:
                yield None
                return
            if since_ns is not None and e.t_ns < since_ns:
                continue
            if (e.stream == "stdout" and not stdout) or (e.stream == "stderr" and not stderr):
                continue
            data = e.data
            if timestamps:
                data = format_time(e.t_ns).encode() + b" " + data
            yield e.stream, data

    def exited() -> bool:
        return until_exit is not None and until_exit()

    # One cursor walks the files oldest to newest; the next file is found by the inode of the
    # current one, never by a name taken earlier: names shift at every rotation.
    cur: _Cursor | None = None
    if files:
        try:
            cur = _Cursor(files[idx], offset)
        except FileNotFoundError:
            cur = None  # rotated away this instant: the live file is where to go on
    stuck = 0
    try:
        while True:
            if cur is None:
                try:
                    cur = _Cursor(base)
                except FileNotFoundError:
                    if not follow or exited():
                        return
                    await asyncio.sleep(poll_interval)
                    continue
            got = cur.lines()
            for item in emit(got):
                if item is None:
                    return
                yield item
            if got:
                continue
            if _is_live(base, cur):
                stuck = 0
                if not follow or (until_ns is not None and time.time_ns() > until_ns):
                    return
                if exited():
                    # The shim flushed the log before it wrote exit.json: one last read.
                    for item in emit(cur.lines()):
                        if item is None:
                            return
                        yield item
                    return
            else:
                nxt = _next_file(base, cur)
                if nxt is not None:
                    # The writer closed the file before renaming it: what we hold is complete.
                    for item in emit(cur.lines()):
                        if item is None:
                            nxt.close()
                            return
                        yield item
                    cur.close()
                    cur = nxt
                    stuck = 0
                    continue
                if follow and exited():
                    # The writer is done (it flushed before the exit was recorded), so no rotation
                    # is under way: the log was removed with its container. What we hold is all.
                    for item in emit(cur.lines()):
                        if item is None:
                            return
                        yield item
                    return
                # In the middle of a rotation (a name missing for an instant), or the log was
                # removed: try again, but not forever when not following.
                stuck += 1
                if (not follow and stuck > 100) or (follow and exited() and stuck > 100):
                    return
            await asyncio.sleep(poll_interval if follow else 0.005)
    finally:
        if cur is not None:
            cur.close()


def _is_live(base: str, cur: _Cursor) -> bool:
    """True while ``base`` names the file ``cur`` reads.

    A size below our offset means someone truncated the file in place (``truncate -s 0``):
    start over from its beginning.
    """
    try:
        st = os.stat(base)
    except FileNotFoundError:
        return False
    if st.st_ino != cur.inode:
        return False
    if st.st_size < cur.offset:
        cur.offset = 0
        cur.partial = b""
    return True


def _inode(name: str) -> int:
    try:
        return os.stat(name).st_ino
    except FileNotFoundError:
        return 0


def _next_file(base: str, cur: _Cursor) -> _Cursor | None:
    """The file written after the one ``cur`` reads, opened; None if that cannot be told now.

    The rotated files are ``base.1`` (newest) ... ``base.N``; the one after ``base.k`` is
    ``base.(k-1)``, after ``base.1`` the live ``base``. The names are looked up, the file
    opened, and the names checked again: a rotation in between shifts every name by one, and
    the caller simply asks again. A file we read that has no name left (dropped by rotation
    before we finished it; always so with max-file 1) is followed by the oldest file kept.
    """
    if os.fstat(cur.fd).st_nlink == 0:
        for name in log_files(base):
            try:
                return _Cursor(name)
            except FileNotFoundError:
                continue
        return None
    k = 1
    while True:
        ino = _inode(f"{base}.{k}")
        if ino == 0:
            return None  # not found (mid-rotation): ask again
        if ino == cur.inode:
            break
        k += 1
    name = f"{base}.{k - 1}" if k > 1 else base
    try:
        nxt = _Cursor(name)
    except FileNotFoundError:
        return None
    if _inode(f"{base}.{k}") == cur.inode and _inode(name) == nxt.inode:
        return nxt
    nxt.close()
    return None
