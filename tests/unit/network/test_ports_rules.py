"""Published ports (requests, allocation, conflicts), the nft ruleset, and user network checks."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from dockyard.errors import Conflict, InvalidArgument, Unsupported
from dockyard.network import iptables_rules, nftables, portmap, portrules, rulebackends, usernet
from dockyard.network.options import NetworkOptions
from dockyard.network.record import Network
from dockyard.network.sandbox import PortBinding


def test_requests_from_bindings_and_publish_all() -> None:
    wanted = portmap.requests(
        {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}], "53/udp": [{"HostPort": "5300-5310"}]},
        ["80/tcp", "443/tcp"],
        publish_all=True,
    )
    assert wanted == [
        (53, "udp", "", (5300, 5310)),
        (80, "tcp", "127.0.0.1", (8080, 8080)),
        (443, "tcp", "", None),
    ]
    for bad, message in (
        ({"80/sctp": None}, "invalid protocol"),
        ({"x/tcp": None}, "invalid container port"),
        ({"80/tcp": [{"HostPort": "99999"}]}, "invalid host port"),
        ({"80/tcp": [{"HostIp": "nope"}]}, "invalid host IP"),
    ):
        with pytest.raises(InvalidArgument, match=message):
            portmap.requests(bad)


def test_conflicts_name_the_port_and_ranges_take_the_next_free() -> None:
    held = [(PortBinding("tcp", 80, "", 18081), "c" * 64)]
    with pytest.raises(Conflict, match="port 18081 is already allocated"):
        portmap.allocate([(80, "tcp", "127.0.0.1", (18081, 18081))], held)
    # Another protocol, or the next port of a range, is free.
    assert portmap.allocate([(80, "udp", "", (18081, 18081))], held)[0].host_port == 18081
    assert portmap.allocate([(80, "tcp", "", (18081, 18082))], held)[0].host_port == 18082
    # A port some host process listens on is refused too.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(Conflict, match="a process of this host"):
            portmap.allocate([(80, "tcp", "127.0.0.1", (port, port))], [])
    low, high = portmap.ephemeral_range()
    picked = portmap.allocate([(80, "tcp", "", None), (81, "tcp", "", None)], [])
    assert all(low <= b.host_port <= high for b in picked) and picked[0].host_port != picked[1].host_port


def test_ruleset_commands() -> None:
    rules = nftables.Ruleset(
        "dockyard_t",
        bridges=[
            nftables.BridgeSpec("br0", user=False, icc=False),
            nftables.BridgeSpec("br-a", internal=True),
        ],
        ports=[
            nftables.PortRule("tcp", "127.0.0.1", 8080, "10.0.0.2", 80),
            nftables.PortRule("udp", "", 53, "10.0.0.2", 53),
        ],
    )
    cmds = rules.commands()
    assert [next(iter(c)) for c in cmds[:3]] == ["add", "delete", "add"]  # one transaction replaces the table
    chains = {c["add"]["chain"]["name"] for c in cmds if "chain" in c.get("add", {})}
    assert chains == {"ports", "prerouting", "output", "postrouting", "forward"}
    found = [c["add"]["rule"] for c in cmds if "rule" in c.get("add", {})]
    ports = [r["expr"] for r in found if r["chain"] == "ports"]
    assert ports[0][-1] == {"dnat": {"addr": "10.0.0.2", "port": 80}} and len(ports[0]) == 3
    assert len(ports[1]) == 2  # every address: no daddr match
    forward = [r["expr"] for r in found if r["chain"] == "forward"]
    # br0 and br-a kept apart both ways, br-a internal (2 rules), br0 without icc: 5 drops.
    assert len(forward) == 5 and all(e[-1] == {"drop": None} for e in forward)
    assert nftables.table_name("dy-t.1") == "dockyard_dy_t_1"


def net(name: str, subnet: str) -> Network:
    return Network(
        "i" * 64, name, "bridge", "now", bridge=f"br-{name}", subnet=subnet, gateway=subnet[:-4] + "1"
    )


def test_user_network_checks() -> None:
    taken = [ipaddress.IPv4Network("172.17.0.0/16")]
    made = usernet.new_network({"Name": "a"}, [], taken, default_mtu=1500, masquerade=True)
    assert (
        made.subnet == "172.18.0.0/16"
        and made.gateway == "172.18.0.1"
        and made.bridge == f"br-{made.id[:12]}"
    )
    ipam = {"Config": [{"Subnet": "10.5.0.0/24", "Gateway": "10.5.0.9", "IPRange": "10.5.0.128/25"}]}
    custom = usernet.new_network(
        {"Name": "b", "Internal": True, "IPAM": ipam,
         "Options": {"com.docker.network.bridge.name": "mybr", "com.docker.network.driver.mtu": "1400",
                     "com.docker.network.bridge.enable_icc": "false"}},
        [made], taken, default_mtu=1500, masquerade=False,
    )  # fmt: skip
    assert (custom.gateway, custom.ip_range, custom.bridge, custom.mtu) == (
        "10.5.0.9",
        "10.5.0.128/25",
        "mybr",
        1400,
    )
    assert custom.internal and not custom.icc and not custom.masquerade
    existing = [net("used", "10.6.0.0/16")]
    for body, error, message in (
        ({"Name": "used"}, Conflict, "already exists"),
        ({"Name": "bridge"}, Conflict, "predefined"),
        ({"Name": "bad name"}, InvalidArgument, "invalid network name"),
        ({"Name": "x", "Driver": "overlay"}, Unsupported, "overlay"),
        ({"Name": "x", "IPAM": {"Config": [{"Subnet": "10.6.1.0/24"}]}}, Conflict, "overlaps"),
        ({"Name": "x", "IPAM": {"Config": [{"Subnet": "172.17.5.0/24"}]}}, Conflict, "already routes"),
        (
            {"Name": "x", "IPAM": {"Config": [{"Subnet": "10.7.0.0/24", "Gateway": "10.8.0.1"}]}},
            InvalidArgument,
            "not a host",
        ),
        ({"Name": "x", "IPAM": {"Config": [{"Gateway": "10.8.0.1"}]}}, InvalidArgument, "needs a --subnet"),
        ({"Name": "x", "Options": {"com.docker.network.driver.mtu": "9"}}, InvalidArgument, "invalid MTU"),
    ):
        with pytest.raises(error, match=message):
            usernet.new_network(body, existing, taken, default_mtu=1500, masquerade=True)


def test_iptables_rules_match_the_nft_ruleset() -> None:
    rules = portrules.Rules(
        bridges=[
            portrules.BridgeSpec("br0", user=False, icc=False),
            portrules.BridgeSpec("br-a", internal=True),
        ],
        ports=[
            portrules.PortRule("tcp", "127.0.0.1", 8080, "10.0.0.2", 80),
            portrules.PortRule("udp", "", 53, "10.0.0.2", 53),
        ],
    )
    ports, loop = iptables_rules.nat_rules(rules)
    assert [" ".join(r) for r in ports] == [
        "-d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80",
        "-p udp -m udp --dport 53 -j DNAT --to-destination 10.0.0.2:53",
    ]
    assert [" ".join(r) for r in loop] == [
        "-s 127.0.0.0/8 -o br0 -j MASQUERADE",
        "-s 127.0.0.0/8 -o br-a -j MASQUERADE",
    ]
    # The same five drops as the nft forward chain: apart both ways, br-a internal, br0 no icc.
    assert [" ".join(r) for r in iptables_rules.isolation_rules(rules)] == [
        "-i br0 -o br-a -j DROP",
        "-i br0 -o br0 -j DROP",
        "-i br-a -o br0 -j DROP",
        "-i br-a ! -o br-a -j DROP",
        "-o br-a ! -i br-a -j DROP",
    ]
    longest = max(len(c) for c in iptables_rules.chains("x" * 15))
    assert longest <= 28  # iptables' limit for a chain name


def test_firewall_backend_choice() -> None:
    assert rulebackends.choose("iptables", "dy0").name == "iptables"
    assert rulebackends.choose("auto", "dy0").name == ("nftables" if nftables.available() else "iptables")
    with pytest.raises(InvalidArgument, match="invalid firewall backend 'pf'"):
        rulebackends.choose("pf", "dy0")
    with pytest.raises(InvalidArgument, match="invalid firewall backend"):
        NetworkOptions(firewall_backend="pf").validate()
