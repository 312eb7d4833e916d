"""The detach key sequence of a TTY exec (``ctrl-p,ctrl-q`` unless DetachKeys says otherwise).

As dockerd's escape proxy (moby pkg/term, container/stream/attach.go copyEscapable): input bytes
that could begin the sequence are held back; the whole sequence detaches the client (the
process runs on); any other byte releases what was held together with itself, so typing ctrl-p
alone still reaches the process.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
# ctrl-<c> for these characters is the control code c - 64 ("@" 0, "a" 1, ..., "_" 31).
_CTRL = "abcdefghijklmnopqrstuvwxyz@[\\]^_"


def parse_detach_keys(spec: str) -> bytes:
    """``ctrl-p,ctrl-q`` -> ``b"\\x10\\x11"``; a single character stands for itself."""
    out = bytearray()
    for part in (spec or DEFAULT_DETACH_KEYS).split(","):
        key = part.strip()
        low = key.lower()
        if len(key) == 1:
            out.append(ord(key))
        elif low.startswith("ctrl-") and len(low) == 6 and low[5] in _CTRL:
            c = low[5]
            out.append(ord(c) - ord("a") + 1 if c.isalpha() else ord(c) - 64)
        else:
            raise InvalidArgument(
                f'invalid detach keys "{spec}": use comma-separated single characters or '
                "ctrl-<a-z@[\\]^_>, e.g. ctrl-p,ctrl-q"
            )
    return bytes(out)


class EscapeDetector:
    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._held = 0  # how many bytes of the sequence are matched and held back

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to pass on, whether the whole sequence was typed)."""
        out = bytearray()
        for byte in data:
            if byte == self.keys[self._held]:
                self._held += 1
                if self._held == len(self.keys):
                    self._held = 0
                    return bytes(out), True
                continue
            out += self.keys[: self._held]
            self._held = 0
            if byte == self.keys[0]:
                self._held = 1
                if len(self.keys) == 1:
                    return bytes(out), True
            else:
                out.append(byte)
        return bytes(out), False
