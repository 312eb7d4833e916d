"""A user-defined network from a create request (POST /networks/create), checked as dockerd's
bridge driver checks it: names unique, subnets inside the pool or given and free, the gateway
and IP range inside the subnet, the bridge name free."""

from __future__ import annotations

import ipaddress
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any

from dockyard.errors import Conflict, InvalidArgument, Unsupported
from dockyard.network import subnets
from dockyard.network.addresses import new_id
from dockyard.network.options import check_ifname
from dockyard.network.record import OPT_BRIDGE_NAME, OPT_ICC, OPT_MASQ, OPT_MTU, Network

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
PREDEFINED = ("bridge", "host", "none", "default")


def now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def _bool_opt(options: Mapping[str, str], key: str, default: bool) -> bool:
    value = options.get(key)
    if value is None or value == "":
        return default
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise InvalidArgument(f"invalid value {value!r} for option {key}: use true or false")


def new_network(
    body: Mapping[str, Any],
    existing: Iterable[Network],
    taken_routes: list[ipaddress.IPv4Network],
    *,
    default_mtu: int,
    masquerade: bool,
) -> Network:
    name = body.get("Name")
    if not isinstance(name, str) or not name:
        raise InvalidArgument("invalid network name: give the network a name")
    if not _NAME.match(name):
        raise InvalidArgument(f"invalid network name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    if name in PREDEFINED:
        raise Conflict(f"operation is not permitted on predefined {name} network")
    nets = list(existing)
    if any(n.name == name for n in nets):
        raise Conflict(f"network with name {name} already exists")
    driver = body.get("Driver") or "bridge"
    if driver != "bridge":
        raise Unsupported(f"network driver {driver!r} is not supported: dockyard makes bridge networks only")
    if body.get("Ingress"):
        raise Unsupported("ingress networks need swarm mode, which dockyard does not have")
    options = {str(k): str(v) for k, v in (body.get("Options") or {}).items()}
    labels = {str(k): str(v) for k, v in (body.get("Labels") or {}).items()}
    nid = new_id()
    bridge = options.get(OPT_BRIDGE_NAME) or f"br-{nid[:12]}"
    check_ifname(bridge, "bridge name")
    if any(n.bridge == bridge for n in nets):
        raise Conflict(f"bridge name {bridge} is used by another network: choose another name")
    mtu = default_mtu
    if options.get(OPT_MTU):
        try:
            mtu = int(options[OPT_MTU])
        except ValueError:
            raise InvalidArgument(
                f"invalid MTU {options[OPT_MTU]!r}: use a number from 68 to 65535"
            ) from None
        if not 68 <= mtu <= 65535:
            raise InvalidArgument(f"invalid MTU {mtu}: use a number from 68 to 65535")
    ipam = body.get("IPAM") or {}
    if (ipam.get("Driver") or "default") != "default":
        raise Unsupported(f"IPAM driver {ipam.get('Driver')!r} is not supported: use the default")
    configs = [c for c in ipam.get("Config") or [] if c]
    v4 = [c for c in configs if ":" not in str(c.get("Subnet", ""))]
    v6 = [c for c in configs if ":" in str(c.get("Subnet", ""))]
    subnet6, gateway6 = _ipv6(bool(body.get("EnableIPv6")), v6, nets)
    if len(v4) > 1:
        raise Unsupported("one IPv4 subnet per network: give a single --subnet")
    ours = [ipaddress.IPv4Network(n.subnet) for n in nets if n.subnet]
    config = v4[0] if v4 else {}
    if config.get("Subnet"):
        try:
            subnet = ipaddress.IPv4Network(str(config["Subnet"]), strict=False)
        except ValueError as exc:
            raise InvalidArgument(
                f"invalid subnet {config['Subnet']!r}: use CIDR form, e.g. 10.90.0.0/24 ({exc})"
            ) from None
        if subnet.prefixlen > 30:
            raise InvalidArgument(f"invalid subnet {subnet}: use a prefix of /30 or shorter")
        clash = subnets.overlap(subnet, ours)
        if clash is not None:
            raise Conflict(
                f"invalid pool request: Pool overlaps with other one on this address space ({clash})"
            )
        clash = subnets.overlap(subnet, taken_routes)
        if clash is not None:
            raise Conflict(
                f"subnet {subnet} overlaps {clash}, which this host already routes: choose another --subnet"
            )
    else:
        if config.get("Gateway") or config.get("IPRange"):
            raise InvalidArgument("a --gateway or --ip-range needs a --subnet")
        subnet = subnets.choose_subnet(taken_routes + ours)
    gateway = subnets.gateway_of(subnet)
    if config.get("Gateway"):
        try:
            gateway = ipaddress.IPv4Address(str(config["Gateway"]))
        except ValueError:
            raise InvalidArgument(f"invalid gateway {config['Gateway']!r}: use an IPv4 address") from None
        if gateway not in subnet or gateway in (subnet.network_address, subnet.broadcast_address):
            raise InvalidArgument(f"gateway {gateway} is not a host address of subnet {subnet}")
    ip_range = ""
    if config.get("IPRange"):
        try:
            rng = ipaddress.IPv4Network(str(config["IPRange"]), strict=False)
        except ValueError:
            raise InvalidArgument(f"invalid ip range {config['IPRange']!r}: use CIDR form") from None
        if not rng.subnet_of(subnet):
            raise InvalidArgument(f"ip range {rng} is not inside subnet {subnet}")
        ip_range = str(rng)
    return Network(
        id=nid,
        name=name,
        driver="bridge",
        created=now(),
        bridge=bridge,
        subnet=str(subnet),
        gateway=str(gateway),
        ip_range=ip_range,
        internal=bool(body.get("Internal")),
        attachable=bool(body.get("Attachable")),
        labels=labels,
        options=options,
        mtu=mtu,
        icc=_bool_opt(options, OPT_ICC, True),
        masquerade=_bool_opt(options, OPT_MASQ, masquerade),
        subnet6=subnet6,
        gateway6=gateway6,
    )


def _ipv6(enabled: bool, configs: list[Mapping[str, Any]], nets: list[Network]) -> tuple[str, str]:
    """(subnet, gateway) for IPv6: the given subnet, or a random ULA /64 (RFC 4193, as dockerd
    picks one from its fd00::/8 pool); ("", "") without --ipv6."""
    if configs and not enabled:
        raise InvalidArgument("an IPv6 --subnet needs --ipv6")
    if not enabled:
        return "", ""
    if len(configs) > 1:
        raise Unsupported("one IPv6 subnet per network: give a single IPv6 --subnet")
    config = configs[0] if configs else {}
    if config.get("Subnet"):
        try:
            subnet = ipaddress.IPv6Network(str(config["Subnet"]), strict=False)
        except ValueError as exc:
            raise InvalidArgument(f"invalid IPv6 subnet {config['Subnet']!r}: {exc}") from None
        if subnet.prefixlen > 124:
            raise InvalidArgument(f"invalid IPv6 subnet {subnet}: use a prefix of /124 or shorter")
    else:
        # fd + a random 40-bit global id + subnet id 0, then the interface id: a /64.
        prefix = (0xFD << 120) | (int.from_bytes(secrets.token_bytes(5), "big") << 80)
        subnet = ipaddress.IPv6Network((prefix, 64))
    for other in nets:
        if other.subnet6 and subnet.overlaps(ipaddress.IPv6Network(other.subnet6)):
            raise Conflict(
                f"invalid pool request: Pool overlaps with other one on this address space ({other.subnet6})"
            )
    gateway = subnet.network_address + 1
    if config.get("Gateway"):
        try:
            gateway = ipaddress.IPv6Address(str(config["Gateway"]))
        except ValueError:
            raise InvalidArgument(f"invalid IPv6 gateway {config['Gateway']!r}") from None
        if gateway not in subnet:
            raise InvalidArgument(f"IPv6 gateway {gateway} is not in subnet {subnet}")
    return str(subnet), str(gateway)
