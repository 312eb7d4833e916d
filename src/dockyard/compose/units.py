"""Durations and sizes as Compose writes them: Go's time.ParseDuration and Docker's RAMInBytes."""

from __future__ import annotations

import re

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_duration(value: object) -> float:
    """Seconds from "1m30s", "500ms", "1h", "0" (Go's syntax), or a number taken as seconds.

    Raises ValueError with the reason; the caller adds the file and key.
    """
    if isinstance(value, bool):
        raise ValueError("a duration is a string such as 30s, 1m30s or 500ms")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise ValueError("a duration is a string such as 30s, 1m30s or 500ms")
    text = value.strip()
    sign = 1.0
    if text[:1] in "+-" and text:
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if text == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(text):
        m = _DURATION_PART.match(text, pos)
        if m is None:
            raise ValueError("use a number with a unit: h, m, s, ms, us or ns (1m30s, 10s, 500ms)")
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if not text:
        raise ValueError("empty duration: use 30s, 1m30s or 500ms")
    return sign * total


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration, as Go prints: 90.0 -> "1m30s", 0.5 -> "500ms"."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        ms = seconds * 1000
        return f"{ms:g}ms" if ms >= 1 else f"{seconds * 1e6:g}us"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    out = ""
    if hours:
        out += f"{int(hours)}h"
    if hours or minutes:
        out += f"{int(minutes)}m"
    return out + f"{round(secs, 9):g}s"


def parse_size(value: object) -> int:
    """Bytes from 64m, 1g, 512k, 100b, 1.5GiB (binary multiples, as docker's RAMInBytes) or an int."""
    if isinstance(value, bool):
        raise ValueError("a size is a number with an optional b, k, m or g suffix (64m, 1g)")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if not isinstance(value, str):
        raise ValueError("a size is a number with an optional b, k, m or g suffix (64m, 1g)")
    m = _SIZE.match(value.strip())
    if m is None:
        raise ValueError("use a number with an optional b, k, m or g suffix (64m, 1g)")
    return int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "").lower()])
