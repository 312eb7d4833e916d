"""The daemon's settings for its default bridge network, checked once at start."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from dockyard.errors import InvalidArgument

# IFNAMSIZ is 16 with the terminating NUL: the kernel refuses longer interface names (ERANGE).
MAX_IFNAME = 15
FIREWALL_BACKENDS = ("auto", "nftables", "iptables")


@dataclass
class NetworkOptions:
    bridge: str = "dockyard0"
    # "172.30.0.0/16", or the bridge's own address as dockerd's --bip ("172.30.0.1/16");
    # None: the first free subnet of the pool (see subnets.py).
    subnet: str | None = None
    masquerade: bool = True  # outbound NAT; tests: False
    isolate: bool = False  # drop forwarding from our bridge to other interfaces; tests: True
    mtu: int = 1500
    # The host's resolver configuration, copied (loopback nameservers removed) into containers.
    resolv_conf: str = "/etc/resolv.conf"
    # The host's /etc/hosts, the base of a "host"-network container's.
    hosts_file: str = "/etc/hosts"
    # Inter-container traffic on the default bridge (dockerd's --icc); False drops it.
    icc: bool = True
    # Where the embedded DNS sends names it does not know: None = the host's resolvers (as
    # dockerd), [] = nowhere (NXDOMAIN), else "ip" or "ip:port" entries. Tests use [] or loopback.
    dns_upstream: list[str] | None = None
    # Where port and isolation rules go (rulebackends.py): auto, nftables or iptables.
    firewall_backend: str = "auto"

    def validate(self) -> None:
        check_ifname(self.bridge, "bridge name")
        if self.subnet is not None:
            parse_subnet(self.subnet)
        if not 68 <= self.mtu <= 65535:
            # 68 is IPv4's minimum MTU (RFC 791); the kernel refuses less on an IPv4 device.
            raise InvalidArgument(f"invalid MTU {self.mtu}: use a number from 68 to 65535")
        if self.firewall_backend not in FIREWALL_BACKENDS:
            raise InvalidArgument(
                f"invalid firewall backend {self.firewall_backend!r}: "
                f"use one of {', '.join(FIREWALL_BACKENDS)}"
            )


def check_ifname(name: str, what: str) -> None:
    if not name or len(name) > MAX_IFNAME:
        raise InvalidArgument(f"invalid {what} {name!r}: use 1 to {MAX_IFNAME} characters")
    if name in (".", "..") or any(c in name for c in "/: \t\n") or not name.isprintable():
        # dev_valid_name(): no '/', ':' or whitespace, and not "." or "..".
        raise InvalidArgument(f"invalid {what} {name!r}: use letters, digits, '-', '_' or '.'")


def parse_subnet(text: str) -> ipaddress.IPv4Interface:
    """The bridge's address from a subnet ("172.30.0.0/16": the gateway is its first host) or,
    as dockerd's --bip, from the gateway's own address in CIDR form ("172.30.0.1/16")."""
    try:
        iface = ipaddress.IPv4Interface(text)
    except ValueError as exc:
        raise InvalidArgument(
            f"invalid subnet {text!r}: use an IPv4 network in CIDR form, e.g. 172.30.0.0/16 ({exc})"
        ) from None
    net = iface.network
    if "/" not in text or net.prefixlen > 30:
        raise InvalidArgument(
            f"invalid subnet {text!r}: a bridge needs room for a gateway and containers; "
            "use a prefix of /30 or shorter, e.g. 172.30.0.0/16"
        )
    if iface.ip == net.network_address:
        return ipaddress.IPv4Interface(f"{net.network_address + 1}/{net.prefixlen}")
    if iface.ip == net.broadcast_address:
        raise InvalidArgument(
            f"invalid bridge address {text!r}: that is the subnet's broadcast address; "
            f"use the subnet ({net}) or one of its hosts"
        )
    return iface
