"""A container's place on the network (its endpoint), as the engine and the API see it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

#: NetworkMode values that name the built-in networks, and the network each one joins.
MODES = {"bridge": "bridge", "default": "bridge", "none": "none", "host": "host"}


@dataclass
class Sandbox:
    cid: str
    mode: str  # "bridge", "none" or "host" ("default" is stored as "bridge")
    netns_path: str | None  # None for "host": the container stays in the host's namespace
    network_id: str = ""
    endpoint_id: str = ""
    sandbox_id: str = ""
    ip: str = ""
    prefixlen: int = 0
    gateway: str = ""
    mac: str = ""
    veth: str = ""  # the host end of the veth pair, on the bridge
    hostname: str = ""

    @property
    def network(self) -> str:
        return MODES[self.mode]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sandbox:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def endpoint_settings(self) -> dict[str, Any]:
        """Docker's EndpointSettings: one entry of NetworkSettings.Networks in container inspect."""
        return {
            "IPAMConfig": None,
            "Links": None,
            "Aliases": None,
            "MacAddress": self.mac,
            "DriverOpts": None,
            "NetworkID": self.network_id,
            "EndpointID": self.endpoint_id,
            "Gateway": self.gateway,
            "IPAddress": self.ip,
            "IPPrefixLen": self.prefixlen,
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "DNSNames": None,
        }

    def network_settings(self) -> dict[str, Any]:
        """Docker's NetworkSettings of container inspect (Ports is the engine's to fill).

        The top-level address fields are deprecated in the API but still filled by dockerd for
        the default bridge, and old clients read them.
        """
        on_bridge = self.network == "bridge"
        return {
            "Bridge": "",
            "SandboxID": self.sandbox_id,
            "SandboxKey": self.netns_path or "",
            "Ports": {},
            "HairpinMode": False,
            "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0,
            "SecondaryIPAddresses": None,
            "SecondaryIPv6Addresses": None,
            "EndpointID": self.endpoint_id if on_bridge else "",
            "Gateway": self.gateway,
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "IPAddress": self.ip,
            "IPPrefixLen": self.prefixlen,
            "IPv6Gateway": "",
            "MacAddress": self.mac,
            "Networks": {self.network: self.endpoint_settings()},
        }
