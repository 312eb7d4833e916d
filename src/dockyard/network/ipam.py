"""Address allocation in one subnet: sequential, so a released address is not handed out again
until the rest of the subnet has been used (libnetwork's bitseq allocator does the same), which
keeps a stale ARP entry or a late packet for a removed container from reaching its successor."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection

from dockyard.errors import Conflict

IPv4Address = ipaddress.IPv4Address
IPv4Network = ipaddress.IPv4Network


def allocate(
    subnet: IPv4Network,
    gateway: IPv4Address,
    used: Collection[IPv4Address],
    last: IPv4Address | None,
) -> IPv4Address:
    """The first free host address after ``last`` (wrapping around), never the gateway."""
    first = int(subnet.network_address) + 1
    end = int(subnet.broadcast_address)  # exclusive: the broadcast address is never a host's
    size = end - first
    start = first
    if last is not None and last in subnet and first <= int(last) < end:
        start = int(last) + 1
    for step in range(size):
        candidate = first + (start - first + step) % size
        address = IPv4Address(candidate)
        if address != gateway and address not in used:
            return address
    raise Conflict(
        f"no free address in subnet {subnet}: {len(used)} containers hold one each; remove "
        "stopped containers or give the bridge a larger subnet"
    )
