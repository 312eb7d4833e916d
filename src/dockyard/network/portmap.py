"""Published ports: the API's PortBindings and PublishAllPorts turned into host ports, with
dockerd's conflict rules.

A host port is taken when another container holds the same protocol and port on the same
address, or when either binding is on every address (0.0.0.0); a port some host process
listens on is refused too (a test bind() finds it: a DNAT would silently steal its traffic).
Ports left empty (`-p 80`, `-P`) come from the kernel's ephemeral range
(net.ipv4.ip_local_port_range), as dockerd's port allocator takes them.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from collections.abc import Iterable, Mapping
from typing import Any

from dockyard.errors import Conflict, InvalidArgument
from dockyard.network.sandbox import PortBinding

_RANGE_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
PROTOCOLS = ("tcp", "udp")


def ephemeral_range() -> tuple[int, int]:
    try:
        with open(_RANGE_FILE, encoding="ascii") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 49153, 60999


def _split_key(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    proto = proto or "tcp"
    if proto not in PROTOCOLS:
        raise InvalidArgument(f"invalid protocol {proto!r} in port {key!r}: use tcp or udp")
    try:
        number = int(port)
    except ValueError:
        raise InvalidArgument(f"invalid container port {key!r}: use a number, e.g. 80/tcp") from None
    if not 1 <= number <= 65535:
        raise InvalidArgument(f"invalid container port {key!r}: use 1 to 65535")
    return number, proto


def _host_range(text: str, key: str) -> tuple[int, int] | None:
    """ "" -> None (any free port); "8080" -> (8080, 8080); "8000-8010" -> (8000, 8010)."""
    if not text:
        return None
    start, sep, end = text.partition("-")
    try:
        low, high = int(start), int(end) if sep else int(start)
    except ValueError:
        raise InvalidArgument(f"invalid host port {text!r} for {key}: use a number or a range") from None
    if low == 0 and high == 0:
        return None
    if not (1 <= low <= high <= 65535):
        raise InvalidArgument(f"invalid host port {text!r} for {key}: use 1 to 65535, low-high")
    return low, high


def _host_ip(text: str, key: str) -> str:
    if not text or text in ("0.0.0.0", "::"):
        return ""
    try:
        ip = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        raise InvalidArgument(f"invalid host IP {text!r} for {key}: use an IPv4 address") from None
    if ip.version != 4:
        raise InvalidArgument(f"host IP {text} for {key}: IPv6 bindings are not supported yet, use IPv4")
    return str(ip)


Request = tuple[int, str, str, tuple[int, int] | None]  # container port, proto, host ip, range


def requests(
    bindings: Mapping[str, Any] | None, exposed: Iterable[str] = (), publish_all: bool = False
) -> list[Request]:
    """What the container asks for, validated, in a stable order."""
    out: list[Request] = []
    bound = set()
    for key in sorted(bindings or {}):
        port, proto = _split_key(key)
        bound.add((port, proto))
        entries = (bindings or {})[key] or [{}]
        for entry in entries:
            entry = entry or {}
            out.append(
                (
                    port,
                    proto,
                    _host_ip(entry.get("HostIp") or "", key),
                    _host_range(str(entry.get("HostPort") or ""), key),
                )
            )
    if publish_all:
        for key in sorted(exposed):
            port, proto = _split_key(key)
            if (port, proto) not in bound:
                out.append((port, proto, "", None))
    return out


def _clashes(a_ip: str, b_ip: str) -> bool:
    return not a_ip or not b_ip or a_ip == b_ip


def _host_free(proto: str, ip: str, port: int) -> bool:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as probe:
        if kind == socket.SOCK_STREAM:
            # A closed connection's TIME_WAIT is no owner; a listener is.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip or "0.0.0.0", port))
        except OSError:
            return False
    return True


def allocate(wanted: list[Request], taken: list[tuple[PortBinding, str]]) -> list[PortBinding]:
    """Host ports for ``wanted``; ``taken``: (binding, owner container id) of every sandbox.
    Conflict("... port 8080 is already allocated") when a fixed port is held."""
    held = list(taken)
    out: list[PortBinding] = []

    def owner(proto: str, ip: str, port: int) -> str | None:
        for b, cid in held:
            if b.proto == proto and b.host_port == port and _clashes(b.host_ip, ip):
                return cid
        return None

    low_eph, high_eph = ephemeral_range()
    for cport, proto, ip, rng in wanted:
        low, high = rng if rng is not None else (low_eph, high_eph)
        size = high - low + 1
        start = low if rng is not None else low + secrets.randbelow(size)
        chosen = None
        first_holder = None
        for step in range(size):
            port = low + (start - low + step) % size
            holder = owner(proto, ip, port)
            if holder is None and not _host_free(proto, ip, port):
                holder = "a process of this host"
            if holder is None:
                chosen = port
                break
            first_holder = first_holder or holder
        if chosen is None:
            where = f"{ip or '0.0.0.0'}:{low}" if low == high else f"{ip or '0.0.0.0'}:{low}-{high}"
            by = (
                f"container {first_holder[:12]}" if first_holder and len(first_holder) == 64 else first_holder
            )
            what = (
                f"port {low} is already allocated"
                if low == high
                else f"every port of {low}-{high} is allocated"
            )
            raise Conflict(
                f"Bind for {where} failed: {what} (by {by}): publish another host port, or stop what holds it"
            )
        binding = PortBinding(proto, cport, ip, chosen)
        out.append(binding)
        held.append((binding, ""))
    return out
