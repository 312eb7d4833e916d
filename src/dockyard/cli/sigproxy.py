"""Signals for an attached container: proxied to it (``--sig-proxy``) and window-size changes.

Without a TTY, the signals a user sends the client (ctrl-c's SIGINT, SIGTERM, SIGHUP...) are
sent on to the container with ``POST /containers/{id}/kill?signal=``, as docker's
``ForwardAllSignals`` does; with a TTY ctrl-c is a byte the container's pty turns into its
SIGINT. The API calls run on a thread: a signal handler runs between two bytecodes of the main
thread, which may hold the client's connection-pool lock at that moment.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from collections.abc import Callable
    from types import FrameType

    from dockyard.client.api import APIClient
else:
    # The C module: `signal` wraps it in IntEnums built at import (3 to 4 ms of every `run`).
    import _signal as signal

#: what docker forwards, minus those that are the client's own business: number -> name
FORWARDED = {
    signal.SIGINT: "SIGINT",
    signal.SIGTERM: "SIGTERM",
    signal.SIGHUP: "SIGHUP",
    signal.SIGQUIT: "SIGQUIT",
    signal.SIGUSR1: "SIGUSR1",
    signal.SIGUSR2: "SIGUSR2",
    signal.SIGALRM: "SIGALRM",
    signal.SIGCONT: "SIGCONT",
    signal.SIGTSTP: "SIGTSTP",
    signal.SIGTTIN: "SIGTTIN",
    signal.SIGTTOU: "SIGTTOU",
}


def _background(fn: Callable[[], object]) -> None:
    def guarded() -> None:
        try:
            fn()
        except Exception:
            pass  # the container may be gone already: nothing left to signal or resize

    import threading  # imported on the first signal: most sessions never get one

    threading.Thread(target=guarded, daemon=True).start()


class Handlers:
    """Installed handlers, put back by ``restore()``."""

    def __init__(self) -> None:
        self.saved: dict[int, object] = {}

    def install(self, sig: int, fn: Callable[[], object]) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            _background(fn)

        self.saved[sig] = signal.signal(sig, handler)

    def restore(self) -> None:
        for sig, previous in self.saved.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]  # saved as object
        self.saved.clear()


def proxy_signals(client: APIClient, path: str, handlers: Handlers) -> None:
    """Forward the usual signals to ``POST {path}/kill?signal=NAME``."""

    def sender(name: str) -> Callable[[], object]:
        return lambda: client.call("POST", f"{path}/kill", {"signal": name})

    for sig, name in FORWARDED.items():
        handlers.install(sig, sender(name))


def resize_on_winch(resize: Callable[[], object], handlers: Handlers) -> None:
    handlers.install(signal.SIGWINCH, resize)
