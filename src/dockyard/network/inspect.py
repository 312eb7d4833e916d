"""The Engine API's Network JSON (GET /networks, GET /networks/{id}) for the built-in networks,
with the fields of the API version the daemon advertises (1.45: no EnableIPv4, which came in 1.47)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from dockyard.network.sandbox import Sandbox

#: The Driver each built-in network reports, as dockerd: "none" is served by the "null" driver.
DRIVERS = {"bridge": "bridge", "host": "host", "none": "null"}


def network_json(
    name: str,
    meta: Mapping[str, str],
    sandboxes: Iterable[Sandbox],
    container_names: Mapping[str, str],
    *,
    bridge: str = "",
    gateway: ipaddress.IPv4Interface | None = None,
    mtu: int = 1500,
    masquerade: bool = True,
) -> dict[str, Any]:
    config = []
    options: dict[str, str] = {}
    if name == "bridge":
        if gateway is not None:
            config = [{"Subnet": str(gateway.network), "Gateway": str(gateway.ip)}]
        options = {
            "com.docker.network.bridge.default_bridge": "true",
            "com.docker.network.bridge.enable_icc": "true",
            "com.docker.network.bridge.enable_ip_masquerade": "true" if masquerade else "false",
            "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
            "com.docker.network.bridge.name": bridge,
            "com.docker.network.driver.mtu": str(mtu),
        }
    containers = {
        sb.cid: {
            "Name": container_names.get(sb.cid, "").lstrip("/"),
            "EndpointID": sb.endpoint_id,
            "MacAddress": sb.mac,
            "IPv4Address": f"{sb.ip}/{sb.prefixlen}" if sb.ip else "",
            "IPv6Address": "",
        }
        for sb in sandboxes
        if sb.network == name
    }
    return {
        "Name": name,
        "Id": meta["Id"],
        "Created": meta["Created"],
        "Scope": "local",
        "Driver": DRIVERS[name],
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None, "Config": config},
        "Internal": False,
        "Attachable": False,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": containers,
        "Options": options,
        "Labels": {},
    }
