"""The one thread that talks netlink: it owns the daemon's IPRoute socket and does every
namespace switch.

pyroute2's synchronous IPRoute runs a private asyncio loop per calling thread, so it cannot be
called from a thread that already runs a loop (the daemon's) and warns when a socket moves
between threads. A single worker thread fixes both: callers on any thread (the event loop
included) hand it a function and wait for the result; it also serialises netlink requests, and
unshare()/setns() only ever change the worker's own namespace.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from dockyard.errors import SystemFailure
from dockyard.network import rtnl

T = TypeVar("T")

#: pyroute2's IPRoute has no type information; functions taking one say so with this alias.
Rtnl = Any


class NetlinkWorker:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dockyard-netlink")
        self._thread: threading.Thread | None = None
        self.ipr: Rtnl = self.run(self._open)
        # A plain socket for rtnl.py's batched requests (the per-container path), in the same
        # (host) namespace as the IPRoute.
        self.sock: socket.socket = self.run(rtnl.open_socket)

    def _open(self) -> Rtnl:
        self._thread = threading.current_thread()
        return IPRoute()

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Call ``fn(*args)`` on the worker thread and return its result (or raise its error)."""
        if threading.current_thread() is self._thread:
            return fn(*args)  # already on the worker: a nested call would deadlock
        return self._pool.submit(fn, *args).result()

    def post(self, fn: Callable[[], object]) -> None:
        """Queue ``fn`` on the worker without waiting (it runs before any later run())."""
        self._pool.submit(fn)

    def close(self) -> None:
        if self.ipr is not None:
            self.run(self.ipr.close)
            self.ipr = None
        self.sock.close()
        self._pool.shutdown(wait=True)


def failure(what: str, exc: Exception) -> SystemFailure:
    """A SystemFailure for a refused netlink request, naming the operation and errno."""
    code = getattr(exc, "code", 0) or getattr(exc, "errno", 0) or 0
    reason = errno.errorcode.get(code, str(code)) if code else type(exc).__name__
    detail = exc.args[1] if isinstance(exc, NetlinkError) and len(exc.args) > 1 else str(exc)
    return SystemFailure(f"{what}: {detail} ({reason})", code)


def is_errno(exc: BaseException, *codes: int) -> bool:
    return isinstance(exc, NetlinkError) and exc.code in codes


__all__ = ["NetlinkError", "NetlinkWorker", "Rtnl", "failure", "is_errno"]
