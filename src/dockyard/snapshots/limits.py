"""Bounds on what one layer may unpack to: a tar bomb is refused, not unpacked until the disk fills.

The defaults are the issue's: 1,000,000 entries, paths 256 components deep, 64 GiB of
uncompressed tar. Each is a daemon option (``image-limits`` in daemon.json).
"""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.errors import InvalidArgument


@dataclass(frozen=True)
class LayerLimits:
    max_entries: int = 1_000_000
    max_depth: int = 256
    max_size: int = 64 << 30  # bytes of uncompressed tar

    def __post_init__(self) -> None:
        for name in ("max_entries", "max_depth", "max_size"):
            if getattr(self, name) < 1:
                raise InvalidArgument(f"layer limit {name} must be at least 1, got {getattr(self, name)}")


class LimitExceeded(InvalidArgument):
    def __init__(self, what: str, limit: int, option: str) -> None:
        super().__init__(
            f"layer refused: {what} exceeds the limit of {limit} (a tar bomb?): raise the daemon's "
            f"image-limits {option!r} if the image is genuine"
        )
