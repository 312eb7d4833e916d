"""The filesystem driver: objects are files under a root folder, published by rename(2).

A new object is written to a hidden temp file in its own folder (same filesystem, so rename is
atomic), optionally fsynced, then renamed over the target; the folder is fsynced after the rename
so a crash keeps either the old or the new entry. Temp names carry a random token: several
threads and processes may write the same path at once (8 clients pushing one blob).
Leftover temp files of a killed process start with ".tmp-" and are never listed as objects.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
from collections.abc import Iterator
from typing import BinaryIO

from dockyard.registry.storage.driver import FileInfo, PathNotFound

TMP_PREFIX = ".tmp-"
_COPY_CHUNK = 1 << 20

# sync_file_range(2) with SYNC_FILE_RANGE_WRITE starts writeback of what was written so far and
# returns at once: the disk works while the next megabytes arrive, so the fsync at commit finds
# little left to do (a 100 MB layer otherwise waits for all its writeback at the end).
_libc = ctypes.CDLL(None, use_errno=True)
_sync_file_range = getattr(_libc, "sync_file_range", None)
if _sync_file_range is not None:
    _sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
SYNC_FILE_RANGE_WRITE = 2
_WRITEBACK_EVERY = 8 << 20


class FilesystemDriver:
    name = "filesystem"

    def __init__(self, root: str, *, fsync: bool = True) -> None:
        self.root = os.path.abspath(root)
        self.fsync = fsync
        os.makedirs(self.root, exist_ok=True)

    def _full(self, path: str) -> str:
        return os.path.join(self.root, path)

    def get_content(self, path: str) -> bytes:
        try:
            with open(self._full(path), "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise PathNotFound(path) from None

    def put_content(self, path: str, data: bytes) -> None:
        w = self.writer(path)
        try:
            w.write(data)
            w.commit()
        except BaseException:
            w.cancel()
            raise

    def stat(self, path: str) -> FileInfo | None:
        try:
            st = os.stat(self._full(path))
        except (FileNotFoundError, NotADirectoryError):
            return None
        is_dir = os.path.isdir(self._full(path))
        return FileInfo(path, 0 if is_dir else st.st_size, st.st_mtime, is_dir)

    def list_dir(self, path: str) -> list[str]:
        try:
            names = os.listdir(self._full(path))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(n for n in names if not n.startswith(TMP_PREFIX))

    def walk(self, path: str) -> Iterator[FileInfo]:
        top = self._full(path)
        for folder, dirs, files in os.walk(top):
            dirs.sort()
            for f in sorted(files):
                if f.startswith(TMP_PREFIX):
                    continue
                full = os.path.join(folder, f)
                try:
                    st = os.stat(full)
                except FileNotFoundError:
                    continue  # removed while walking (a concurrent delete)
                yield FileInfo(os.path.relpath(full, self.root), st.st_size, st.st_mtime)

    def delete(self, path: str) -> None:
        full = self._full(path)
        try:
            if os.path.isdir(full) and not os.path.islink(full):
                # Rename first so a concurrent reader never sees a half-removed tree as valid.
                doomed = os.path.join(os.path.dirname(full), f"{TMP_PREFIX}rm-{secrets.token_hex(6)}")
                os.rename(full, doomed)
                shutil.rmtree(doomed, ignore_errors=True)
            else:
                os.unlink(full)
        except (FileNotFoundError, NotADirectoryError):
            pass  # already gone: delete is idempotent
        self._prune_empty(os.path.dirname(full))

    def _prune_empty(self, folder: str) -> None:
        # Empty parent folders would make a deleted repository still look present.
        while folder.startswith(self.root + os.sep) and folder != self.root:
            try:
                os.rmdir(folder)
            except OSError:
                return  # not empty, or already gone
            folder = os.path.dirname(folder)

    def move(self, src: str, dst: str) -> None:
        s, d = self._full(src), self._full(dst)
        if self.fsync:
            try:
                fd = os.open(s, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                raise PathNotFound(src) from None
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        if not os.path.exists(s):
            raise PathNotFound(src)
        try:
            _rename_into(s, d)
        except FileNotFoundError:
            raise PathNotFound(src) from None  # moved away by a concurrent finish
        if self.fsync:
            _fsync_dir(os.path.dirname(d))
        self._prune_empty(os.path.dirname(s))

    def open_read(self, path: str, offset: int = 0) -> BinaryIO:
        try:
            f = open(self._full(path), "rb")  # noqa: SIM115 -- handed to the caller
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise PathNotFound(path) from None
        if offset:
            f.seek(offset)
        return f

    def writer(self, path: str) -> FileWriter:
        return FileWriter(self._full(path), self.fsync)

    def concat(self, dst: str, srcs: list[str]) -> None:
        w = self.writer(dst)
        try:
            for src in srcs:
                with self.open_read(src) as f:
                    while chunk := f.read(_COPY_CHUNK):
                        w.write(chunk)
            w.commit()
        except BaseException:
            w.cancel()
            raise

    def local_path(self, path: str) -> str | None:
        return self._full(path)


class FileWriter:
    """A new file at ``target``, written to a temp file beside it and renamed at commit."""

    def __init__(self, target: str, fsync: bool) -> None:
        self.target = target
        self.fsync = fsync
        self.written = 0
        self._synced = 0
        folder = os.path.dirname(target)
        self.tmp = os.path.join(folder, f"{TMP_PREFIX}{secrets.token_hex(8)}")
        for attempt in range(5):
            os.makedirs(folder, exist_ok=True)
            try:
                fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
                break
            except FileNotFoundError:
                # A concurrent delete pruned the empty folder between makedirs and open.
                if attempt == 4:
                    raise
        self.fd: int | None = fd

    def write(self, data: bytes) -> None:
        assert self.fd is not None, "write after commit or cancel"
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.written += len(data)
        if self.fsync and _sync_file_range is not None and self.written - self._synced >= _WRITEBACK_EVERY:
            # Advisory: a failure here only means the final fsync does all the work.
            _sync_file_range(self.fd, self._synced, self.written - self._synced, SYNC_FILE_RANGE_WRITE)
            self._synced = self.written

    def commit(self) -> None:
        assert self.fd is not None, "commit after commit or cancel"
        fd, self.fd = self.fd, None
        try:
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        try:
            _rename_into(self.tmp, self.target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.tmp)
            raise
        if self.fsync:
            _fsync_dir(os.path.dirname(self.target))

    def cancel(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)


def _rename_into(src: str, dst: str) -> None:
    for attempt in range(5):
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        try:
            os.rename(src, dst)
            return
        except FileNotFoundError:
            # The target's folder was pruned by a concurrent delete after makedirs: make it again.
            if attempt == 4 or not os.path.exists(src):
                raise


def _fsync_dir(folder: str) -> None:
    dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
