"""POST /containers/{id}/wait: futures resolved by the engine's state changes, no polling.

Conditions (dockerd's):
- ``not-running`` (default): answered at once for a container that is not running (a created
  one gives 0), else at the exit that leaves it stopped (not one followed by a restart);
- ``next-exit``: the next exit, restarts included;
- ``removed``: the container's removal (the exit code it had).

A waiter is registered before the response's head is sent, so a client that starts the
container only once the head arrived (the docker CLI's `run`) never misses a fast exit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from dockyard.errors import InvalidArgument

CONDITIONS = ("not-running", "next-exit", "removed")


@dataclass
class Waiters:
    _items: list[tuple[str, asyncio.Future[int]]] = field(default_factory=list)

    def add(self, condition: str) -> asyncio.Future[int]:
        if condition not in CONDITIONS:
            raise InvalidArgument(f"invalid condition: {condition!r}: use not-running, next-exit or removed")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._items.append((condition, future))
        return future

    def exited(self, code: int, stays_stopped: bool) -> None:
        wanted = ("next-exit", "not-running") if stays_stopped else ("next-exit",)
        self._resolve(wanted, code)

    def removed(self, code: int) -> None:
        self._resolve(CONDITIONS, code)

    def cancel_all(self) -> None:
        for _, future in self._items:
            future.cancel()
        self._items = []

    def _resolve(self, conditions: tuple[str, ...], code: int) -> None:
        keep = []
        for condition, future in self._items:
            if future.done():
                continue
            if condition in conditions:
                future.set_result(code)
            else:
                keep.append((condition, future))
        self._items = keep
