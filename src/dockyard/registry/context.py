"""What every handler of one registry process shares: the stores, the authorizer, the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from dockyard.registry.access import Authorizer, OpenAccess
from dockyard.registry.blobs import BlobStore
from dockyard.registry.errcode import RegistryError
from dockyard.registry.manifests import ManifestStore
from dockyard.registry.storage import StorageDriver
from dockyard.registry.uploads import UploadStore


@dataclass
class Registry:
    driver: StorageDriver
    authorizer: Authorizer = field(default_factory=OpenAccess)
    read_only: bool = False
    blobs: BlobStore = field(init=False)
    uploads: UploadStore = field(init=False)
    manifests: ManifestStore = field(init=False)

    def __post_init__(self) -> None:
        self.blobs = BlobStore(self.driver)
        self.uploads = UploadStore(self.driver, self.blobs)
        self.manifests = ManifestStore(self.driver, self.blobs)

    def check_writable(self) -> None:
        if self.read_only:
            raise RegistryError(
                "UNSUPPORTED",
                "the registry is in read-only mode (serve --read-only): writes are refused; "
                "restart it without --read-only to push or delete",
            )


REGISTRY = web.AppKey("registry", Registry)


def registry_of(request: web.Request) -> Registry:
    return request.app[REGISTRY]
