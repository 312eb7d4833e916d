"""Signal names as the Engine API takes them: "SIGTERM", "TERM", "term", "15", "SIGRTMIN+3"."""

from __future__ import annotations

import signal

from dockyard.errors import InvalidArgument


def parse(value: str | int | None, default: int = signal.SIGKILL) -> int:
    if value is None or value == "":
        return int(default)
    if isinstance(value, int):
        number = value
    else:
        text = value.strip().upper()
        if text.isdigit():
            number = int(text)
        else:
            if not text.startswith("SIG"):
                text = "SIG" + text
            found = _by_name(text)
            if found is None:
                raise InvalidArgument(f"Invalid signal: {value}")
            number = found
    if not 0 < number <= signal.SIGRTMAX:
        raise InvalidArgument(f"Invalid signal: {value}")
    return number


def _by_name(name: str) -> int | None:
    base, plus, offset = name.partition("+")
    minus_base, minus, minus_offset = name.partition("-")
    if plus and base in ("SIGRTMIN", "SIGRTMAX") and offset.isdigit():
        return int(getattr(signal, base)) + int(offset)
    if minus and minus_base == "SIGRTMAX" and minus_offset.isdigit():
        return int(signal.SIGRTMAX) - int(minus_offset)
    member = getattr(signal.Signals, name, None) if name in signal.Signals.__members__ else None
    return int(member) if member is not None else None


def name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
