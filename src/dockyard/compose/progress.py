"""The progress display of Compose v2: ``[+] Running 3/3`` over one line per resource.

On a terminal (stdout and stderr both TTYs) rich redraws the block in place, as Compose's tty
writer does; otherwise each change is a plain line (`` Container demo-web-1  Started``), as
Compose's plain writer prints when its output is not a terminal. Written to stderr, like
Compose, so stdout carries only what a command answers (ids, tables).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

DONE_WORDS = frozenset(
    {"Created", "Started", "Running", "Stopped", "Removed", "Healthy", "Exited", "Built", "Pulled",
     "Killed", "Restarted", "Recreated", "Waiting", "Skipped", "Found",
     "Resource is still in use"}
)  # fmt: skip


@dataclass
class Line:
    kind: str
    name: str
    status: str
    started: float
    ended: float | None = None
    error: bool = False


class Writer(Protocol):
    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class Progress:
    def __init__(self, out: Writer, terminal: bool, title: str = "Running") -> None:
        self.out = out
        self.terminal = terminal
        self.title = title
        self.lines: dict[tuple[str, str], Line] = {}
        self._lock = threading.Lock()
        self._live: Any = None
        if terminal:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=out, force_terminal=True)  # type: ignore[arg-type]
            self._live = Live(console=console, auto_refresh=False, transient=False)
            self._live.start()

    def event(self, kind: str, name: str, status: str, *, error: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            line = self.lines.get((kind, name))
            if line is None:
                line = self.lines[(kind, name)] = Line(kind, name, status, now)
            line.status = status
            line.error = error
            line.ended = now if (status in DONE_WORDS or error) else None
            if self._live is not None:
                self._live.update(self._render(), refresh=True)
            else:
                self.out.write(f" {kind} {name}  {status}\n")
                self.out.flush()

    def _render(self) -> Any:
        from rich.text import Text

        done = sum(1 for line in self.lines.values() if line.ended is not None)
        text = Text()
        head = "[+]" if done == len(self.lines) else "[-]"
        text.append(f"{head} {self.title} {done}/{len(self.lines)}\n", style="bold")
        width = max(len(f"{line.kind} {line.name}") for line in self.lines.values())
        now = time.monotonic()
        for line in self.lines.values():
            mark, style = ("✘", "red") if line.error else (("✔", "green") if line.ended else ("⠿", "blue"))
            elapsed = (line.ended or now) - line.started
            label = f"{line.kind} {line.name}".ljust(width)
            text.append(f" {mark} ", style=style)
            text.append(f"{label}  {line.status:<10} {elapsed:.1f}s\n")
        text.rstrip()
        return text

    def close(self) -> None:
        if self._live is not None:
            self._live.update(self._render(), refresh=True)
            self._live.stop()
            self._live = None


class Quiet(Progress):
    """No display (``--quiet-pull``-style callers, and library use in tests)."""

    def __init__(self) -> None:
        import io

        super().__init__(io.StringIO(), terminal=False)
