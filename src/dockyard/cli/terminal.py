"""The local terminal: raw mode for ``-it``, its size, and the detach key sequence.

Raw mode is what docker's ``term.MakeRaw`` sets (cfmakeraw(3): no echo, no line editing, no
signal keys, no output processing): every key goes to the container's pty, whose own line
discipline echoes and edits; ctrl-c reaches it as a byte, not as our SIGINT. The saved
attributes are put back however the session ends.
"""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
_CTRL_SPECIAL = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def detach_keys(spec: str) -> bytes:
    """docker's ``term.ToBytes``: ``ctrl-p,ctrl-q`` -> ``b"\\x10\\x11"``; ``a`` is the byte ``a``."""
    out = bytearray()
    for key in spec.split(","):
        key = key.strip()
        if len(key) == 1:
            out.append(ord(key))
            continue
        if key.startswith("ctrl-") and len(key) == 6:
            char = key[5].lower()
            if "a" <= char <= "z":
                out.append(ord(char) - ord("a") + 1)
                continue
            if char in _CTRL_SPECIAL:
                out.append(_CTRL_SPECIAL[char])
                continue
        raise InvalidArgument(
            f'invalid detach keys "{spec}": use comma-separated single characters or ctrl-<a-z@[\\\\]^_>, '
            "e.g. ctrl-p,ctrl-q"
        )
    return bytes(out)


def size(fd: int) -> tuple[int, int] | None:
    """(rows, columns) of the terminal on ``fd``, or None when it is not a terminal."""
    try:
        columns, lines = os.get_terminal_size(fd)
    except OSError:
        return None
    return lines, columns


class RawMode:
    """``with RawMode(fd):`` the terminal is raw inside, restored after (also on errors)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved: list[Any] | None = None

    def __enter__(self) -> RawMode:
        import termios
        import tty

        self.saved = termios.tcgetattr(self.fd)
        tty.setraw(self.fd, termios.TCSANOW)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.saved is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
            self.saved = None


class EscapeProxy:
    """Watches typed bytes for the detach sequence (docker's ``term.NewEscapeProxy``).

    Bytes that might start the sequence are held back; if the sequence breaks off they are
    passed on with the byte that broke it, so typing ctrl-p alone still reaches the container.
    """

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.matched = 0

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to send on, whether the whole sequence was typed)."""
        out = bytearray()
        for byte in data:
            if self.keys and byte == self.keys[self.matched]:
                self.matched += 1
                if self.matched == len(self.keys):
                    self.matched = 0
                    return bytes(out), True
                continue
            if self.matched:
                out += self.keys[: self.matched]
                self.matched = 0
                if byte == self.keys[0]:
                    self.matched = 1
                    continue
            out.append(byte)
        return bytes(out), False
