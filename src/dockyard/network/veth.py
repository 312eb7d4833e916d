"""A container's link: a veth pair whose host end joins the bridge and whose other end is the
container's eth0, made directly inside the container's namespace (the peer's IFLA_NET_NS_FD),
so it never has to be moved and renamed as Docker does. Runs on the netlink worker, through
rtnl.py's batched requests (this is on every `docker run`'s path)."""

from __future__ import annotations

import errno
import ipaddress
import socket

from dockyard.network import rtnl

# The kernel gives a namespace's loopback device ifindex 1 (LOOPBACK_IFINDEX) in every namespace.
LOOPBACK_INDEX = 1


class NameTaken(Exception):
    """The host-side name is already in use (a random name collided): pick another."""


def add_pair(
    host_sock: socket.socket, host_name: str, bridge_index: int, netns_fd: int, mtu: int, peer: str = "eth0"
) -> None:
    """One RTM_NEWLINK: host end named, enslaved and up; the peer (eth0, down) in the namespace."""
    batch = rtnl.Batch(host_sock)
    batch.add_veth(host_name, bridge_index, mtu, netns_fd, peer)
    try:
        batch.commit()
    except rtnl.RequestError as exc:
        if exc.code == errno.EEXIST:
            raise NameTaken(host_name) from exc
        raise exc.failure() from exc


def loopback_up(sock: socket.socket) -> None:
    """lo up, through a socket opened in the namespace (a new namespace's lo is down)."""
    batch = rtnl.Batch(sock)
    batch.add_link_up(LOOPBACK_INDEX, "lo")
    _commit(batch)


def eth0_index(sock: socket.socket, name: str = "eth0") -> int:
    try:
        return rtnl.link_index(sock, name)
    except rtnl.RequestError as exc:
        raise exc.failure() from exc


def activate(
    sock: socket.socket,
    eth0: int,
    mac: str,
    address: ipaddress.IPv4Interface,
    gateway: ipaddress.IPv4Address | None,
    address6: ipaddress.IPv6Interface | None = None,
    gateway6: ipaddress.IPv6Address | None = None,
) -> None:
    """eth0 gets its MAC and comes up, with its address and (``gateway`` given) a default route,
    and the same for IPv6 when given: one send() through a socket in the container's namespace."""
    batch = rtnl.Batch(sock)
    batch.add_link_up(eth0, "eth0", mac=mac)
    batch.add_address(eth0, address)
    if gateway is not None:
        batch.add_default_route(eth0, gateway)
    if address6 is not None:
        batch.add_address(eth0, address6)
        if gateway6 is not None:
            batch.add_default_route(eth0, gateway6)
    _commit(batch)


def _commit(batch: rtnl.Batch) -> None:
    try:
        batch.commit()
    except rtnl.RequestError as exc:
        raise exc.failure() from exc
