"""The engine's side of networking: which networks a container joins (NetworkMode and
NetworkingConfig.EndpointsConfig, then `network connect`), the sandbox the network manager makes
for it at start, and the NetworkSettings of inspect and the list.

A container's desired endpoints live in ``Container.endpoints_config`` (network name ->
EndpointSettings config: Aliases, IPAMConfig, MacAddress), as dockerd keeps them in its
container's NetworkSettings.Networks; its live sandbox (Sandbox JSON) in ``Container.network``
while it runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dockyard.engine.container import Container
from dockyard.errors import InvalidArgument
from dockyard.network.sandbox import MODES, Sandbox


def mode_network(c: Container) -> str | None:
    """The network NetworkMode names: bridge, host, none, a user network; None for container:."""
    mode = c.host_config.get("NetworkMode") or "default"
    if mode.startswith("container:"):
        return None
    return MODES.get(mode, mode)


def endpoints_from_request(body: Mapping[str, Any], mode: str, network: Any) -> dict[str, Any]:
    """EndpointsConfig of a create request, keyed by network name (ids and prefixes resolved);
    the NetworkMode's own network is always there."""
    networking = body.get("NetworkingConfig") or {}
    if not isinstance(networking, dict):
        raise InvalidArgument("invalid NetworkingConfig: use a JSON object")
    raw = networking.get("EndpointsConfig") or {}
    if not isinstance(raw, dict):
        raise InvalidArgument("invalid NetworkingConfig.EndpointsConfig: use a JSON object")
    out: dict[str, Any] = {}
    if not mode.startswith("container:"):
        name, _ = network.resolve(MODES.get(mode, mode))
        out[name] = {}
    for ref, config in raw.items():
        if mode.startswith("container:"):
            raise InvalidArgument("conflicting options: networks and the network mode container:<id>")
        name, _ = network.resolve(MODES.get(ref, ref))
        out[name] = endpoint_config(config or {})
    return out


def endpoint_config(config: Mapping[str, Any]) -> dict[str, Any]:
    keep: dict[str, Any] = {}
    if config.get("Aliases"):
        keep["Aliases"] = [str(a) for a in config["Aliases"]]
    ipam = config.get("IPAMConfig") or {}
    wanted = {k: str(ipam[k]) for k in ("IPv4Address", "IPv6Address") if ipam.get(k)}
    if wanted:
        keep["IPAMConfig"] = wanted
    if config.get("MacAddress"):
        keep["MacAddress"] = str(config["MacAddress"])
    return keep


def create_sandbox(c: Container, network: Any) -> Sandbox:
    """The container's sandbox, with every network it should join and its published ports."""
    hc, config = c.host_config, c.config
    mode = hc.get("NetworkMode") or "default"
    endpoints = dict(c.endpoints_config)
    primary = mode_network(c) or ""
    mac = config.get("MacAddress") or (endpoints.get(primary) or {}).get("MacAddress") or None
    sandbox: Sandbox = network.create_sandbox(
        c.id,
        mode,
        config.get("Hostname") or "",
        mac_address=mac,
        name=c.bare_name,
        endpoints=endpoints,
        port_bindings=hc.get("PortBindings") or {},
        exposed=sorted(config.get("ExposedPorts") or {}),
        publish_all=bool(hc.get("PublishAllPorts")),
        dns=hc.get("Dns") or [],
    )
    return sandbox


def _live(c: Container) -> Sandbox | None:
    if not c.state.running or not c.network or "shared_with" in c.network:
        return None
    return Sandbox.from_json(c.network)


def _empty_endpoint(network_id: str, config: Mapping[str, Any]) -> dict[str, Any]:
    ipam = config.get("IPAMConfig")
    return {
        "IPAMConfig": dict(ipam) if ipam else None,
        "Links": None,
        "Aliases": list(config.get("Aliases") or []) or None,
        "MacAddress": config.get("MacAddress") or "",
        "DriverOpts": None,
        "NetworkID": network_id,
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": None,
    }


def networks(c: Container, network_ids: Mapping[str, str]) -> dict[str, Any]:
    """NetworkSettings.Networks: the live endpoints while the container runs, else the
    configured networks with no address."""
    sb = _live(c)
    if sb is not None and sb.endpoints:
        return {ep.network: ep.settings() for ep in sb.endpoints}
    if mode_network(c) is None:
        return {}
    wanted = c.endpoints_config or {mode_network(c) or "bridge": {}}
    return {name: _empty_endpoint("", cfg or {}) for name, cfg in wanted.items()}


def network_settings(c: Container, network_ids: Mapping[str, str]) -> dict[str, Any]:
    sb = _live(c)
    exposed = c.config.get("ExposedPorts") or {}
    if sb is not None:
        out = sb.network_settings(exposed)
        out["Networks"] = networks(c, network_ids)
        return out
    blank = Sandbox(cid=c.id, mode="", netns_path=None).network_settings()
    blank["Ports"] = {}
    blank["Networks"] = networks(c, network_ids)
    return blank


def summary_ports(c: Container) -> list[dict[str, Any]]:
    """ContainerSummary.Ports: published bindings, then exposed ports without one."""
    sb = _live(c)
    out: list[dict[str, Any]] = []
    published = set()
    if sb is not None:
        for b in sb.ports:
            ip = b.host_ip or "0.0.0.0"
            out.append(
                {"IP": ip, "PrivatePort": b.container_port, "PublicPort": b.host_port, "Type": b.proto}
            )
            published.add(b.key)
    for key in sorted(c.config.get("ExposedPorts") or {}):
        if key not in published:
            port, _, proto = key.partition("/")
            if port.isdigit():
                out.append({"PrivatePort": int(port), "Type": proto or "tcp"})
    return out
