"""The rule set of a bridge: isolate drops before anything accepts; masquerade per subnet."""

from __future__ import annotations

import ipaddress

from dockyard.network import firewall


def rules(isolate: bool) -> list[str]:
    spec = firewall.BridgeRules(
        "dy0", ipaddress.IPv4Network("172.17.0.0/16"), masquerade=True, isolate=isolate
    )
    return [" ".join(rule) for rule in spec.forward_rules()]


def test_isolated_bridge_lets_only_answers_out_and_accepts_inside() -> None:
    assert rules(isolate=True) == [
        "-i dy0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-i dy0 ! -o dy0 -j DROP",
        "-o dy0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-o dy0 -m conntrack --ctstate DNAT -j ACCEPT",
        "-i dy0 -o dy0 -j ACCEPT",
    ]


def test_open_bridge_accepts_outbound() -> None:
    assert rules(isolate=False)[-1] == "-i dy0 ! -o dy0 -j ACCEPT"
    assert not any("DROP" in r for r in rules(isolate=False))


def test_masquerade_rule_and_chain_names_fit_iptables() -> None:
    spec = firewall.BridgeRules("dy0", ipaddress.IPv4Network("172.17.0.0/16"), masquerade=True, isolate=False)
    assert spec.nat_rules() == [["-s", "172.17.0.0/16", "!", "-o", "dy0", "-j", "MASQUERADE"]]
    longest = "b" * 15
    assert len(firewall.bridge_chain(longest)) <= 28 and len(firewall.nat_chain(longest)) <= 28
