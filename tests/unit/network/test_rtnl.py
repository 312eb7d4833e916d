"""Acks of batched rtnetlink requests: matched by sequence, kernel messages read from the TLVs."""

from __future__ import annotations

import errno
import struct

from dockyard.network import rtnl

NLMSG_ERROR = 2
ACK_TLVS = 0x200


def ack(seq: int, error: int, message: str = "") -> bytes:
    echoed = struct.pack("=IHHII", 16, 16, 0, seq, 0)  # the request's header only (CAP_ACK)
    tlvs = b""
    if message:
        raw = message.encode() + b"\0"
        tlvs = struct.pack("=HH", 4 + len(raw), 1) + raw
        tlvs += b"\0" * (-len(tlvs) % 4)
    body = struct.pack("=i", -error) + echoed + tlvs
    flags = ACK_TLVS if message else 0
    return struct.pack("=IHHII", 16 + len(body), NLMSG_ERROR, flags, seq, 0) + body


def test_acks_in_one_datagram() -> None:
    data = ack(1, 0) + ack(2, errno.EEXIST, "File exists here") + ack(3, 0)
    assert rtnl._acks(data) == [(1, 0, ""), (2, errno.EEXIST, "File exists here"), (3, 0, "")]


def test_request_error_names_the_operation() -> None:
    err = rtnl.RequestError("add address 172.17.0.2/16", errno.EADDRNOTAVAIL, "")
    failure = err.failure()
    assert "cannot add address 172.17.0.2/16" in failure.message and "EADDRNOTAVAIL" in failure.message
    assert failure.errno == errno.EADDRNOTAVAIL
