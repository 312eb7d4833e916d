"""Platforms (OCI image index "platform"): parse ``os/arch[/variant]``, match, pick from an index.

Standard library only.
"""

from __future__ import annotations

import platform as _host
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidArgument

# uname -m to the GOARCH names images use.
_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "i386": "386",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def matches(self, other: dict[str, Any]) -> bool:
        """True when an index entry's ``platform`` object is this platform.

        An entry without a variant matches any wanted variant's absence; arm64's "v8" is the
        default variant and counts as no variant (containerd's platforms.Normalize).
        """
        if other.get("os") != self.os or other.get("architecture") != self.architecture:
            return False
        want = _norm_variant(self.architecture, self.variant)
        have = _norm_variant(self.architecture, str(other.get("variant", "")))
        return not want or want == have


def _norm_variant(arch: str, variant: str) -> str:
    return "" if arch == "arm64" and variant == "v8" else variant


def host() -> Platform:
    machine = _host.machine()
    return Platform("linux", _ARCH.get(machine, machine), "v8" if machine == "aarch64" else "")


def parse(text: str | None) -> Platform:
    """``linux/amd64``, ``linux/arm64/v8``, ``linux`` (host architecture); None or "" -> the host's."""
    if not text:
        return host()
    parts = text.lower().split("/")
    if len(parts) > 3 or not all(parts):
        raise InvalidArgument(f"invalid platform {text!r}: use os/arch[/variant], e.g. linux/amd64")
    if len(parts) == 1:
        return Platform(parts[0], host().architecture, host().variant)
    arch = _ARCH.get(parts[1], parts[1])
    return Platform(parts[0], arch, parts[2] if len(parts) == 3 else "")
