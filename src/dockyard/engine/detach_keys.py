"""The detach sequence of attach (`docker attach`, `docker run -it`): ctrl-p ctrl-q by default.

dockerd watches the client's stdin for the sequence and, when it sees it, ends the attach and
leaves the container running; the client never sends it on. Bytes that start the sequence and
then diverge go through unchanged. The format of ``detachKeys`` (and the CLI's
``--detach-keys``): comma-separated keys, each a single character or ``ctrl-<c>`` with ``<c>``
one of a-z, @, [, \\, ], ^, _ (moby pkg/term ToBytes).
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

DEFAULT = "ctrl-p,ctrl-q"


def parse(spec: str | None) -> bytes:
    if not spec:
        spec = DEFAULT
    out = bytearray()
    for key in spec.split(","):
        key = key.strip()
        if len(key) == 6 and key.lower().startswith("ctrl-"):
            c = key[5].lower()
            if "a" <= c <= "z":
                out.append(ord(c) - ord("a") + 1)
            elif c in "@[\\]^_":
                out.append({"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}[c])
            else:
                raise InvalidArgument(f"Invalid escape keys ({spec}) provided: {key!r} is not a ctrl key")
        elif len(key) == 1:
            out.append(ord(key))
        else:
            raise InvalidArgument(
                f"Invalid escape keys ({spec}) provided: use keys such as ctrl-p,ctrl-q or a single character"
            )
    return bytes(out)


class EscapeFilter:
    """Feed the client's stdin through ``feed``: it returns what to pass on and whether the
    sequence was seen (everything after it is dropped: the attach ends)."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        if not self.keys:
            return data, False
        out = bytearray()
        for byte in data:
            candidate = self._held + bytes([byte])
            if self.keys.startswith(candidate):
                if candidate == self.keys:
                    return bytes(out), True
                self._held = candidate
                continue
            out += self._held
            self._held = b""
            if self.keys.startswith(bytes([byte])):
                self._held = bytes([byte])
            else:
                out.append(byte)
        return bytes(out), False

    def flush(self) -> bytes:
        held, self._held = self._held, b""
        return held
