"""What the daemon asks of the kernel's packet filter besides the FORWARD accepts (firewall.py):
published ports (DNAT), the loopback masquerade that makes them answer on 127.0.0.1, and the
drops that keep its networks apart. Two backends write the same rules, one module each:

    nftables.py        a table of the daemon's own through `nft -j -f -` (the default)
    iptables_rules.py  chains of the daemon's own through iptables, where `nft` is missing

rulebackends.py picks one (the daemon's --firewall-backend: auto, nftables or iptables). Every
write replaces all of the daemon's rules at once from the manager's state, so the rules of
containers that are gone disappear with the next write, and a restarted daemon starts from what
survived.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class BridgeSpec:
    name: str
    internal: bool = False
    icc: bool = True
    user: bool = True  # a user-defined network: kept apart from every other bridge of ours


@dataclass
class PortRule:
    proto: str
    host_ip: str  # "" or "0.0.0.0": any local address
    host_port: int
    dest_ip: str
    dest_port: int


@dataclass
class Rules:
    bridges: list[BridgeSpec] = field(default_factory=list)
    ports: list[PortRule] = field(default_factory=list)


class RuleBackend(Protocol):
    """One daemon's rules (named after its default bridge) in one kind of packet filter."""

    name: str

    def available(self) -> bool:
        """Whether this host has the tools the backend needs."""
        ...

    def apply(self, rules: Rules) -> None:
        """Replace every rule of the daemon with ``rules``; idempotent."""
        ...

    def delete(self) -> None:
        """Remove every rule and chain (or table) of the daemon; idempotent, also when nothing
        was ever written."""
        ...
