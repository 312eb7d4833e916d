"""What ``dockyard build`` shows while the daemon builds: the classic builder's JSON stream
(``Step i/N : ...``, `` ---> Using cache``, `` ---> <id>``, the RUN's output) read back into
steps, and drawn as BuildKit draws them.

    plain   one line per event, for logs and CI:   #3 [3/5] COPY f /f
                                                   #3 CACHED
                                                   #4 [4/5] RUN echo hi
                                                   #4 0.103 hi
                                                   #4 DONE 0.2s
    tty     a live view (rich): finished steps on one line each (CACHED or their time), the
            running step with its last output lines; the same summary stays when it ends.

A failed step prints its last output lines and the daemon's message (for a RUN, the command
and its exit code).
"""

from __future__ import annotations

import re
import time

from dockyard.cli.progress import StreamFailed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
_ID = re.compile(r"^ ---> ([0-9a-f]{12})$")
TAIL = 10


class Step:
    def __init__(self, number: int, total: int, text: str) -> None:
        self.number = number
        self.total = total
        self.text = text
        self.started = time.monotonic()
        self.ended: float | None = None
        self.cached = False
        self.output: list[str] = []

    def title(self) -> str:
        return f"[{self.number}/{self.total}] {self.text}"

    def status(self) -> str:
        if self.cached:
            return "CACHED"
        end = self.ended if self.ended is not None else time.monotonic()
        return f"DONE {end - self.started:.1f}s"


class BuildView:
    """Reads the daemon's messages into steps; ``on_event(kind, step, text)`` for each change."""

    def __init__(self, on_event: Callable[[str, Step | None, str], None]) -> None:
        self.steps: list[Step] = []
        self.image_id = ""
        self.messages: list[str] = []  # lines outside any step (warnings, "Successfully ...")
        self._partial = ""
        self._on_event = on_event

    @property
    def current(self) -> Step | None:
        return self.steps[-1] if self.steps and self.steps[-1].ended is None else None

    def feed(self, message: dict[str, Any]) -> None:
        if "errorDetail" in message or "error" in message:
            detail = message.get("errorDetail") or {}
            raise StreamFailed(str(detail.get("message") or message.get("error") or "unknown error"))
        aux = message.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            self.image_id = str(aux["ID"])
        if message.get("status"):
            self._line(str(message["status"]))
        text = message.get("stream")
        if not isinstance(text, str):
            return
        text = self._partial + text
        lines = text.split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._line(line)

    def _line(self, line: str) -> None:
        m = _STEP.match(line)
        if m:
            self._finish()
            new = Step(int(m.group(1)), int(m.group(2)), m.group(3))
            self.steps.append(new)
            self._on_event("start", new, "")
            return
        step = self.current
        if step is not None:
            if line == " ---> Using cache":
                step.cached = True
                return
            if _ID.match(line):
                self._finish()
                return
            if line.startswith(" ---> "):
                return  # "Running in", "Removing intermediate container"
            step.output.append(line)
            del step.output[:-200]
            self._on_event("output", step, line)
            return
        if line.startswith(" ---> "):
            return
        self.messages.append(line)
        self._on_event("message", None, line)

    def _finish(self) -> None:
        step = self.current
        if step is not None:
            step.ended = time.monotonic()
            self._on_event("done", step, "")

    def close(self) -> None:
        if self._partial:
            self._line(self._partial)
            self._partial = ""
        self._finish()


def failure_text(view: BuildView, error: str) -> str:
    step = view.current or (view.steps[-1] if view.steps else None)
    if step is None:
        return f"ERROR: {error}"
    lines = ["------", f" > {step.title()}:"]
    lines += [f"{line}" for line in step.output[-TAIL:]]
    lines += ["------", f"ERROR: failed to build: {step.title()}: {error}"]
    return "\n".join(lines)


def show_plain(messages: Iterable[dict[str, Any]], write: Callable[[str], None]) -> BuildView:
    def on_event(kind: str, step: Step | None, text: str) -> None:
        if kind == "start" and step is not None:
            write(f"#{step.number} {step.title()}")
        elif kind == "output" and step is not None:
            write(f"#{step.number} {time.monotonic() - step.started:.3f} {text}")
        elif kind == "done" and step is not None:
            write(f"#{step.number} {step.status()}")
        elif kind == "message" and text:
            write(text)

    view = BuildView(on_event)
    return _run(view, messages, write)


def _run(view: BuildView, messages: Iterable[dict[str, Any]], write: Callable[[str], None]) -> BuildView:
    try:
        for message in messages:
            view.feed(message)
    except StreamFailed as e:
        write(failure_text(view, str(e)))
        raise
    view.close()
    return view


def show_tty(messages: Iterable[dict[str, Any]], console_file: Any) -> BuildView:
    from rich.console import Console, Group
    from rich.live import Live
    from rich.text import Text

    console = Console(file=console_file, highlight=False, force_terminal=True)
    started = time.monotonic()

    def render() -> Group:
        rows: list[Text] = [Text(f"Building {time.monotonic() - started:.1f}s", style="bold blue")]
        for step in view.steps:
            status = step.status() if step.ended is not None else f"{time.monotonic() - step.started:.1f}s"
            style = "blue" if step.ended is not None else "yellow"
            row = Text(f" => {step.title()}", style=style)
            row.append(f"  {status}", style="dim" if step.cached else style)
            rows.append(row)
            if step.ended is None:
                rows.extend(Text(f" => > {line}", style="dim") for line in step.output[-6:])
        return Group(*rows)

    view = BuildView(lambda kind, step, text: None)
    live = Live(console=console, refresh_per_second=8, transient=False, get_renderable=render)
    with live:
        try:
            for message in messages:
                view.feed(message)
        except StreamFailed as e:
            live.stop()
            console.print(Text(failure_text(view, str(e)), style="red"))
            raise
        view.close()
    for line in view.messages:
        if line:
            console.print(line)
    return view
