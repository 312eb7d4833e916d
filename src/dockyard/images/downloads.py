"""Blob downloads shared between concurrent pulls of the daemon.

Two pulls that need the same layer blob (two tags of one image, images built on one base)
download it once: the first registers the download, the others wait for it and then read the
blob from the content store. Without this the second one found the first's ingest locked and
failed ("being written by another operation"). A download that fails is not shared: each
waiter then tries on its own (the next attempt resumes the ingest the first one left).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class SharedDownloads:
    def __init__(self) -> None:
        self._running: dict[str, asyncio.Future[None]] = {}
        self.shared = 0  # downloads a pull did not have to make (tests count them)

    def running(self, digest: str) -> asyncio.Future[None] | None:
        fut = self._running.get(digest)
        return fut if fut is not None and not fut.done() else None

    async def wait(self, digest: str) -> bool:
        """Wait for another pull's download of ``digest``; True when it stored the blob."""
        fut = self.running(digest)
        if fut is None:
            return False
        try:
            await asyncio.shield(fut)
        except Exception:
            return False
        self.shared += 1
        return True

    @asynccontextmanager
    async def claim(self, digest: str) -> AsyncIterator[None]:
        """Register this pull's download of ``digest`` for its duration."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._running[digest] = fut
        try:
            yield
        except BaseException as e:
            fut.set_exception(e if isinstance(e, Exception) else RuntimeError("download cancelled"))
            fut.exception()  # retrieved: nobody may be waiting, and asyncio would log it
            raise
        else:
            fut.set_result(None)
        finally:
            if self._running.get(digest) is fut:
                del self._running[digest]
