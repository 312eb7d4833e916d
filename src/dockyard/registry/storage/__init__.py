"""Storage drivers behind one narrow interface (driver.py): filesystem and S3."""

from __future__ import annotations

from dockyard.registry.storage.driver import FileInfo, PathNotFound, StorageDriver, Writer

__all__ = ["FileInfo", "PathNotFound", "StorageDriver", "Writer", "open_driver"]


def open_driver(location: str, *, fsync: bool = True, s3_endpoint: str | None = None) -> StorageDriver:
    """A driver for ``/path`` (filesystem) or ``s3://bucket/prefix``."""
    if location.startswith("s3://"):
        from dockyard.registry.storage.s3 import S3Driver

        return S3Driver.from_url(location, endpoint_url=s3_endpoint)
    from dockyard.registry.storage.filesystem import FilesystemDriver

    return FilesystemDriver(location, fsync=fsync)
