"""``docker push``: every blob the registry lacks (HEAD first), then the manifest under the tag.

Progress is Docker's (distribution/push_v2.go): "The push refers to repository [...]",
"Preparing", "Layer already exists" or "Pushing" with progressDetail and "Pushed", then
"<tag>: digest: <digest> size: <bytes>" and an ``aux`` message with Tag, Digest and Size.
The stored manifest is pushed byte for byte, so the digest is the one ``pull`` gave.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from dockyard.distribution.auth import Credentials
from dockyard.distribution.client import RegistryClient
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.images import progress
from dockyard.oci import reference
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest, parse

if TYPE_CHECKING:
    from dockyard.images.service import ImageService

PARALLEL = 3


async def push(
    svc: ImageService, ref_text: str, auth: dict[str, Any] | None
) -> AsyncIterator[dict[str, Any]]:
    ref = reference.parse(ref_text)
    if ref.digest and not ref.tag:
        raise InvalidArgument(f"cannot push {ref_text!r}: push a tag, not a digest")
    image = svc.resolve(str(ref))
    if not image.manifest:
        raise InvalidArgument(f"image {ref.familiar()} has no manifest to push: tag it again or re-pull it")
    manifest = parse(svc.content.read(image.manifest), None, f"manifest of {ref.familiar()}")
    if not isinstance(manifest, Manifest):
        raise InvalidArgument(f"image {ref.familiar()}: stored manifest is an index; cannot push it")
    async with RegistryClient(
        ref.domain, Credentials.from_engine(auth), offline_domains=svc.offline_domains, what=f"push {ref}"
    ) as client:
        await client.ping()
        yield progress.status(f"The push refers to repository [{ref.repository}]")
        try:
            layers = list(reversed(manifest.layers))
            for desc in layers:
                yield progress.status("Preparing", Digest.parse(desc.digest).short)
            messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            sem = asyncio.Semaphore(PARALLEL)
            tasks = [
                asyncio.create_task(_push_blob(svc, client, ref.path, d, messages, sem, True)) for d in layers
            ]
            tasks.append(
                asyncio.create_task(_push_blob(svc, client, ref.path, manifest.config, messages, sem, False))
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
            with svc.lock:
                svc.set_tag(image.id, ref.with_digest(digest))
            yield progress.status(f"{tag}: digest: {digest} size: {len(manifest.raw)}")
            yield {"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest, "Size": len(manifest.raw)}}
        except DockyardError as e:
            yield progress.error(str(e))


async def _push_blob(
    svc: ImageService,
    client: RegistryClient,
    path: str,
    desc: Descriptor,
    messages: asyncio.Queue[dict[str, Any]],
    sem: asyncio.Semaphore,
    show: bool,
) -> None:
    short = Digest.parse(desc.digest).short
    async with sem:
        if await client.blob_exists(path, desc.digest):
            if show:
                messages.put_nowait(progress.status("Layer already exists", short))
            return
        if not svc.content.has(desc.digest):
            raise InvalidArgument(
                f"blob {desc.digest} is missing from the content store: pull the image again"
            )
        sent = [0]
        last = [0.0]

        def count(n: int) -> None:
            sent[0] += n
            now = time.monotonic()
            if show and now - last[0] >= 0.1:
                last[0] = now
                messages.put_nowait(progress.progress("Pushing", short, sent[0], desc.size))

        await client.upload_blob(
            path,
            desc.digest,
            desc.size,
            lambda: svc.content.open(desc.digest),
            chunk_size=svc.push_chunk_size,
            progress=count,
        )
        if show:
            messages.put_nowait(progress.status("Pushed", short))
