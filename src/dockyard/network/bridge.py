"""The bridge every "bridge"-mode container's veth joins; functions of an IPRoute, run on the
netlink worker (see netlink.py)."""

from __future__ import annotations

import errno
import ipaddress
import socket

from pyroute2.netlink.rtnl.ifaddrmsg import IFA_F_NODAD

from dockyard.errors import Conflict
from dockyard.network.addresses import random_mac
from dockyard.network.netlink import NetlinkError, Rtnl, failure, is_errno


def lookup(ipr: Rtnl, name: str) -> int | None:
    index, _kind = _get(ipr, name)
    return index


def _get(ipr: Rtnl, name: str) -> tuple[int | None, str]:
    """(ifindex, kind) of the link ``name``; (None, "") when there is none."""
    try:
        link = ipr.link("get", ifname=name)[0]
    except NetlinkError as exc:
        if is_errno(exc, errno.ENODEV):
            return None, ""
        raise failure(f"cannot look up link {name}", exc) from exc
    info = link.get_attr("IFLA_LINKINFO")
    kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
    return int(link["index"]), str(kind or "")


def addresses(ipr: Rtnl, index: int) -> list[ipaddress.IPv4Interface]:
    found = []
    for msg in ipr.get_addr(family=socket.AF_INET, index=index):
        found.append(ipaddress.IPv4Interface(f"{msg.get_attr('IFA_ADDRESS')}/{msg['prefixlen']}"))
    return found


def ensure(ipr: Rtnl, name: str, mtu: int, gateway: ipaddress.IPv4Interface) -> int:
    """Create the bridge if missing, give it ``gateway`` (e.g. 172.17.0.1/16), bring it up;
    idempotent. Returns its ifindex."""
    index, kind = _get(ipr, name)
    if index is not None and kind != "bridge":
        raise Conflict(
            f"cannot use {name} as the bridge: a link of that name exists and is a {kind or 'device'}, "
            "not a bridge; choose another bridge name"
        )
    if index is None:
        try:
            # A fixed MAC, or the bridge takes its lowest port's and changes it as ports go.
            ipr.link("add", ifname=name, kind="bridge", mtu=mtu, address=random_mac())
        except NetlinkError as exc:
            if not is_errno(exc, errno.EEXIST):  # another daemon made it in between
                raise failure(f"cannot create bridge {name}", exc) from exc
        index = lookup(ipr, name)
        if index is None:
            raise failure(f"bridge {name} vanished right after its creation", OSError(errno.ENODEV, ""))
    present = addresses(ipr, index)
    for stale in present:
        if stale != gateway:
            # An address from an earlier subnet setting: the bridge is ours, and two subnets on
            # it would route both to containers that have addresses in only one.
            try:
                ipr.addr("del", index=index, address=str(stale.ip), prefixlen=stale.network.prefixlen)
            except NetlinkError as exc:
                if not is_errno(exc, errno.EADDRNOTAVAIL):
                    raise failure(f"cannot remove address {stale} from bridge {name}", exc) from exc
    if gateway not in present:
        try:
            ipr.addr("add", index=index, address=str(gateway.ip), prefixlen=gateway.network.prefixlen)
        except NetlinkError as exc:
            if not is_errno(exc, errno.EEXIST):
                raise failure(f"cannot add address {gateway} to bridge {name}", exc) from exc
    try:
        ipr.link("set", index=index, state="up")
    except NetlinkError as exc:
        raise failure(f"cannot bring bridge {name} up", exc) from exc
    return index


def ports(ipr: Rtnl, index: int) -> list[str]:
    """Names of the links enslaved to the bridge ``index``."""
    return [
        str(link.get_attr("IFLA_IFNAME")) for link in ipr.get_links() if link.get_attr("IFLA_MASTER") == index
    ]


def delete_link(ipr: Rtnl, name: str) -> None:
    """Delete a link (a bridge, or either end of a veth pair, which takes both); idempotent."""
    index = lookup(ipr, name)
    if index is None:
        return  # already gone: deleted before, or freed with its namespace
    try:
        ipr.link("del", index=index)
    except NetlinkError as exc:
        if not is_errno(exc, errno.ENODEV):
            raise failure(f"cannot delete link {name}", exc) from exc


def add_address6(ipr: Rtnl, index: int, address: ipaddress.IPv6Interface) -> None:
    """The bridge's IPv6 address (without duplicate address detection); idempotent."""
    try:
        ipr.addr(
            "add",
            index=index,
            family=socket.AF_INET6,
            address=str(address.ip),
            prefixlen=address.network.prefixlen,
            IFA_FLAGS=IFA_F_NODAD,
        )
    except NetlinkError as exc:
        if not is_errno(exc, errno.EEXIST):
            raise failure(f"cannot add address {address} to bridge", exc) from exc
