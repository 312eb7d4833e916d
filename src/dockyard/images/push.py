"""``docker push``: every blob the registry lacks (HEAD first), then the manifest under the tag.

Progress is Docker's (distribution/push_v2.go): "The push refers to repository [...]",
"Preparing", "Layer already exists" or "Pushing" with progressDetail and "Pushed", then
"<tag>: digest: <digest> size: <bytes>" and an ``aux`` message with Tag, Digest and Size.
The stored manifest is pushed byte for byte, so the digest is the one ``pull`` gave, and the
stored (compressed) blobs are sent as they are: a push never recompresses.

A blob the registry lacks is mounted from another repository of the same registry when one is
known to hold it (a pull from there, an earlier push: images.db ``blob_sources``), else
uploaded. Foreign (non-distributable) layers are never uploaded (image-spec layer.md): the
manifest keeps their ``urls``. Without a tag, every tag of the repository is pushed (the Engine
API's push without ``tag``; docker's ``push --all-tags``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from dockyard.distribution.auth import Credentials
from dockyard.distribution.client import RegistryClient
from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.images import progress
from dockyard.oci import mediatypes as mt
from dockyard.oci import reference
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest, parse

if TYPE_CHECKING:
    from dockyard.images.service import ImageService


async def push(
    svc: ImageService, ref_text: str, auth: dict[str, Any] | None, *, all_tags: bool = False
) -> AsyncIterator[dict[str, Any]]:
    if not all_tags:
        async for msg in _push_one(svc, reference.parse(ref_text), auth):
            yield msg
        return
    repo = reference.parse(ref_text, default_tag=False)
    if repo.tag or repo.digest:
        raise InvalidArgument(f"tag can't be used with --all-tags/-a: push {repo.repository} instead")
    tags = sorted(
        reference.parse(name).tag or ""
        for name, kind, _ in svc.db.all_refs()
        if kind == "tag" and name.startswith(repo.repository + ":")
    )
    if not tags:
        raise NotFound(f"An image does not exist locally with the tag: {repo.familiar_repository}")
    for n, tag in enumerate(tags):
        async for msg in _push_one(svc, repo.with_tag(tag), auth, announce=n == 0):
            yield msg
            if "error" in msg:
                return


async def _push_one(
    svc: ImageService, ref: reference.Reference, auth: dict[str, Any] | None, *, announce: bool = True
) -> AsyncIterator[dict[str, Any]]:
    if ref.digest and not ref.tag:
        raise InvalidArgument(f"cannot push {ref.familiar()!r}: push a tag, not a digest")
    image = svc.resolve(str(ref))
    if not image.manifest:
        raise InvalidArgument(f"image {ref.familiar()} has no manifest to push: tag it again or re-pull it")
    manifest = parse(svc.content.read(image.manifest), None, f"manifest of {ref.familiar()}")
    if not isinstance(manifest, Manifest):
        raise InvalidArgument(f"image {ref.familiar()}: stored manifest is an index; cannot push it")
    async with RegistryClient(
        ref.domain,
        Credentials.from_engine(auth),
        settings=svc.options.registry,
        offline_domains=svc.offline_domains,
        tokens=svc.tokens,
        what=f"push {ref}",
    ) as client:
        await client.ping()
        if announce:
            yield progress.status(f"The push refers to repository [{ref.repository}]")
        try:
            layers = list(reversed(manifest.layers))
            for desc in layers:
                yield progress.status("Preparing", Digest.parse(desc.digest).short)
            messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            sem = asyncio.Semaphore(svc.options.max_concurrent_uploads)
            tasks = [
                asyncio.create_task(_push_blob(svc, client, ref, d, messages, sem, True)) for d in layers
            ]
            tasks.append(
                asyncio.create_task(_push_blob(svc, client, ref, manifest.config, messages, sem, False))
            )
            all_done = asyncio.ensure_future(asyncio.gather(*tasks))
            try:
                while not all_done.done() or not messages.empty():
                    getter = asyncio.ensure_future(messages.get())
                    waiters: set[asyncio.Future[Any]] = {getter, all_done}
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                    if getter.done():
                        yield getter.result()
                    else:
                        getter.cancel()
                all_done.result()
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            tag = ref.tag or reference.DEFAULT_TAG
            digest = await client.put_manifest(ref.path, tag, manifest.media_type, manifest.raw)
            svc.db.add_sources(
                ref.domain,
                ref.path,
                [manifest.config.digest, *(d.digest for d in manifest.layers if not _foreign(d))],
            )
            with svc.lock:
                svc.set_tag(image.id, ref.with_digest(digest))
            yield progress.status(f"{tag}: digest: {digest} size: {len(manifest.raw)}")
            yield {"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest, "Size": len(manifest.raw)}}
        except DockyardError as e:
            yield progress.error(str(e))


def _foreign(desc: Descriptor) -> bool:
    return desc.media_type in mt.NON_DISTRIBUTABLE


async def _push_blob(
    svc: ImageService,
    client: RegistryClient,
    ref: reference.Reference,
    desc: Descriptor,
    messages: asyncio.Queue[dict[str, Any]],
    sem: asyncio.Semaphore,
    show: bool,
) -> None:
    short = Digest.parse(desc.digest).short
    path = ref.path
    async with sem:
        if _foreign(desc):
            if show:
                messages.put_nowait(progress.status("Skipped foreign layer", short))
            return
        if await client.blob_exists(path, desc.digest):
            if show:
                messages.put_nowait(progress.status("Layer already exists", short))
            return
        if not svc.content.has(desc.digest):
            raise InvalidArgument(
                f"blob {desc.digest} is missing from the content store: pull the image again"
            )
        sources = [p for p in svc.db.sources(desc.digest, ref.domain) if p != path]
        sent = [0]
        last = [0.0]

        def count(n: int) -> None:
            sent[0] += n
            now = time.monotonic()
            if show and now - last[0] >= 0.1:
                last[0] = now
                messages.put_nowait(progress.progress("Pushing", short, sent[0], desc.size))

        how = await client.upload_blob(
            path,
            desc.digest,
            desc.size,
            lambda: svc.content.open(desc.digest),
            chunk_size=svc.push_chunk_size,
            progress=count,
            mount_from=sources[0] if sources else None,
        )
        if show:
            if how == "mounted":
                messages.put_nowait(progress.status(f"Mounted from {sources[0]}", short))
            else:
                messages.put_nowait(progress.status("Pushed", short))
