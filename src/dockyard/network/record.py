"""A network as the daemon keeps it: the built-in ones (bridge, host, none) and user-defined
bridge networks, with what their bridge, IPAM and firewall need."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: The Driver each built-in network reports, as dockerd: "none" is served by the "null" driver.
BUILTIN_DRIVERS = {"bridge": "bridge", "host": "host", "none": "null"}

# Docker's bridge driver options (com.docker.network.*) that we apply.
OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
OPT_MTU = "com.docker.network.driver.mtu"
OPT_ICC = "com.docker.network.bridge.enable_icc"
OPT_MASQ = "com.docker.network.bridge.enable_ip_masquerade"
OPT_HOST_BINDING = "com.docker.network.bridge.host_binding_ipv4"
OPT_DEFAULT = "com.docker.network.bridge.default_bridge"


@dataclass
class Network:
    id: str
    name: str
    driver: str  # "bridge", "host", "null"
    created: str
    bridge: str = ""  # the link's name (bridge driver only)
    subnet: str = ""  # "172.18.0.0/16"
    gateway: str = ""  # "172.18.0.1": the bridge's address
    ip_range: str = ""  # addresses handed out come from here ("" = the whole subnet)
    internal: bool = False
    attachable: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    mtu: int = 1500
    icc: bool = True
    masquerade: bool = True
    last_ip: str = ""  # where the sequential allocator resumes
    builtin: bool = False
    # IPv6 (--ipv6): a ULA or given subnet, the bridge's address in it. The host does not
    # forward IPv6 between interfaces (net.ipv6.conf.all.forwarding stays as it is), so IPv6
    # traffic stays on the network's bridge and with the host.
    subnet6: str = ""
    gateway6: str = ""
    last_ip6: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Network:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def is_bridge(self) -> bool:
        return self.driver == "bridge"

    @property
    def has_dns(self) -> bool:
        """The embedded DNS serves user-defined networks only, as dockerd's."""
        return self.is_bridge and not self.builtin

    def interface(self) -> ipaddress.IPv4Interface:
        net = ipaddress.IPv4Network(self.subnet)
        return ipaddress.IPv4Interface(f"{self.gateway}/{net.prefixlen}")

    def pool(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.ip_range or self.subnet)

    def interface6(self) -> ipaddress.IPv6Interface | None:
        if not self.subnet6:
            return None
        net = ipaddress.IPv6Network(self.subnet6)
        return ipaddress.IPv6Interface(f"{self.gateway6}/{net.prefixlen}")
