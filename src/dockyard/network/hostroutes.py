"""The IPv4 networks this host already reaches: what a new bridge subnet must not overlap."""

from __future__ import annotations

import ipaddress
import socket

from dockyard.network.netlink import Rtnl

_RT_TABLE_LOCAL = 255  # host routes for the host's own addresses and broadcasts: covered below


def taken_networks(ipr: Rtnl, ignore_index: int | None = None) -> list[ipaddress.IPv4Network]:
    """Destinations of routes in every table but `local`, and networks of interface addresses
    (a bridge without ports has its address but, being down, no route), leaving out anything on
    the link ``ignore_index`` (our own bridge, when its subnet is being checked again)."""
    taken: list[ipaddress.IPv4Network] = []
    for route in ipr.route("dump", family=socket.AF_INET):
        table = route.get_attr("RTA_TABLE") or route["table"]
        if table == _RT_TABLE_LOCAL:
            continue
        if ignore_index is not None and route.get_attr("RTA_OIF") == ignore_index:
            continue
        dst = route.get_attr("RTA_DST")
        if dst is None:
            continue  # a default route
        taken.append(ipaddress.IPv4Network(f"{dst}/{route['dst_len']}", strict=False))
    for addr in ipr.get_addr(family=socket.AF_INET):
        if ignore_index is not None and addr["index"] == ignore_index:
            continue
        taken.append(
            ipaddress.IPv4Network(f"{addr.get_attr('IFA_ADDRESS')}/{addr['prefixlen']}", strict=False)
        )
    return taken
