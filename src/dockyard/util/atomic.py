"""State on disk is never half-written: temp file in the same folder, fsync, rename, fsync folder."""

from __future__ import annotations

import os


def write_atomic(path: str, data: bytes, mode: int = 0o644, sync: bool = True) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new content, never a mix.

    The temp file lives in the same folder so rename(2) stays on one filesystem (atomic). With
    ``sync`` the data and then the folder entry are fsynced, so a crash keeps one of the two.
    """
    folder = os.path.dirname(path) or "."
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        if sync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quiet(tmp)
        raise
    os.close(fd)
    try:
        os.rename(tmp, path)
    except BaseException:
        _unlink_quiet(tmp)
        raise
    if sync:
        fsync_dir(folder)


def fsync_dir(folder: str) -> None:
    dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _unlink_quiet(path: str) -> None:
    # Cleanup after a failed write: the temp file may never have been created.
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
