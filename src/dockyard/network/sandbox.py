"""A container's place on the networks: its sandbox (one network namespace) and the endpoints in
it (one per network joined: eth0, eth1, ...), as the engine and the API see them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: NetworkMode values that name the built-in networks, and the network each one joins; any other
#: mode names a user-defined network (the sandbox's mode is then "custom").
MODES = {"bridge": "bridge", "default": "bridge", "none": "none", "host": "host"}
CUSTOM = "custom"


@dataclass
class Endpoint:
    network: str  # the network's name
    network_id: str
    endpoint_id: str
    ifname: str = "eth0"
    ip: str = ""
    prefixlen: int = 0
    gateway: str = ""  # "" on an internal network: no default route through it
    mac: str = ""
    veth: str = ""  # the host end of the veth pair, on the network's bridge
    aliases: list[str] = field(default_factory=list)  # --network-alias / EndpointsConfig Aliases
    dns_names: list[str] = field(default_factory=list)  # what the embedded DNS answers for it
    requested_ip: str = ""  # IPAMConfig.IPv4Address
    builtin: bool = False  # on the default bridge (no DNS, top-level inspect fields)
    ip6: str = ""  # on a network with IPv6
    prefixlen6: int = 0
    gateway6: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Endpoint:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def settings(self) -> dict[str, Any]:
        """Docker's EndpointSettings: one entry of NetworkSettings.Networks (container inspect)."""
        return {
            "IPAMConfig": {"IPv4Address": self.requested_ip} if self.requested_ip else None,
            "Links": None,
            "Aliases": list(self.aliases) or None,
            "MacAddress": self.mac,
            "DriverOpts": None,
            "NetworkID": self.network_id,
            "EndpointID": self.endpoint_id,
            "Gateway": self.gateway,
            "IPAddress": self.ip,
            "IPPrefixLen": self.prefixlen,
            "IPv6Gateway": self.gateway6,
            "GlobalIPv6Address": self.ip6,
            "GlobalIPv6PrefixLen": self.prefixlen6,
            # dockerd sends null on the default bridge, where no DNS serves the container.
            "DNSNames": None if self.builtin or self.network in ("host", "none") else list(self.dns_names),
        }


@dataclass
class PortBinding:
    """One published port: host address and port -> the container's port."""

    proto: str  # tcp | udp
    container_port: int
    host_ip: str  # "" for every address of the host
    host_port: int

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.proto}"


@dataclass
class Sandbox:
    cid: str
    mode: str  # "bridge", "none", "host" or "custom" ("default" is stored as "bridge")
    netns_path: str | None  # None for "host": the container stays in the host's namespace
    sandbox_id: str = ""
    hostname: str = ""
    name: str = ""  # the container's name, without "/"
    endpoints: list[Endpoint] = field(default_factory=list)
    ports: list[PortBinding] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)  # --dns: the embedded DNS's upstream for it

    # The first endpoint (eth0), as the API's deprecated top-level fields show it.
    @property
    def primary(self) -> Endpoint | None:
        return self.endpoints[0] if self.endpoints else None

    @property
    def network(self) -> str:
        return self.endpoints[0].network if self.endpoints else MODES.get(self.mode, self.mode)

    @property
    def ip(self) -> str:
        return self.endpoints[0].ip if self.endpoints else ""

    @property
    def prefixlen(self) -> int:
        return self.endpoints[0].prefixlen if self.endpoints else 0

    @property
    def gateway(self) -> str:
        return self.endpoints[0].gateway if self.endpoints else ""

    @property
    def mac(self) -> str:
        return self.endpoints[0].mac if self.endpoints else ""

    @property
    def veth(self) -> str:
        return self.endpoints[0].veth if self.endpoints else ""

    @property
    def network_id(self) -> str:
        return self.endpoints[0].network_id if self.endpoints else ""

    @property
    def endpoint_id(self) -> str:
        return self.endpoints[0].endpoint_id if self.endpoints else ""

    def endpoint(self, network: str) -> Endpoint | None:
        return next((ep for ep in self.endpoints if ep.network == network), None)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sandbox:
        names = {f.name for f in fields(cls)}
        kept = {k: v for k, v in data.items() if k in names}
        kept["endpoints"] = [Endpoint.from_json(e) for e in data.get("endpoints") or []]
        kept["ports"] = [PortBinding(**p) for p in data.get("ports") or []]
        if "endpoints" not in data and data.get("network_id"):
            # A record of a daemon from before user networks: the one endpoint was flat.
            mode = str(data.get("mode", "bridge"))
            kept["endpoints"] = [
                Endpoint(
                    network=MODES.get(mode, mode),
                    network_id=data.get("network_id", ""),
                    endpoint_id=data.get("endpoint_id", ""),
                    ip=data.get("ip", ""),
                    prefixlen=data.get("prefixlen", 0),
                    gateway=data.get("gateway", ""),
                    mac=data.get("mac", ""),
                    veth=data.get("veth", ""),
                    builtin=True,
                )
            ]
        return cls(**kept)

    def endpoint_settings(self) -> dict[str, Any]:
        """The primary endpoint's EndpointSettings (empty ones for a sandbox without any)."""
        ep = self.primary or Endpoint(network=self.network, network_id="", endpoint_id="", ifname="")
        return ep.settings()

    def ports_json(self, exposed: dict[str, Any] | None = None) -> dict[str, Any]:
        """NetworkSettings.Ports: every exposed or published port, with its bindings or null."""
        out: dict[str, Any] = {key: None for key in exposed or {}}
        for b in self.ports:
            out.setdefault(b.key, None)
            out[b.key] = [
                *(out[b.key] or []),
                {"HostIp": b.host_ip or "0.0.0.0", "HostPort": str(b.host_port)},
            ]
        return out

    def network_settings(self, exposed: dict[str, Any] | None = None) -> dict[str, Any]:
        """Docker's NetworkSettings of container inspect.

        The top-level address fields are deprecated in the API but still filled by dockerd for
        the default bridge, and old clients read them.
        """
        top = self.endpoint("bridge") if self.mode == "bridge" else None
        return {
            "Bridge": "",
            "SandboxID": self.sandbox_id,
            "SandboxKey": self.netns_path or "",
            "Ports": self.ports_json(exposed),
            "HairpinMode": False,
            "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0,
            "SecondaryIPAddresses": None,
            "SecondaryIPv6Addresses": None,
            "EndpointID": top.endpoint_id if top else "",
            "Gateway": top.gateway if top else "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "IPAddress": top.ip if top else "",
            "IPPrefixLen": top.prefixlen if top else 0,
            "IPv6Gateway": "",
            "MacAddress": top.mac if top else "",
            "Networks": {ep.network: ep.settings() for ep in self.endpoints}
            or {self.network: self.endpoint_settings()},
        }
