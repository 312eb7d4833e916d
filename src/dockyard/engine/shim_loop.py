"""The shim's event loop: epoll, timers and child reaping, in a few hundred bytes of state.

asyncio is not used in the shim: importing it costs about 4 MiB (ssl, concurrent.futures, its
event loop machinery), paid by every running container. This loop does what a shim needs:
fd readiness callbacks, one-shot timers, and SIGCHLD turned into per-pid exit callbacks.

SIGCHLD reaches the loop through ``signal.set_wakeup_fd``: the C-level handler writes a byte to
a pipe the loop polls, so a child that exits while ``epoll_wait`` sleeps wakes it (PEP 475
retries the interrupted wait, the pipe is then readable). Children are reaped with
``waitpid(-1, WNOHANG)``; an exit status that arrives before anyone asked for that pid (the
container's init can die before the runtime's ``create`` returned its pid) is kept until asked.
"""

from __future__ import annotations

import heapq
import os
import select
import signal
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

IN = select.EPOLLIN
OUT = select.EPOLLOUT
HUP = select.EPOLLHUP
ERR = select.EPOLLERR
RDHUP = select.EPOLLRDHUP


class Loop:
    __slots__ = (
        "_children",
        "_ep",
        "_handlers",
        "_old_sigchld",
        "_seq",
        "_timers",
        "_unclaimed",
        "_wake_r",
        "_wake_w",
        "on_error",
        "running",
    )

    def __init__(self) -> None:
        self._ep = select.epoll()
        self._handlers: dict[int, Callable[[int], None]] = {}
        self._children: dict[int, Callable[[int], None]] = {}
        self._unclaimed: dict[int, int] = {}
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self.running = True
        #: Called with the exception of a handler that raised (the shim process logs it).
        self.on_error: Callable[[BaseException], None] = _ignore
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        # A Python-level handler is needed for the wakeup fd to be written; it does nothing:
        # the loop reaps when the pipe turns readable.
        self._old_sigchld = signal.signal(signal.SIGCHLD, _noop)
        self.add(self._wake_r, IN, self._on_wake)

    # ------------------------------------------------------------ fds

    def add(self, fd: int, events: int, handler: Callable[[int], None]) -> None:
        self._handlers[fd] = handler
        self._ep.register(fd, events)

    def modify(self, fd: int, events: int) -> None:
        self._ep.modify(fd, events)

    def watching(self, fd: int) -> bool:
        return fd in self._handlers

    def remove(self, fd: int) -> None:
        if self._handlers.pop(fd, None) is not None:
            try:
                self._ep.unregister(fd)
            except (OSError, ValueError):
                pass  # closed already: the kernel dropped it from the epoll set

    # ------------------------------------------------------------ timers

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._timers, (time.monotonic() + delay, self._seq, callback))

    # ------------------------------------------------------------ children

    def watch_child(self, pid: int, on_exit: Callable[[int], None]) -> None:
        """Call ``on_exit(wait_status)`` once child ``pid`` has been reaped."""
        status = self._unclaimed.pop(pid, None)
        if status is not None:
            on_exit(status)
        else:
            self._children[pid] = on_exit
            self.reap()

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            cb = self._children.pop(pid, None)
            if cb is not None:
                cb(status)
            else:
                # An orphan of the container (reparented to us, the subreaper) or a child whose
                # watcher comes later. Orphans are never asked for: keep only a bounded few.
                if len(self._unclaimed) > 64:
                    self._unclaimed.pop(next(iter(self._unclaimed)))
                self._unclaimed[pid] = status

    def _on_wake(self, _events: int) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass
        self.reap()

    # ------------------------------------------------------------ running

    def run(self) -> None:
        """Dispatch until ``running`` turns False.

        A handler that raises is a bug of ours: it is reported to ``on_error`` and its fd
        dropped from the loop (a level-triggered fd would otherwise raise again at once), and
        the loop goes on -- one container's bug must not end the monitoring of the others a
        shim process holds.
        """
        while self.running:
            timeout = -1.0
            if self._timers:
                timeout = max(0.0, self._timers[0][0] - time.monotonic())
            for fd, events in self._ep.poll(timeout):
                handler = self._handlers.get(fd)
                if handler is not None:
                    try:
                        handler(events)
                    except Exception as exc:
                        self.remove(fd)
                        self.on_error(exc)
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                _, _, cb = heapq.heappop(self._timers)
                try:
                    cb()
                except Exception as exc:
                    self.on_error(exc)

    def close(self) -> None:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, self._old_sigchld)
        self._ep.close()
        os.close(self._wake_r)
        os.close(self._wake_w)


def _noop(_sig: int, _frame: object) -> None:
    return None


def _ignore(_exc: BaseException) -> None:
    return None
