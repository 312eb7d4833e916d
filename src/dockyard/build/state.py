"""A stage's state between steps: its image so far, the ARGs in scope, the build time T.

Also the small value parsers the metadata instructions need (Go durations for HEALTHCHECK,
EXPOSE's port specs, STOPSIGNAL's names).
"""

from __future__ import annotations

import copy
import re
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.images.model import Layer

DEFAULT_SHELL = ["/bin/sh", "-c"]
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def rfc3339(t: float) -> str:
    whole = int(t)
    frac = t - whole
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    if frac:
        return base + f".{round(frac * 1e9):09d}".rstrip("0") + "Z"
    return base + "Z"


def parse_rfc3339(text: str) -> int:
    """Seconds since the epoch of an image's ``created`` (fractions dropped); 0 when unparsable."""
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?", text or "")
    if not m:
        return 0
    import calendar

    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    tz = m.group(7)
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        secs -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return secs


@dataclass
class StageState:
    image_id: str | None  # None: scratch with no step yet
    config: dict[str, Any]  # the whole image config (architecture, config, history, rootfs)
    layers: list[Layer]
    build_time: float  # T: every created time of this stage, and the mtime clamp
    reproducible: bool = True
    args: dict[str, str] = field(default_factory=dict)  # ARGs declared in this stage, with values
    cmd_set: bool = False  # CMD given in this stage (ENTRYPOINT keeps it then)

    @property
    def run_config(self) -> dict[str, Any]:
        cfg = self.config.setdefault("config", {})
        assert isinstance(cfg, dict)
        return cfg

    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.run_config.get("Env") or []:
            k, _, v = item.partition("=")
            out[k] = v
        return out

    def expansion_env(self) -> dict[str, str]:
        # ENV always wins over an ARG of the same name (Dockerfile reference, "ARG").
        return {**self.args, **self.env()}

    def set_env(self, key: str, value: str) -> None:
        env = list(self.run_config.get("Env") or [])
        env = [e for e in env if e.partition("=")[0] != key]
        env.append(f"{key}={value}")
        self.run_config["Env"] = env

    def shell(self) -> list[str]:
        return list(self.run_config.get("Shell") or DEFAULT_SHELL)

    def created(self) -> str:
        return rfc3339(self.build_time if self.reproducible else time.time())

    def clamp(self) -> int | None:
        return int(self.build_time) if self.reproducible else None

    def child(self) -> dict[str, Any]:
        return copy.deepcopy(self.config)


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def parse_duration(text: str, flag: str) -> int:
    """A Go duration ("30s", "1m30s", "500ms") in nanoseconds."""
    if text == "0":
        return 0
    pos = 0
    total = 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise InvalidArgument(
            f"invalid duration {text!r} for --{flag}: use a number with a unit, as 30s or 1m30s"
        )
    return int(total)


def exposed_ports(words: list[str]) -> list[str]:
    out: list[str] = []
    for w in words:
        port, _, proto = w.partition("/")
        proto = (proto or "tcp").lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise InvalidArgument(f"invalid proto {proto!r} in EXPOSE {w}: use tcp, udp or sctp")
        if ":" in port:
            raise InvalidArgument(
                f"EXPOSE {w}: publishing ports is done with docker run -p, not in a Dockerfile"
            )
        lo, dash, hi = port.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise InvalidArgument(f"invalid containerPort: {port}")
        for p in range(int(lo), int(hi if dash else lo) + 1):
            out.append(f"{p}/{proto}")
    return out


def check_signal(value: str) -> str:
    if value.isdigit():
        return value
    name = value.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    base = name.split("+")[0].split("-")[0]
    if base not in signal.Signals.__members__ and not base.startswith("SIGRTM"):
        raise InvalidArgument(f"invalid signal: {value}")
    return value
