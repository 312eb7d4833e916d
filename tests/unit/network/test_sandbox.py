"""Sandbox: its JSON round trip and the inspect fragments the engine reuses."""

from __future__ import annotations

from dockyard.network.sandbox import Endpoint, PortBinding, Sandbox
from tests.compat.api_schema import check


def sample() -> Sandbox:
    ep = Endpoint(
        network="bridge",
        network_id="n" * 64,
        endpoint_id="e" * 64,
        ip="172.17.0.2",
        prefixlen=16,
        gateway="172.17.0.1",
        mac="02:42:ac:11:00:02",
        veth="veth1234567",
        builtin=True,
    )
    return Sandbox(
        cid="c1",
        mode="bridge",
        netns_path="/run/dockyard/netns/c1",
        sandbox_id="s" * 64,
        hostname="c1",
        endpoints=[ep],
        ports=[PortBinding("tcp", 80, "127.0.0.1", 18080)],
    )


def test_json_round_trip_ignores_unknown_fields() -> None:
    sb = sample()
    data = sb.to_json() | {"future": 1}
    assert Sandbox.from_json(data) == sb


def test_endpoint_and_network_settings() -> None:
    sb = sample()
    ep = sb.endpoint_settings()
    assert ep["IPAddress"] == "172.17.0.2" and ep["IPPrefixLen"] == 16 and ep["Gateway"] == "172.17.0.1"
    assert ep["NetworkID"] == "n" * 64 and ep["EndpointID"] == "e" * 64 and ep["MacAddress"] == sb.mac
    ns = sb.network_settings()
    assert ns["SandboxKey"] == "/run/dockyard/netns/c1" and ns["SandboxID"] == "s" * 64
    assert ns["IPAddress"] == "172.17.0.2" and ns["EndpointID"] == "e" * 64
    assert set(ns["Networks"]) == {"bridge"}


def test_records_of_the_single_endpoint_daemon_still_load() -> None:
    old = {"cid": "c9", "mode": "bridge", "netns_path": "/x", "network_id": "n" * 64,
           "endpoint_id": "e" * 64, "ip": "172.17.0.9", "prefixlen": 16, "gateway": "172.17.0.1",
           "mac": "m", "veth": "vethx"}  # fmt: skip
    sb = Sandbox.from_json(old)
    assert (sb.ip, sb.veth, sb.network, sb.endpoint_id) == ("172.17.0.9", "vethx", "bridge", "e" * 64)


def test_ports_and_several_networks() -> None:
    sb = sample()
    sb.endpoints.append(
        Endpoint("web", "w" * 64, "f" * 64, "eth1", "10.9.0.2", 24, "10.9.0.1", dns_names=["c1"])
    )
    ns = sb.network_settings({"80/tcp": {}, "53/udp": {}})
    assert ns["Ports"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}], "53/udp": None}
    assert set(ns["Networks"]) == {"bridge", "web"} and ns["IPAddress"] == "172.17.0.2"
    assert ns["Networks"]["web"]["DNSNames"] == ["c1"] and ns["Networks"]["bridge"]["DNSNames"] is None


def test_host_mode_names_the_host_network() -> None:
    ep = Endpoint("host", "h" * 64, "x" * 64, ifname="", builtin=True)
    sb = Sandbox(cid="h", mode="host", netns_path=None, endpoints=[ep])
    ns = sb.network_settings()
    assert ns["SandboxKey"] == "" and ns["EndpointID"] == "" and set(ns["Networks"]) == {"host"}
    assert ns["Networks"]["host"]["EndpointID"] == "x" * 64


def test_settings_match_the_engine_api_reference() -> None:
    # DNSNames is null on the default bridge, as dockerd sends it (a nil slice: it names a
    # container only on user-defined networks); the checker's NULL_WHEN_UNSET lacks it so far.
    dns_null = "DNSNames: expected array, got null"
    none = Endpoint("none", "n" * 64, "e" * 64, ifname="", builtin=True)
    for sb in (sample(), Sandbox(cid="n", mode="none", netns_path="/x/n", endpoints=[none])):
        problems = check("NetworkSettings", sb.network_settings()) + check(
            "EndpointSettings", sb.endpoint_settings()
        )
        assert [p for p in problems if not p.endswith(dns_null)] == []
