"""Names and link-layer addresses derived for endpoints, as Docker derives them."""

from __future__ import annotations

import ipaddress
import secrets


def mac_for_ip(ip: ipaddress.IPv4Address | str) -> str:
    """Docker's container MAC: 02:42 (locally administered, unicast) then the four IPv4 bytes.

    Deriving the MAC from the address keeps neighbours' ARP caches right when an address is
    handed to a new container: the same IP always answers with the same MAC.
    """
    raw = ipaddress.IPv4Address(ip).packed
    return "02:42:" + ":".join(f"{b:02x}" for b in raw)


def random_mac() -> str:
    """A stable MAC for a bridge: without one, a bridge takes the lowest MAC of its ports and
    changes it as containers come and go, which flushes neighbours' ARP entries for the gateway."""
    return "02:42:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(4))


def veth_name() -> str:
    """The host end of a container's veth pair: veth + 7 hex digits, as Docker names them."""
    return "veth" + secrets.token_hex(4)[:7]


def new_id() -> str:
    """A 64-hex identifier (network and endpoint ids), as Docker's stringid.GenerateRandomID."""
    return secrets.token_hex(32)
