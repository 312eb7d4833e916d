"""The Engine API's Network JSON (GET /networks, GET /networks/{id}), with the fields of the API
version the daemon advertises (1.45: no EnableIPv4, which came in 1.47)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from dockyard.network.record import (
    OPT_BRIDGE_NAME,
    OPT_DEFAULT,
    OPT_HOST_BINDING,
    OPT_ICC,
    OPT_MASQ,
    OPT_MTU,
    Network,
)
from dockyard.network.sandbox import Sandbox


def network_json(
    net: Network, sandboxes: Iterable[Sandbox], container_names: Mapping[str, str]
) -> dict[str, Any]:
    config: list[dict[str, Any]] = []
    if net.subnet:
        entry: dict[str, Any] = {"Subnet": net.subnet, "Gateway": net.gateway}
        if net.ip_range:
            entry["IPRange"] = net.ip_range
        config = [entry]
    if net.subnet6:
        config.append({"Subnet": net.subnet6, "Gateway": net.gateway6})
    if net.builtin and net.name == "bridge":
        options = {
            OPT_DEFAULT: "true",
            OPT_ICC: "true" if net.icc else "false",
            OPT_MASQ: "true" if net.masquerade else "false",
            OPT_HOST_BINDING: "0.0.0.0",
            OPT_BRIDGE_NAME: net.bridge,
            OPT_MTU: str(net.mtu),
        }
    else:
        options = dict(net.options)
    containers = {}
    for sb in sandboxes:
        ep = sb.endpoint(net.name)
        if ep is None:
            continue
        containers[sb.cid] = {
            "Name": container_names.get(sb.cid, sb.name).lstrip("/"),
            "EndpointID": ep.endpoint_id,
            "MacAddress": ep.mac,
            "IPv4Address": f"{ep.ip}/{ep.prefixlen}" if ep.ip else "",
            "IPv6Address": f"{ep.ip6}/{ep.prefixlen6}" if ep.ip6 else "",
        }
    return {
        "Name": net.name,
        "Id": net.id,
        "Created": net.created,
        "Scope": "local",
        "Driver": net.driver,
        "EnableIPv6": bool(net.subnet6),
        "IPAM": {"Driver": "default", "Options": None if net.builtin else {}, "Config": config},
        "Internal": net.internal,
        "Attachable": net.attachable,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": containers,
        "Options": options,
        "Labels": dict(net.labels),
    }
