"""Several containers' logs interleaved as Compose prints them: ``<name>  | <line>``.

One thread per container reads its ``GET /containers/{id}/logs`` stream and hands whole lines
to the printer (a partial line waits for its end, so two containers never mix within a line).
On a terminal each service has its colour, from Compose's rainbow in order of first appearance.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import BinaryIO

from dockyard.client.api import APIClient, quote_path
from dockyard.client.stdcopy import demux
from dockyard.compose.state import Container

#: ANSI colours in Compose's order (``cmd/formatter/colors.go`` rainbow: cyan, yellow, green,
#: magenta, blue, then the bright ones).
RAINBOW = (36, 33, 32, 35, 34, 96, 93, 92, 95, 94)


class Printer:
    def __init__(self, out: BinaryIO, width: int, *, colour: bool, prefix: bool = True) -> None:
        self.out = out
        self.width = width
        self.colour = colour
        self.prefix = prefix
        self._colours: dict[str, int] = {}
        self._lock = threading.Lock()

    def colour_of(self, service: str) -> int:
        if service not in self._colours:
            self._colours[service] = RAINBOW[len(self._colours) % len(RAINBOW)]
        return self._colours[service]

    def head(self, name: str, service: str) -> bytes:
        if not self.prefix:
            return b""
        text = f"{name.ljust(self.width)}  | "
        if self.colour:
            text = f"\x1b[{self.colour_of(service)}m{text}\x1b[0m"
        return text.encode()

    def line(self, name: str, service: str, data: bytes) -> None:
        with self._lock:
            self.out.write(self.head(name, service) + data.rstrip(b"\n") + b"\n")
            self.out.flush()

    def note(self, text: str) -> None:
        with self._lock:
            self.out.write(text.encode() + b"\n")
            self.out.flush()


def _reader(
    client: APIClient,
    c: Container,
    params: dict[str, object],
    tty: bool,
    emit: Callable[[Container, bytes], None],
) -> None:
    resp = client.request("GET", f"/containers/{quote_path(c.id)}/logs", params)
    pending = b""
    try:
        chunks = resp.iter_chunks()
        pieces = ((1, chunk) for chunk in chunks) if tty else demux(chunks)
        for _, payload in pieces:
            pending += payload
            *lines, pending = pending.split(b"\n")
            for line in lines:
                emit(c, line)
        if pending:
            emit(c, pending)
    finally:
        if not resp.done:
            resp.close()


def follow(
    client: APIClient,
    containers: list[Container],
    printer: Printer,
    *,
    follow: bool = False,
    tail: str = "all",
    since: str = "",
    timestamps: bool = False,
    on_exit: Callable[[Container], bool | None] | None = None,
) -> None:
    """Print the containers' logs until every stream ends (all exited, or ``follow`` off), or
    until ``on_exit``, called as each stream ends, returns True."""
    events: queue.Queue[tuple[Container, bytes | None]] = queue.Queue()
    params: dict[str, object] = {
        "stdout": True, "stderr": True, "follow": follow, "tail": tail,
        "since": since or None, "timestamps": timestamps,
    }  # fmt: skip

    def run(c: Container, tty: bool) -> None:
        try:
            _reader(client, c, params, tty, lambda c, line: events.put((c, line)))
        except OSError:
            pass  # the daemon dropped the stream (shutting down): this container's log ends here
        finally:
            events.put((c, None))

    live = 0
    for c in containers:
        info = client.get(f"/containers/{quote_path(c.id)}/json")
        tty = bool((info.get("Config") or {}).get("Tty"))
        threading.Thread(target=run, args=(c, tty), daemon=True, name=f"logs-{c.name}").start()
        live += 1
    while live:
        c, line = events.get()
        if line is None:
            live -= 1
            if on_exit is not None and on_exit(c):
                return
            continue
        printer.line(c.name, c.service, line)
