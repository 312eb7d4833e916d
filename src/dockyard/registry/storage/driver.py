"""The narrow interface every storage driver implements (as distribution's storagedriver.go).

Paths are relative, "/"-separated, built only by paths.py. Drivers are synchronous; the stores
above call them from worker threads. The promises that keep the registry correct:

- ``put_content`` and a committed ``Writer`` replace an object whole: a reader sees the old
  content or the new, never a prefix. An uncommitted writer leaves nothing visible at its path.
- ``move`` replaces ``dst`` whole (same promise); used to publish a verified upload as a blob.
- ``delete`` removes an object or a whole tree and succeeds when nothing is there (idempotent:
  two replicas may clean the same thing).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol


class PathNotFound(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(f"no such object: {path}")
        self.path = path


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str
    size: int
    mtime: float
    is_dir: bool = False


class Writer(Protocol):
    written: int

    def write(self, data: bytes) -> None: ...
    def commit(self) -> None: ...
    def cancel(self) -> None: ...


class StorageDriver(Protocol):
    name: str

    def get_content(self, path: str) -> bytes: ...
    def put_content(self, path: str, data: bytes) -> None: ...
    def stat(self, path: str) -> FileInfo | None:
        """Size and mtime of an object, or ``is_dir`` for a prefix with objects under it."""
        ...

    def list_dir(self, path: str) -> list[str]:
        """Names of the direct children (objects and sub-prefixes) of ``path``; [] if none."""
        ...

    def walk(self, path: str) -> Iterator[FileInfo]:
        """Every object below ``path``, recursively."""
        ...

    def delete(self, path: str) -> None: ...
    def move(self, src: str, dst: str) -> None: ...
    def open_read(self, path: str, offset: int = 0) -> BinaryIO: ...
    def writer(self, path: str) -> Writer: ...
    def concat(self, dst: str, srcs: list[str]) -> None:
        """Write the objects ``srcs`` one after the other as the new object ``dst``."""
        ...

    def local_path(self, path: str) -> str | None:
        """A real file the server can read a blob from directly, or None (not on a local disk)."""
        ...
