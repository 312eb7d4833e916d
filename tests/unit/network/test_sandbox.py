"""Sandbox: its JSON round trip and the inspect fragments the engine reuses."""

from __future__ import annotations

from dockyard.network.sandbox import Sandbox
from tests.compat.api_schema import check


def sample() -> Sandbox:
    return Sandbox(
        cid="c1",
        mode="bridge",
        netns_path="/run/dockyard/netns/c1",
        network_id="n" * 64,
        endpoint_id="e" * 64,
        sandbox_id="s" * 64,
        ip="172.17.0.2",
        prefixlen=16,
        gateway="172.17.0.1",
        mac="02:42:ac:11:00:02",
        veth="veth1234567",
        hostname="c1",
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


def test_host_mode_names_the_host_network() -> None:
    sb = Sandbox(cid="h", mode="host", netns_path=None, network_id="h" * 64, endpoint_id="x" * 64)
    ns = sb.network_settings()
    assert ns["SandboxKey"] == "" and ns["EndpointID"] == "" and set(ns["Networks"]) == {"host"}
    assert ns["Networks"]["host"]["EndpointID"] == "x" * 64


def test_settings_match_the_engine_api_reference() -> None:
    # DNSNames is null on the default bridge, as dockerd sends it (a nil slice: it names a
    # container only on user-defined networks); the checker's NULL_WHEN_UNSET lacks it so far.
    dns_null = "DNSNames: expected array, got null"
    for sb in (sample(), Sandbox(cid="n", mode="none", netns_path="/x/n", network_id="n" * 64)):
        problems = check("NetworkSettings", sb.network_settings()) + check(
            "EndpointSettings", sb.endpoint_settings()
        )
        assert [p for p in problems if not p.endswith(dns_null)] == []
