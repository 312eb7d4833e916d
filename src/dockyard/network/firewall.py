"""iptables rules for a bridge, in chains of our own, as dockerd keeps them for docker0.

    filter FORWARD      -> -j DOCKYARD-FORWARD              (inserted first, shared by our bridges)
    DOCKYARD-FORWARD    -> -j DOCKYARD-FWD-<bridge>         (one jump per bridge)
    DOCKYARD-FWD-<br>      -i br ctstate RELATED,ESTABLISHED -j ACCEPT   (isolate: answers only,
                           -i br ! -o br -j DROP            then nothing else leaves the bridge)
                           -o br -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
                           -o br -m conntrack --ctstate DNAT -j ACCEPT     (published ports)
                           -i br -o br -j ACCEPT             (container <-> container)
                           -i br ! -o br -j ACCEPT           (without isolate: outbound)
    nat POSTROUTING     -> -j DOCKYARD-POSTROUTING -> -j DOCKYARD-NAT-<bridge>
    DOCKYARD-NAT-<br>      -s <subnet> ! -o br -j MASQUERADE (masquerade only)

Why accept rules at all: dockerd sets the FORWARD policy to DROP, and loads br_netfilter with
net.bridge.bridge-nf-call-iptables=1, which sends even frames bridged between two ports of one
bridge through iptables' FORWARD chain (seen there with -i br -o br). Without these rules,
containers on our bridge could not reach each other once dockerd has run on the host.

The iptables binary is run through xtables.py. Callers hold the host-wide network lock
(hostlock.py): the shared chains are checked and changed in several steps.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from dockyard.network import xtables

FORWARD_CHAIN = "DOCKYARD-FORWARD"
NAT_CHAIN = "DOCKYARD-POSTROUTING"


def bridge_chain(bridge: str) -> str:
    return f"DOCKYARD-FWD-{bridge}"  # at most 28 characters, iptables' limit, with a 15-char name


def nat_chain(bridge: str) -> str:
    return f"DOCKYARD-NAT-{bridge}"


@dataclass
class BridgeRules:
    bridge: str
    subnet: ipaddress.IPv4Network
    masquerade: bool
    isolate: bool

    def forward_rules(self) -> list[list[str]]:
        br = self.bridge
        rules = []
        if self.isolate:
            # Answers to connections made *to* a container (a published port, from another
            # host) still leave; nothing a container starts does.
            rules.append(["-i", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"])
            rules.append(["-i", br, "!", "-o", br, "-j", "DROP"])
        rules.append(["-o", br, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"])
        # Published ports: connections DNATed to a container (nftables.py) from anywhere.
        rules.append(["-o", br, "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT"])
        rules.append(["-i", br, "-o", br, "-j", "ACCEPT"])
        if not self.isolate:
            rules.append(["-i", br, "!", "-o", br, "-j", "ACCEPT"])
        return rules

    def nat_rules(self) -> list[list[str]]:
        return [["-s", str(self.subnet), "!", "-o", self.bridge, "-j", "MASQUERADE"]]


def install(rules: BridgeRules) -> None:
    """Put the bridge's rules in place, replacing any earlier set for it; idempotent."""
    xtables.fill_chains("filter", {bridge_chain(rules.bridge): rules.forward_rules()})
    _link("filter", "FORWARD", FORWARD_CHAIN, bridge_chain(rules.bridge))
    if rules.masquerade:
        xtables.fill_chains("nat", {nat_chain(rules.bridge): rules.nat_rules()})
        _link("nat", "POSTROUTING", NAT_CHAIN, nat_chain(rules.bridge))
    else:
        _unlink("nat", "POSTROUTING", NAT_CHAIN, nat_chain(rules.bridge))


def remove(bridge: str) -> None:
    """Remove the bridge's chains and, when no other bridge of ours is left, the shared ones;
    idempotent (every step checks before it deletes)."""
    _unlink("filter", "FORWARD", FORWARD_CHAIN, bridge_chain(bridge))
    _unlink("nat", "POSTROUTING", NAT_CHAIN, nat_chain(bridge))


def _link(table: str, builtin: str, shared: str, chain: str) -> None:
    if xtables.listing(table, shared) is None:
        xtables.run(["-t", table, "-N", shared])
    if not xtables.exists(table, shared, ["-j", chain]):
        xtables.run(["-t", table, "-A", shared, "-j", chain])
    # First in the built-in chain, ahead of whatever the policy or others' rules decide.
    xtables.ensure_first(table, builtin, ["-j", shared])


def _unlink(table: str, builtin: str, shared: str, chain: str) -> None:
    xtables.delete_all(table, shared, ["-j", chain])
    xtables.drop_chain(table, chain)
    remaining = xtables.listing(table, shared)
    if remaining is not None and not remaining:
        # No other bridge of ours uses the shared chain any more.
        xtables.delete_all(table, builtin, ["-j", shared])
        xtables.run(["-t", table, "-X", shared])
