"""The default address pool and the choice of a subnet that collides with nothing on the host.

Docker's default pools, in Docker's order: 172.17.0.0/16 to 172.31.0.0/16, then 192.168.0.0/16
cut into /20s. A candidate is refused when it overlaps any route the host already has (another
bridge, a VPN, a LAN) or a nameserver the containers will be told to use (its traffic would be
caught by the bridge), as libnetwork's netutils.CheckRouteOverlaps and CheckNameserverOverlaps do.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from dockyard.errors import Conflict

IPv4Network = ipaddress.IPv4Network


def default_pool() -> list[IPv4Network]:
    pool = [IPv4Network(f"172.{n}.0.0/16") for n in range(17, 32)]
    pool += list(IPv4Network("192.168.0.0/16").subnets(new_prefix=20))
    return pool


def overlap(candidate: IPv4Network, taken: Iterable[IPv4Network]) -> IPv4Network | None:
    for net in taken:
        # The default route (0.0.0.0/0) overlaps everything and says nothing about collisions.
        if net.prefixlen > 0 and candidate.overlaps(net):
            return net
    return None


def choose_subnet(taken: Sequence[IPv4Network], pool: Sequence[IPv4Network] | None = None) -> IPv4Network:
    """The first subnet of ``pool`` that overlaps none of ``taken``."""
    candidates = default_pool() if pool is None else pool
    for candidate in candidates:
        if overlap(candidate, taken) is None:
            return candidate
    raise Conflict(
        "no free subnet for the bridge: every subnet of the default pools (172.17-31.0.0/16, "
        "192.168.0.0/16 in /20s) overlaps a route of this host; choose one with the daemon's "
        "bridge subnet option (e.g. 10.200.0.0/16)"
    )


def gateway_of(subnet: IPv4Network) -> ipaddress.IPv4Address:
    """The bridge's own address: the first host of the subnet, as Docker's 172.17.0.1."""
    return subnet.network_address + 1
