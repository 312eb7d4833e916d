"""Sizes, durations and times written as docker writes them (docker/go-units, Go's time formats)."""

from __future__ import annotations

import time

DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def _go_g(value: float, precision: int) -> str:
    """Go's ``%.*g``: like C's, which Python's ``g`` format follows for these magnitudes."""
    return f"{value:.{precision}g}"


def _scaled(size: float, base: float, units: tuple[str, ...], precision: int) -> str:
    i = 0
    while size >= base and i < len(units) - 1:
        size /= base
        i += 1
    return f"{_go_g(size, precision)}{units[i]}"


def size(n: float, precision: int = 4) -> str:
    """go-units ``HumanSizeWithPrecision``: decimal units, ``1.986MB``; docker images uses precision 3."""
    return _scaled(float(n), 1000.0, DECIMAL_UNITS, precision)


def bytes_size(n: float) -> str:
    """go-units ``BytesSize``: binary units, ``23.54GiB`` (stats' memory columns)."""
    return _scaled(float(n), 1024.0, BINARY_UNITS, 4)


def duration(seconds: float) -> str:
    """go-units ``HumanDuration``: ``Less than a second``, ``About a minute``, ``3 weeks``..."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def ago(unix_seconds: float, now: float | None = None) -> str:
    """``5 minutes ago``: the CREATED column of ps and images."""
    current = time.time() if now is None else now
    return duration(max(0.0, current - unix_seconds)) + " ago"


def go_time(unix_seconds: float) -> str:
    """Go's ``time.Time.String()`` of a local time: ``2024-01-02 15:04:05 +0000 UTC``."""
    local = time.localtime(unix_seconds)
    return time.strftime("%Y-%m-%d %H:%M:%S %z %Z", local)


def rfc3339_nano_fixed(unix_nanos: int) -> str:
    """docker's ``RFC3339NanoFixed`` in local time: always nine fraction digits (events' times)."""
    seconds, nanos = divmod(unix_nanos, 1_000_000_000)
    local = time.localtime(seconds)
    offset = local.tm_gmtoff or 0
    if offset == 0:
        zone = "Z"
    else:
        sign = "+" if offset > 0 else "-"
        hh, mm = divmod(abs(offset) // 60, 60)
        zone = f"{sign}{hh:02d}:{mm:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + f".{nanos:09d}" + zone


def parse_timestamp(text: str) -> float | None:
    """Seconds since the epoch of an RFC 3339 time as the API writes it; None if it is not one.

    ``2024-01-02T15:04:05.123456789Z`` or with ``+01:00``; Go's zero time (``0001-01-01T00:00:00Z``,
    "never") gives None too.
    """
    import calendar

    if len(text) < 20 or text[4] != "-" or text[10] not in "Tt ":
        return None
    try:
        base = time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    if base.tm_year <= 1:
        return None
    rest = text[19:]
    fraction = 0.0
    if rest.startswith("."):
        digits = ""
        for ch in rest[1:]:
            if not ch.isdigit():
                break
            digits += ch
        fraction = float("0." + digits) if digits else 0.0
        rest = rest[1 + len(digits) :]
    offset = 0
    if rest and rest[0] in "+-" and len(rest) >= 6:
        offset = (int(rest[1:3]) * 60 + int(rest[4:6])) * 60 * (1 if rest[0] == "+" else -1)
    return calendar.timegm(base) - offset + fraction
