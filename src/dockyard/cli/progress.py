"""Docker's JSON progress messages (pull, push, load, import) shown to a user.

Each message is ``{"status", "id", "progress", "progressDetail": {"current", "total"}, "stream",
"error", "errorDetail", "aux"}``. Not on a terminal, they print as docker's ``jsonmessage``
does: ``ID: STATUS`` lines, ``stream`` text as is, and messages that only move a progress bar
left out. On a terminal each layer gets a live line with a bar, drawn with rich (imported only
then: rich costs more to import than the whole of ``dockyard ps``).
"""

from __future__ import annotations

import os

from dockyard.errors import DockyardError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, BinaryIO


class StreamFailed(DockyardError):
    """An ``{"error": ...}`` message: the operation failed on the daemon's side mid-stream."""


def _has_bar(message: dict[str, Any]) -> bool:
    detail = message.get("progressDetail") or {}
    return bool(detail.get("current") or detail.get("total"))


def _error(message: dict[str, Any]) -> StreamFailed | None:
    if "error" not in message and "errorDetail" not in message:
        return None
    detail = message.get("errorDetail") or {}
    return StreamFailed(str(detail.get("message") or message.get("error") or "unknown error"))


def plain_line(message: dict[str, Any]) -> str:
    """One message as docker prints it without a terminal; "" when it prints nothing."""
    if _has_bar(message) and not message.get("stream"):
        return ""
    prefix = f"{message['id']}: " if message.get("id") else ""
    if message.get("from"):
        prefix += f"(from {message['from']}) "
    if message.get("stream"):
        return prefix + str(message["stream"])
    if message.get("progress") and not message.get("status"):
        return ""
    status = message.get("status")
    if status is None:
        return ""
    return f"{prefix}{status}\n"


def show_plain(messages: Iterable[dict[str, Any]], out: BinaryIO) -> list[dict[str, Any]]:
    """Print the messages; return the ``aux`` payloads; raise on an error message."""
    aux: list[dict[str, Any]] = []
    for message in messages:
        failure = _error(message)
        if failure is not None:
            raise failure
        if isinstance(message.get("aux"), dict):
            aux.append(message["aux"])
            continue
        line = plain_line(message)
        if line:
            out.write(line.encode("utf-8", "replace"))
            out.flush()
    return aux


def progress_bar(detail: dict[str, Any], width: int) -> str:
    """docker's ``JSONProgress.String``: ``[=====>     ]  1.1MB/2.3MB`` (the bar only on wide terminals)."""
    from dockyard.cli.humanize import size

    current = int(detail.get("current") or 0)
    total = int(detail.get("total") or 0)
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{size(current):>8}"
    filled = min(50, int(current / total * 100) // 2)
    bar = f"[{'=' * filled}>{' ' * (50 - filled)}] " if width > 110 else ""
    numbers = f"{size(current):>8}/{size(total)}" if current <= total else f"{size(current):>8}"
    return bar + numbers


def show_terminal(messages: Iterable[dict[str, Any]], out: BinaryIO) -> list[dict[str, Any]]:
    """One live line per layer, redrawn in place as docker's terminal output (rich's Live)."""
    import io

    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    stream = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    console = Console(file=stream, highlight=False)
    try:
        width = os.get_terminal_size(out.fileno()).columns  # the terminal's, as docker reads it
    except (OSError, ValueError):
        width = console.width
    aux: list[dict[str, Any]] = []
    layers: dict[str, str] = {}
    after: list[str] = []  # lines that come after the layers (Digest, Status): printed below them
    try:
        with Live(Text(""), console=console, auto_refresh=True, refresh_per_second=8) as live:
            for message in messages:
                failure = _error(message)
                if failure is not None:
                    raise failure
                if isinstance(message.get("aux"), dict):
                    aux.append(message["aux"])
                    continue
                layer = message.get("id")
                status = str(message.get("status") or "")
                if layer and not message.get("stream") and not status.startswith("Pulling from"):
                    bar = progress_bar(message.get("progressDetail") or {}, width)
                    layers[str(layer)] = f"{layer}: {status} {bar}".rstrip()
                    live.update(Text("\n".join(layers.values())))
                    continue
                line = plain_line(message).rstrip("\n")
                if not line:
                    continue
                if layers:
                    after.append(line)
                else:
                    live.console.print(line, markup=False, highlight=False)
            live.update(Text("\n".join(layers.values())), refresh=True)
        for line in after:
            console.print(line, markup=False, highlight=False)
    finally:
        stream.flush()
        stream.detach()
    return aux


def show(messages: Iterable[dict[str, Any]], out: BinaryIO, terminal: bool) -> list[dict[str, Any]]:
    return show_terminal(messages, out) if terminal else show_plain(messages, out)


def drain(messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consume quietly (``-q``), still failing on an error message."""
    aux = []
    for message in messages:
        failure = _error(message)
        if failure is not None:
            raise failure
        if isinstance(message.get("aux"), dict):
            aux.append(message["aux"])
    return aux
