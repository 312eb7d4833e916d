"""The detach keys of a TTY exec: parsing DetachKeys and spotting the sequence in the input."""

from __future__ import annotations

import pytest

from dockyard.engine.exec_detach import EscapeDetector, parse_detach_keys
from dockyard.errors import InvalidArgument


def test_parse_detach_keys() -> None:
    assert parse_detach_keys("") == b"\x10\x11"  # ctrl-p,ctrl-q
    assert parse_detach_keys("ctrl-a,X") == b"\x01X"
    assert parse_detach_keys("ctrl-@,ctrl-_,ctrl-[") == b"\x00\x1f\x1b"
    with pytest.raises(InvalidArgument, match='invalid detach keys "ctrl-pq"'):
        parse_detach_keys("ctrl-pq")


def test_sequence_held_back_and_released() -> None:
    esc = EscapeDetector(b"\x10\x11")
    assert esc.feed(b"ab\x10") == (b"ab", False)  # ctrl-p held: it may start the sequence
    assert esc.feed(b"c") == (b"\x10c", False)  # not the sequence: released with the next byte
    assert esc.feed(b"\x10\x10") == (b"\x10", False)  # the second ctrl-p may start it again
    assert esc.feed(b"\x11rest") == (b"", True)
    one = EscapeDetector(b"q")
    assert one.feed(b"abq") == (b"ab", True)
