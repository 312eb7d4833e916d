"""The little of the DNS wire format (RFC 1035) the embedded server needs: read a query's
question, write an answer with A or PTR records, or an error code."""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass

TYPE_A = 1
TYPE_PTR = 12
TYPE_AAAA = 28
CLASS_IN = 1
NOERROR = 0
FORMERR = 1
SERVFAIL = 2
NXDOMAIN = 3
REFUSED = 5
_HEADER = struct.Struct("!HHHHHH")  # id, flags, qdcount, ancount, nscount, arcount
_FLAG_QR = 0x8000
_FLAG_AA = 0x0400
_FLAG_TC = 0x0200
_FLAG_RD = 0x0100
_FLAG_RA = 0x0080
TTL = 600  # dockerd's embedded DNS answers with a TTL of 600 seconds
UDP_LIMIT = 512  # RFC 1035 4.2.1: larger answers over UDP only with EDNS, which we do not speak


class DNSFormatError(ValueError):
    pass


@dataclass
class Question:
    id: int
    flags: int
    name: str  # lower case, no trailing dot
    qtype: int
    qclass: int
    raw_question: bytes  # the question section as received, echoed in the answer


def parse_query(data: bytes) -> Question:
    if len(data) < _HEADER.size:
        raise DNSFormatError("short packet")
    qid, flags, qdcount, _an, _ns, _ar = _HEADER.unpack_from(data)
    if flags & _FLAG_QR or qdcount != 1:
        raise DNSFormatError("not a query with one question")
    labels = []
    offset = _HEADER.size
    while True:
        if offset >= len(data):
            raise DNSFormatError("truncated name")
        length = data[offset]
        offset += 1
        if length == 0:
            break
        if length & 0xC0:
            raise DNSFormatError("compression in a question")  # never sent by stub resolvers
        labels.append(data[offset : offset + length].decode("ascii", errors="replace"))
        offset += length
    if offset + 4 > len(data):
        raise DNSFormatError("truncated question")
    qtype, qclass = struct.unpack_from("!HH", data, offset)
    return Question(qid, flags, ".".join(labels).lower(), qtype, qclass, data[_HEADER.size : offset + 4])


def encode_name(name: str) -> bytes:
    out = bytearray()
    for label in name.rstrip(".").split("."):
        if label:
            raw = label.encode("ascii", errors="replace")[:63]
            out += bytes([len(raw)]) + raw
    return bytes(out) + b"\0"


def response(
    q: Question,
    rcode: int = NOERROR,
    a: Sequence[str] = (),
    ptr: Sequence[str] = (),
    aaaa: Sequence[str] = (),
) -> bytes:
    """An authoritative answer to ``q``: A or AAAA records (address strings) or PTR records."""
    answers = bytearray()
    pointer = struct.pack("!H", 0xC000 | _HEADER.size)  # the question's name, by reference
    for ip in a:
        answers += pointer + struct.pack("!HHIH", TYPE_A, CLASS_IN, TTL, 4) + ipaddress.IPv4Address(ip).packed
    for ip in aaaa:
        answers += (
            pointer + struct.pack("!HHIH", TYPE_AAAA, CLASS_IN, TTL, 16) + ipaddress.IPv6Address(ip).packed
        )
    for name in ptr:
        rdata = encode_name(name)
        answers += pointer + struct.pack("!HHIH", TYPE_PTR, CLASS_IN, TTL, len(rdata)) + rdata
    flags = _FLAG_QR | _FLAG_AA | (q.flags & _FLAG_RD) | _FLAG_RA | (rcode & 0xF)
    count = len(a) + len(aaaa) + len(ptr)
    return _HEADER.pack(q.id, flags, 1, count, 0, 0) + q.raw_question + bytes(answers)


def fit_udp(reply: bytes, limit: int = UDP_LIMIT) -> bytes:
    """``reply`` as UDP may carry it: over ``limit`` bytes, only its header with the TC bit set
    and its question (RFC 1035 4.2.1, RFC 2181 9), so the resolver asks again over TCP."""
    if len(reply) <= limit:
        return reply
    qid, flags, qdcount, _an, _ns, _ar = _HEADER.unpack_from(reply)
    end = _HEADER.size
    for _ in range(qdcount):
        end = _name_end(reply, end) + 4
    return _HEADER.pack(qid, flags | _FLAG_TC, qdcount, 0, 0, 0) + reply[_HEADER.size : end]


def truncated(reply: bytes) -> bool:
    return len(reply) >= _HEADER.size and bool(struct.unpack_from("!H", reply, 2)[0] & _FLAG_TC)


def _name_end(data: bytes, offset: int) -> int:
    """The offset just past the (uncompressed, or ending in a pointer) name at ``offset``."""
    while offset < len(data):
        length = data[offset]
        if length & 0xC0:
            return offset + 2
        offset += 1 + length
        if length == 0:
            return offset
    raise DNSFormatError("truncated name")


def error_for(data: bytes, rcode: int) -> bytes | None:
    """An answer carrying only ``rcode`` to whatever query ``data`` holds; None if unreadable."""
    if len(data) < _HEADER.size:
        return None
    qid, flags = struct.unpack_from("!HH", data)
    return _HEADER.pack(qid, _FLAG_QR | (flags & _FLAG_RD) | _FLAG_RA | (rcode & 0xF), 0, 0, 0, 0)


def reverse_ipv4(name: str) -> str | None:
    """ "2.0.18.172.in-addr.arpa" -> "172.18.0.2"; None for other names."""
    suffix = ".in-addr.arpa"
    if not name.endswith(suffix):
        return None
    parts = name[: -len(suffix)].split(".")
    if len(parts) != 4:
        return None
    try:
        return str(ipaddress.IPv4Address(".".join(reversed(parts))))
    except ValueError:
        return None
