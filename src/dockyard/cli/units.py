"""Flag values with units, parsed as the docker CLI parses them (go-units, Go's time and strconv).

Each parser raises ValueError with docker's wording, which the flag parser turns into
``invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_BINARY = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_DECIMAL = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4, "p": 1000**5}


def _parse_size(text: str, units: dict[str, int]) -> int:
    """go-units ``parseSize``: ``^(\\d+(\\.\\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$``."""
    i = 0
    while i < len(text) and (text[i].isdigit() or text[i] == "."):
        i += 1
    number, rest = text[:i], text[i:]
    if rest.startswith(" "):
        rest = rest[1:]
    unit = ""
    if rest and rest[0].lower() in "kmgtp":
        unit, rest = rest[0].lower(), rest[1:]
    if rest[:1] in ("i", "I"):
        rest = rest[1:]
    if rest[:1] in ("b", "B"):
        rest = rest[1:]
    if not number or rest or number.startswith(".") or number.count(".") > 1 or number.endswith("."):
        raise ValueError(f"invalid size: '{text}'")
    return int(float(number) * units[unit])


def ram_in_bytes(text: str) -> int:
    """``RAMInBytes``: binary multiples, ``512m`` = 512 MiB (--memory, --shm-size, tmpfs-size)."""
    return _parse_size(text, _BINARY)


def from_human_size(text: str) -> int:
    """``FromHumanSize``: decimal multiples, ``1kB`` = 1000."""
    return _parse_size(text, _DECIMAL)


def memory_swap(text: str) -> int:
    """``--memory-swap``: a size, or -1 for unlimited swap."""
    return -1 if text == "-1" else ram_in_bytes(text)


def nano_cpus(text: str) -> int:
    """``--cpus 1.5`` (or ``3/2``) -> 1500000000, as docker's ``big.Rat`` parse; finer is "too precise"."""
    try:
        if "/" in text:
            num_text, _, den_text = text.partition("/")
            num, den = int(num_text), int(den_text)
            if den == 0:
                raise ZeroDivisionError
            nanos, remainder = divmod(num * 1_000_000_000, den)
        else:
            sign = -1 if text.startswith("-") else 1
            body = text.lstrip("+-")
            whole, _, frac = body.partition(".")
            if not (whole or frac) or not (whole or "0").isdigit() or (frac and not frac.isdigit()):
                raise ValueError
            digits = frac.ljust(9, "0")
            remainder = int(digits[9:] or "0")
            nanos = sign * (int(whole or "0") * 1_000_000_000 + int(digits[:9]))
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"failed to parse {text} as a rational number") from None
    if remainder:
        raise ValueError("value is too precise")
    return nanos


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def go_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` in nanoseconds: ``1m30s``, ``1.5h``, ``300ms``, ``0``."""
    s = text
    sign = 1
    if s[:1] in "+-" and s:
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total = 0.0
    while s:
        i = 0
        while i < len(s) and (s[i].isdigit() or s[i] == "."):
            i += 1
        number = s[:i]
        if not number or number == "." or number.count(".") > 1:
            raise ValueError(f'time: invalid duration "{text}"')
        s = s[i:]
        j = 0
        while j < len(s) and not (s[j].isdigit() or s[j] == "."):
            j += 1
        unit, s = s[:j], s[j:]
        if not unit:
            raise ValueError(f'time: missing unit in duration "{text}"')
        if unit not in _DURATION_UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        total += float(number) * _DURATION_UNITS[unit]
    return sign * round(total)


def seconds_or_duration(text: str) -> int:
    """A whole number of seconds (``10``) or a Go duration (``10s``), in seconds."""
    if text.lstrip("-").isdigit():
        return int(text)
    return go_duration(text) // 1_000_000_000


ULIMIT_NAMES = frozenset(
    [
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    ]
)


def _go_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None


def ulimit(text: str) -> dict[str, Any]:
    """``nofile=1024[:2048]`` -> ``{"Name": "nofile", "Soft": 1024, "Hard": 2048}`` (``ParseUlimit``)."""
    name, sep, values = text.partition("=")
    if not sep:
        raise ValueError(f"invalid ulimit argument: {text}")
    if name not in ULIMIT_NAMES:
        raise ValueError(f"invalid ulimit type: {name}")
    parts = values.split(":")
    if len(parts) > 2:
        raise ValueError(f"too many limit value arguments - {values}, can only have up to two, `soft[:hard]`")
    hard = _go_int(parts[1]) if len(parts) == 2 else None
    soft = _go_int(parts[0])
    if hard is None:
        hard = soft
    if hard != -1 and soft > hard:
        raise ValueError(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return {"Name": name, "Soft": soft, "Hard": hard}


def restart_policy(text: str) -> dict[str, Any]:
    """``on-failure:3`` -> ``{"Name": "on-failure", "MaximumRetryCount": 3}`` (the daemon checks the name)."""
    name, sep, count = text.partition(":")
    if sep and not name:
        raise ValueError("invalid restart policy format: no policy provided before colon")
    retries = 0
    if count:
        try:
            retries = int(count)
        except ValueError:
            raise ValueError(
                "invalid restart policy format: maximum retry count must be an integer"
            ) from None
    return {"Name": name, "MaximumRetryCount": retries}


def key_value(text: str) -> tuple[str, str]:
    """``k=v`` (``--log-opt``, ``--sysctl``, ``--storage-opt``)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"invalid key=value pair: {text}")
    return key, value


def _device_and(text: str) -> tuple[str, str]:
    path, sep, value = text.rpartition(":")
    if not sep or not path.startswith("/dev/"):
        raise ValueError(f"bad format: {text}" if not sep else f"bad format for device path: {path}")
    return path, value


def throttle_bps(text: str) -> dict[str, Any]:
    """``--device-write-bps /dev/sda:1mb`` -> ``{"Path": "/dev/sda", "Rate": 1048576}``
    (docker's ValidateThrottleBpsDevice: the rate in RAMInBytes' units, at least 0)."""
    path, rate = _device_and(text)
    try:
        value = ram_in_bytes(rate)
    except ValueError:
        raise ValueError(
            f"invalid rate for device: {text}. The correct format is <device-path>:<number>[<unit>]. "
            "Number must be a positive integer. Unit is optional and can be kb, mb, or gb"
        ) from None
    return {"Path": path, "Rate": value}


def throttle_iops(text: str) -> dict[str, Any]:
    """``--device-read-iops /dev/sda:100`` -> ``{"Path": "/dev/sda", "Rate": 100}``."""
    path, rate = _device_and(text)
    if not rate.isdigit():
        raise ValueError(
            f"invalid rate for device: {text}. The correct format is <device-path>:<number>. "
            "Number must be a positive integer"
        )
    return {"Path": path, "Rate": int(rate)}


def weight_device(text: str) -> dict[str, Any]:
    """``--blkio-weight-device /dev/sda:300`` -> ``{"Path": "/dev/sda", "Weight": 300}``."""
    path, weight = _device_and(text)
    if not weight.isdigit() or not (10 <= int(weight) <= 1000):
        raise ValueError(f"invalid weight for device: {text}")
    return {"Path": path, "Weight": int(weight)}
