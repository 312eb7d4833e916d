"""``docker pull``: resolve, fetch the config, then the layers — 3 at a time, each verified,
decompressed and unpacked while it downloads — and record the image.

Progress is Docker's (distribution/pull_v2.go): "Pulling from", per layer "Pulling fs layer" /
"Already exists", "Downloading" with progressDetail, "Download complete", "Pull complete", then
"Digest: ..." and "Status: ...". Errors found before the first message (bad reference, unknown
manifest, unreachable registry) are raised, so the API answers with an error status; later ones
are sent as an ``{"error": ...}`` message, as dockerd does once the stream has started.

A layer whose download breaks keeps its ingest (``pull-<digest>``): the next pull resumes it
with a Range request.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from dockyard.content.writer import Writer
from dockyard.distribution import blocking
from dockyard.distribution.auth import Credentials
from dockyard.distribution.blocking import BlockingBlob
from dockyard.distribution.client import DownloadInterrupted, RegistryClient, RegistryError, Resolved
from dockyard.distribution.endpoint import RegistryUnreachable
from dockyard.errors import DockyardError, InvalidArgument, NotFound, Unauthorized, Unsupported
from dockyard.images import progress
from dockyard.images.layers import Unpacked
from dockyard.images.model import Layer
from dockyard.oci import image_config, reference
from dockyard.oci import mediatypes as mt
from dockyard.oci import platform as oci_platform
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest, chain_ids

if TYPE_CHECKING:
    from dockyard.images.service import ImageService

_QUEUE_CHUNKS = 32
_PROGRESS_EVERY = 0.1  # seconds between "Downloading" messages of one layer


class _QueueReader:
    """The thread side of a download: chunks from a queue; None ends, an exception is raised."""

    def __init__(self, q: queue.Queue[bytes | BaseException | None], prefix: BinaryIO | None) -> None:
        self._q = q
        self._prefix = prefix
        self._buf = memoryview(b"")
        self._eof = False

    def read(self, n: int = -1) -> bytes:
        if self._prefix is not None:
            data = self._prefix.read(n if n > 0 else 1 << 20)
            if data:
                return data
            self._prefix.close()
            self._prefix = None
        if not self._buf:
            if self._eof:
                return b""
            item = self._q.get()
            if item is None:
                self._eof = True
                return b""
            if isinstance(item, BaseException):
                raise item
            self._buf = memoryview(item)
        if n < 0 or n >= len(self._buf):
            data, self._buf = bytes(self._buf), memoryview(b"")
        else:
            data, self._buf = bytes(self._buf[:n]), self._buf[n:]
        return data


class _Interrupted(Exception):
    """The download stopped (network error, cancelled pull): the ingest is kept for a resume."""


def _put_blocking(
    q: queue.Queue[bytes | BaseException | None], item: bytes | None, done: Callable[[], bool]
) -> None:
    while not done():
        try:
            q.put(item, timeout=0.2)
            return
        except queue.Full:
            continue


async def pull(
    svc: ImageService,
    ref_text: str,
    auth: dict[str, Any] | None,
    platform_text: str | None,
    *,
    all_tags: bool = False,
) -> AsyncIterator[dict[str, Any]]:
    """Pull one reference, or with ``all_tags`` every tag of a repository named without a tag
    (the Engine API's ``fromImage`` without ``tag``; docker's ``pull --all-tags``)."""
    plat = oci_platform.parse(platform_text)
    creds = Credentials.from_engine(auth)
    token = svc.pull_started()
    try:
        async for msg in _pull(svc, ref_text, plat, creds, all_tags):
            yield msg
    finally:
        svc.pull_ended(token)


async def _pull(
    svc: ImageService,
    ref_text: str,
    plat: oci_platform.Platform,
    creds: Credentials | None,
    all_tags: bool,
) -> AsyncIterator[dict[str, Any]]:
    if not all_tags:
        async for msg in _pull_one(svc, reference.parse(ref_text), plat, creds):
            yield msg
        return
    repo = reference.parse(ref_text, default_tag=False)
    if repo.tag or repo.digest:
        raise InvalidArgument(f"tag can't be used with --all-tags/-a: pull {repo.repository} instead")
    async with contextlib.AsyncExitStack() as stack:
        client, _ = await _connect(svc, stack, repo.with_tag(reference.DEFAULT_TAG), creds, None)
        tags = await client.tags(repo.path)
    if not tags:
        raise NotFound(f"repository {repo.familiar_repository} has no tags to pull")
    fresh = False
    for tag in tags:
        async for msg in _pull_one(svc, repo.with_tag(tag), plat, creds, summary=False):
            if msg.get("status", "").startswith("Status: Downloaded"):
                fresh = True
                continue
            if msg.get("status", "").startswith("Status: Image is up to date"):
                continue
            yield msg
            if "error" in msg:
                return
    state = "Downloaded newer image" if fresh else "Image is up to date"
    yield progress.status(f"Status: {state} for {repo.familiar_repository}")


async def _connect(
    svc: ImageService,
    stack: contextlib.AsyncExitStack,
    ref: reference.Reference,
    creds: Credentials | None,
    plat: oci_platform.Platform | None,
) -> tuple[RegistryClient, Resolved | None]:
    """A client for the first endpoint (mirrors, then the registry) that resolves ``ref``.

    A mirror that is down, lacks the image or refuses us is skipped, as dockerd does; the
    registry's own error is the one reported."""
    endpoints = svc.options.registry.pull_endpoints(ref.domain, f"pull {ref}")
    for n, endpoint in enumerate(endpoints):
        client = RegistryClient(
            ref.domain,
            creds,
            settings=svc.options.registry,
            offline_domains=svc.offline_domains,
            endpoint=endpoint,
            tokens=svc.tokens,
            what=f"pull {ref}",
        )
        inner = contextlib.AsyncExitStack()
        await inner.enter_async_context(client)
        try:
            resolved = await client.resolve(ref, plat) if plat is not None else None
            if plat is None:
                await client.ping()
        except (RegistryUnreachable, NotFound, Unauthorized, RegistryError):
            await inner.aclose()
            if n == len(endpoints) - 1 or not endpoint.mirror:
                raise
            continue
        except BaseException:
            await inner.aclose()
            raise
        stack.push_async_callback(inner.aclose)
        return client, resolved
    raise AssertionError("unreachable: pull_endpoints always ends with the registry")


async def _pull_one(
    svc: ImageService,
    ref: reference.Reference,
    plat: oci_platform.Platform,
    creds: Credentials | None,
    *,
    summary: bool = True,
) -> AsyncIterator[dict[str, Any]]:
    async with contextlib.AsyncExitStack() as stack:
        client, found = await _connect(svc, stack, ref, creds, plat)
        assert found is not None
        resolved = found
        manifest = resolved.manifest
        path = ref.path
        yield progress.status(f"Pulling from {ref.path}", ref.tag or ref.digest)
        try:
            config_desc = manifest.config
            if svc.content.has(config_desc.digest):
                config_bytes = svc.content.read(config_desc.digest)
            else:
                config_bytes = await client.blob_bytes(path, config_desc.digest)
            config = image_config.load(config_bytes, f"config {config_desc.digest}")
            diff_ids = image_config.diff_ids(config)
            if len(diff_ids) != len(manifest.layers):
                raise InvalidArgument(
                    f"image {ref.familiar()}: the manifest lists {len(manifest.layers)} layers but the "
                    f"config {len(diff_ids)} diff ids: the image is malformed"
                )
            for desc in manifest.layers:
                if not mt.is_layer(desc.media_type):
                    raise Unsupported(
                        f"image {ref.familiar()}: layer {desc.digest} has media type {desc.media_type!r}, "
                        "which is no image layer: only tar, tar+gzip and tar+zstd layers can be pulled"
                    )
            chains = chain_ids(diff_ids)
            messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            existing: dict[int, Layer] = {}
            for i, desc in enumerate(manifest.layers):
                short = Digest.parse(desc.digest).short
                known = svc.db.layer_by_diff(diff_ids[i])
                if svc.snapshots.has(chains[i]) and svc.content.has(desc.digest):
                    existing[i] = Layer(
                        diff_ids[i],
                        chains[i],
                        desc.digest,
                        desc.media_type,
                        desc.size,
                        known.diff_size if known else 0,
                        svc.snapshots.size(chains[i]),
                    )
                    yield progress.status("Already exists", short)
                else:
                    yield progress.status("Pulling fs layer", short)
            sem = asyncio.Semaphore(svc.options.max_concurrent_downloads)
            # Largest first: the semaphore serves tasks in creation order, and the biggest layer
            # is the pull's critical path; a small layer waiting for a slot costs little.
            order = sorted(
                (i for i in range(len(manifest.layers)) if i not in existing),
                key=lambda i: -manifest.layers[i].size,
            )
            tasks = {
                i: asyncio.create_task(
                    _fetch(
                        svc,
                        client,
                        path,
                        manifest.layers[i],
                        diff_ids[i],
                        chains[i],
                        messages.put_nowait,
                        sem,
                    )
                )
                for i in order
            }
            layers: list[Layer] = []
            parent: str | None = None
            try:
                for i, desc in enumerate(manifest.layers):
                    if i in existing:
                        layers.append(existing[i])
                        parent = existing[i].chain_id
                        continue
                    task = tasks[i]
                    while not task.done():
                        getter = asyncio.ensure_future(messages.get())
                        await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                        if getter.done():
                            yield getter.result()
                        else:
                            getter.cancel()
                    while not messages.empty():
                        yield messages.get_nowait()
                    unpacked = task.result()
                    layer = await asyncio.to_thread(svc.layers.place, unpacked, parent)
                    layers.append(layer)
                    parent = layer.chain_id
                    yield progress.status("Pull complete", Digest.parse(desc.digest).short)
            finally:
                for t in tasks.values():
                    t.cancel()
                await asyncio.gather(*tasks.values(), return_exceptions=True)
            with svc.lock:
                old = svc.db.ref(str(ref)) if ref.tag else None
            image_id = svc.register(config, layers, manifest=resolved.manifest.raw, config_bytes=config_bytes)
            svc.db.add_sources(ref.domain, path, [config_desc.digest, *(d.digest for d in manifest.layers)])
            with svc.lock:
                if ref.tag:
                    svc.set_tag(image_id, ref)
                svc.set_tag(image_id, ref.with_digest(resolved.digest))
            yield progress.status(f"Digest: {resolved.digest}")
            fresh = old != image_id
            state = "Downloaded newer image" if fresh else "Image is up to date"
            if summary or fresh:
                yield progress.status(f"Status: {state} for {ref.familiar()}")
        except DockyardError as e:
            yield progress.error(str(e))


async def _fetch(
    svc: ImageService,
    client: RegistryClient,
    path: str,
    desc: Descriptor,
    diff_id: str,
    chain: str,
    emit: Callable[[dict[str, Any]], None],
    sem: asyncio.Semaphore,
) -> Unpacked:
    short = Digest.parse(desc.digest).short
    async with sem:
        if not svc.content.has(desc.digest) and svc.downloads.running(desc.digest):
            # Another pull is downloading this blob: wait for it instead of downloading it again.
            emit(progress.status("Waiting", short))
            await svc.downloads.wait(desc.digest)
        if svc.content.has(desc.digest):
            if svc.snapshots.has(chain):
                known = svc.db.layer_by_diff(diff_id)
                return Unpacked(
                    diff_id, desc.digest, desc.media_type, desc.size, known.diff_size if known else 0, 0, None
                )
            emit(progress.status("Download complete", short))
            return await asyncio.to_thread(_unpack_stored, svc, desc, diff_id)
        async with svc.downloads.claim(desc.digest):
            return await _download(svc, client, path, desc, diff_id, short, emit)


def _unpack_stored(svc: ImageService, desc: Descriptor, diff_id: str) -> Unpacked:
    with svc.content.open(desc.digest) as f:
        return svc.layers.read_layer(
            f,
            media_type=desc.media_type,
            expected_blob=desc.digest,
            blob_size=desc.size,
            expected_diff=diff_id,
        )


class _BlobReader:
    """The worker thread's view of a download: the bytes an earlier attempt left in the ingest,
    then the response; reports progress; a body shorter than the blob is a broken connection."""

    def __init__(
        self,
        held: BinaryIO | None,
        blob: BlockingBlob,
        offset: int,
        size: int,
        report: Callable[[int, bool], None],
    ) -> None:
        self._held = held
        self._blob = blob
        self._received = offset
        self._size = size
        self._report = report

    def read(self, n: int = -1) -> bytes:
        if self._held is not None:
            data = self._held.read(n if n > 0 else 1 << 20)
            if data:
                return data
            self._held.close()
            self._held = None
        data = self._blob.read(n)
        self._received += len(data)
        if not data and self._received < self._size:
            raise ConnectionError(f"the body ended at {self._received} of {self._size} bytes")
        self._report(self._received, not data)
        return data

    def readable(self) -> bool:
        return True


async def _download(
    svc: ImageService,
    client: RegistryClient,
    path: str,
    desc: Descriptor,
    diff_id: str,
    short: str,
    emit: Callable[[dict[str, Any]], None],
) -> Unpacked:
    """Download, verify, decompress and unpack on one worker thread (distribution/blocking.py);
    anything but a plain 200/206 answer (auth, foreign URLs, errors) takes the asynchronous path."""
    writer = svc.content.writer(f"pull-{desc.digest}", desc.digest, desc.size)
    try:
        offset = writer.offset
        if offset >= desc.size:
            writer.truncate()  # a complete ingest that never committed: check it again from 0
            offset = 0
        url, headers = await client.blob_request(path, desc.digest, offset)
        try:
            blob = await asyncio.to_thread(blocking.open_blob, url, headers, 60.0)
        except ConnectionError:
            blob = None
        if blob is None or blob.status not in (200, 206):
            if blob is not None:
                blob.close()
            fallback = True
        else:
            return await _download_in_thread(svc, writer, blob, offset, desc, diff_id, short, emit)
    except BaseException:
        if writer.offset == 0:
            writer.abort()  # nothing arrived (unknown blob, refused): no ingest to resume
        raise
    finally:
        writer.close()
    assert fallback
    return await _download_async(svc, client, path, desc, diff_id, short, emit)


async def _download_in_thread(
    svc: ImageService,
    writer: Writer,
    blob: BlockingBlob,
    offset: int,
    desc: Descriptor,
    diff_id: str,
    short: str,
    emit: Callable[[dict[str, Any]], None],
) -> Unpacked:
    try:
        if blob.status == 200 and offset:
            writer.truncate()  # the registry ignored Range: it sends the blob from byte 0
            offset = 0
        loop = asyncio.get_running_loop()
        last = [0.0]

        def report(received: int, done: bool) -> None:
            now = time.monotonic()
            if done:
                loop.call_soon_threadsafe(emit, progress.status("Verifying Checksum", short))
                loop.call_soon_threadsafe(emit, progress.status("Download complete", short))
            elif now - last[0] >= _PROGRESS_EVERY:
                last[0] = now
                loop.call_soon_threadsafe(emit, progress.progress("Downloading", short, received, desc.size))

        reader = _BlobReader(writer.open_data() if offset else None, blob, offset, desc.size, report)
        fut = loop.run_in_executor(
            None,
            lambda: svc.layers.read_layer(
                cast(BinaryIO, reader),
                media_type=desc.media_type,
                expected_blob=desc.digest,
                blob_size=desc.size,
                expected_diff=diff_id,
                writer=writer,
                skip=offset,
            ),
        )
        try:
            return await asyncio.shield(fut)
        except ConnectionError as e:
            raise DownloadInterrupted(
                f"download of blob {desc.digest} broke off after {writer.offset} bytes ({e}): "
                "pull again to resume where it stopped"
            ) from None
        except asyncio.CancelledError:
            blob.close()  # the worker's recv fails at once; the ingest stays for a resume
            await asyncio.gather(fut, return_exceptions=True)
            raise
        except Exception:
            # The bytes themselves are bad (corrupt, hostile): a resume would fail the same way.
            writer.abort()
            raise
    finally:
        blob.close()


async def _download_async(
    svc: ImageService,
    client: RegistryClient,
    path: str,
    desc: Descriptor,
    diff_id: str,
    short: str,
    emit: Callable[[dict[str, Any]], None],
) -> Unpacked:
    writer = svc.content.writer(f"pull-{desc.digest}", desc.digest, desc.size)
    try:
        offset = writer.offset
        if offset >= desc.size:
            writer.truncate()  # a complete ingest that never committed: check it again from 0
            offset = 0
        q: queue.Queue[bytes | BaseException | None] = queue.Queue(_QUEUE_CHUNKS)
        loop = asyncio.get_running_loop()
        received = offset
        last = 0.0
        stream = await client.open_blob(path, desc.digest, offset, desc.urls)
        async with stream:
            if stream.restarted:
                writer.truncate()  # the registry ignored Range: it sends the blob from byte 0
                offset = received = 0
            # The bytes already held go through the pipeline again (hash, decompress, unpack).
            reader = _QueueReader(q, writer.open_data() if offset else None)
            fut = loop.run_in_executor(
                None,
                lambda: svc.layers.read_layer(
                    cast(BinaryIO, reader),
                    media_type=desc.media_type,
                    expected_blob=desc.digest,
                    blob_size=desc.size,
                    expected_diff=diff_id,
                    chain_id=None,
                    writer=writer,
                    skip=offset,
                ),
            )
            try:
                async for chunk in stream.chunks():
                    if fut.done():
                        break
                    try:
                        q.put_nowait(chunk)
                    except queue.Full:
                        await asyncio.to_thread(_put_blocking, q, chunk, fut.done)
                    received += len(chunk)
                    now = time.monotonic()
                    if now - last >= _PROGRESS_EVERY:
                        last = now
                        emit(progress.progress("Downloading", short, received, desc.size))
                if received < desc.size and not fut.done():
                    # The registry closed the connection cleanly but early: keep what came.
                    raise DownloadInterrupted(
                        f"download of blob {desc.digest} ended at {received} of {desc.size} bytes: "
                        "pull again to resume where it stopped"
                    )
                emit(progress.status("Verifying Checksum", short))
                emit(progress.status("Download complete", short))
                await asyncio.to_thread(_put_blocking, q, None, fut.done)
            except BaseException:
                # Unblock the reader thread so it ends; the ingest stays for a resumed pull.
                try:
                    q.put_nowait(_Interrupted())
                except queue.Full:
                    await asyncio.to_thread(_put_blocking, q, None, fut.done)
                await asyncio.gather(fut, return_exceptions=True)
                raise
        try:
            return await fut
        except _Interrupted:
            raise
        except Exception:
            # The bytes themselves are bad (corrupt, hostile): a resume would fail the same way.
            writer.abort()
            raise
    except BaseException:
        if writer.offset == 0:
            writer.abort()  # nothing arrived (unknown blob, refused): no ingest to resume
        raise
    finally:
        writer.close()
