"""Manifests, tags and referrers of a repository.

A manifest is stored as a blob (so one manifest pushed to many repositories is stored once) plus
a revision link in its repository; a tag is a link to a revision. A manifest with a ``subject``
also writes a referrer entry under the subject's digest holding the descriptor the referrers API
returns (OCI distribution spec v1.1, "Listing Referrers"), so listing referrers reads no
manifests. Manifests are immutable by digest, so parsed ones are cached in memory.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from typing import Any

from dockyard.registry import paths
from dockyard.registry.blobs import BlobStore
from dockyard.registry.digest import Digest, digest_of, is_digest, parse_digest
from dockyard.registry.errcode import RegistryError
from dockyard.registry.manifest import Manifest, parse_manifest
from dockyard.registry.names import check_tag
from dockyard.registry.storage import PathNotFound, StorageDriver

_CACHE_SIZE = 1024


class ManifestStore:
    def __init__(self, driver: StorageDriver, blobs: BlobStore) -> None:
        self.driver = driver
        self.blobs = blobs
        self._cache: OrderedDict[Digest, Manifest] = OrderedDict()

    # ------------------------------------------------------------------ read

    async def resolve(self, name: str, reference: str) -> Digest:
        """The digest a tag or digest reference names in ``name``; MANIFEST_UNKNOWN if none."""
        if is_digest(reference):
            d = parse_digest(reference)
            info = await asyncio.to_thread(self.driver.stat, paths.revision_link(name, d))
            if info is None:
                raise _unknown(name, reference)
            return d
        check_tag(reference)
        try:
            raw = await asyncio.to_thread(self.driver.get_content, paths.tag_link(name, reference))
        except PathNotFound:
            raise _unknown(name, reference) from None
        return parse_digest(raw.decode().strip())

    async def load(self, d: Digest) -> Manifest:
        m = self._cache.get(d)
        if m is not None:
            self._cache.move_to_end(d)
            return m
        try:
            raw = await self.blobs.get(d)
        except PathNotFound:
            raise RegistryError(
                "MANIFEST_UNKNOWN", f"manifest {d} is linked but its content is gone"
            ) from None
        m = parse_manifest(raw, None)
        self._remember(d, m)
        return m

    def _remember(self, d: Digest, m: Manifest) -> None:
        self._cache[d] = m
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)

    async def get(self, name: str, reference: str) -> tuple[Digest, Manifest]:
        d = await self.resolve(name, reference)
        return d, await self.load(d)

    async def tags(self, name: str) -> list[str]:
        found = await asyncio.to_thread(self.driver.list_dir, paths.tags(name))
        return sorted(found)

    async def tags_of(self, name: str, d: Digest) -> list[str]:
        def scan() -> list[str]:
            out = []
            for tag in self.driver.list_dir(paths.tags(name)):
                try:
                    if self.driver.get_content(paths.tag_link(name, tag)).decode().strip() == str(d):
                        out.append(tag)
                except PathNotFound:
                    continue  # untagged concurrently
            return out

        return await asyncio.to_thread(scan)

    async def repository_exists(self, name: str) -> bool:
        info = await asyncio.to_thread(self.driver.stat, paths.manifests(name))
        return info is not None

    async def referrers(self, name: str, subject: Digest, artifact_type: str | None) -> list[dict[str, Any]]:
        def scan() -> list[dict[str, Any]]:
            folder = paths.referrers(name, subject)
            out = []
            for info in self.driver.walk(folder):
                if not info.path.endswith("/link"):
                    continue
                try:
                    desc = json.loads(self.driver.get_content(info.path))
                except (PathNotFound, ValueError):
                    continue  # removed while listing
                if artifact_type is None or desc.get("artifactType") == artifact_type:
                    out.append(desc)
            return sorted(out, key=lambda x: x["digest"])

        return await asyncio.to_thread(scan)

    # ------------------------------------------------------------------ write

    async def put(
        self, name: str, reference: str, raw: bytes, content_type: str | None
    ) -> tuple[Digest, Manifest]:
        tag = None
        if is_digest(reference):
            want = parse_digest(reference)
            d = Digest(want.algorithm, digest_of(raw, want.algorithm).hex)
            if d != want:
                raise RegistryError(
                    "DIGEST_INVALID",
                    f"manifest body has digest {d}, not {want} named in the URL: push the exact bytes",
                    detail={"digest": reference},
                )
        else:
            tag = check_tag(reference)
            d = digest_of(raw)
        m = parse_manifest(raw, content_type)
        await self._check_references(name, m)
        await self.blobs.put(d, raw)
        self._remember(d, m)

        def link() -> None:
            self.driver.put_content(paths.revision_link(name, d), str(d).encode())
            if m.subject is not None:
                desc: dict[str, Any] = {"mediaType": m.media_type, "digest": str(d), "size": len(raw)}
                if m.artifact_type:
                    desc["artifactType"] = m.artifact_type
                if m.annotations:
                    desc["annotations"] = m.annotations
                self.driver.put_content(
                    paths.referrer_link(name, m.subject.digest, d), json.dumps(desc).encode()
                )
            if tag is not None:
                self.driver.put_content(paths.tag_link(name, tag), str(d).encode())

        await asyncio.to_thread(link)
        return d, m

    async def _check_references(self, name: str, m: Manifest) -> None:
        """Every blob (or child manifest) a manifest names must be in the repository already."""
        missing: list[str] = []
        for desc in m.blobs:
            if desc.foreign:
                continue
            size = await self.blobs.stat_in_repo(name, desc.digest)
            if size is None:
                missing.append(str(desc.digest))
        for desc in m.children:
            info = await asyncio.to_thread(self.driver.stat, paths.revision_link(name, desc.digest))
            if info is None:
                missing.append(str(desc.digest))
        if missing:
            raise RegistryError(
                "MANIFEST_BLOB_UNKNOWN",
                f"manifest names {len(missing)} blob(s) not in {name}: {', '.join(missing[:5])}; "
                "push (or mount) them before the manifest",
                detail={"digest": missing[0]},
            )

    async def delete(self, name: str, reference: str) -> None:
        """Delete a tag (by tag) or a manifest with every tag pointing at it (by digest)."""
        if not is_digest(reference):
            check_tag(reference)

            def untag() -> bool:
                if self.driver.stat(paths.tag_link(name, reference)) is None:
                    return False
                self.driver.delete(paths.tag_dir(name, reference))
                return True

            if not await asyncio.to_thread(untag):
                raise _unknown(name, reference)
            return
        d = await self.resolve(name, reference)
        m = await self.load(d)
        for tag in await self.tags_of(name, d):
            await asyncio.to_thread(self.driver.delete, paths.tag_dir(name, tag))
        if m.subject is not None:
            link = paths.referrer_link(name, m.subject.digest, d)
            await asyncio.to_thread(self.driver.delete, link.rsplit("/", 1)[0])
        await asyncio.to_thread(self.driver.delete, paths.revision_link(name, d).rsplit("/", 1)[0])


def _unknown(name: str, reference: str) -> RegistryError:
    return RegistryError(
        "MANIFEST_UNKNOWN",
        f"manifest {reference} is not in repository {name}: check the tag or digest "
        f"(GET /v2/{name}/tags/list lists the tags)",
        detail={"name": name, "reference": reference},
    )
