"""Which packet filter holds a daemon's port and isolation rules (portrules.py): the daemon's
--firewall-backend. ``auto`` (the default) is nftables where `nft` is installed, else iptables,
as issue 5 asks ("iptables-legacy only where nftables is missing"); ``nftables`` and
``iptables`` force one (the tests force iptables on a host that has nft)."""

from __future__ import annotations

from dockyard.errors import InvalidArgument, SystemFailure
from dockyard.network.iptables_rules import IptablesBackend
from dockyard.network.nftables import NftablesBackend
from dockyard.network.options import FIREWALL_BACKENDS
from dockyard.network.portrules import RuleBackend


def check_kind(kind: str) -> None:
    if kind not in FIREWALL_BACKENDS:
        raise InvalidArgument(f"invalid firewall backend {kind!r}: use one of {', '.join(FIREWALL_BACKENDS)}")


def every(default_bridge: str) -> list[RuleBackend]:
    """One backend of each kind for the daemon's rules (nftables first)."""
    return [NftablesBackend(default_bridge), IptablesBackend(default_bridge)]


def choose(kind: str, default_bridge: str) -> RuleBackend:
    check_kind(kind)
    backends = every(default_bridge)
    if kind != "auto":
        chosen = next(b for b in backends if b.name == kind)
        if not chosen.available():
            hint = "nftables" if kind == "nftables" else "iptables"
            raise SystemFailure(
                f"firewall backend {kind} is not available on this host: install it "
                f"(apt-get install {hint}) or use --firewall-backend=auto"
            )
        return chosen
    for b in backends:
        if b.available():
            return b
    raise SystemFailure("neither nft nor iptables is installed: install one (apt-get install nftables)")


def others(chosen: RuleBackend, default_bridge: str) -> list[RuleBackend]:
    """The backends not chosen that this host has: a daemon that ran with another backend before
    left its rules there."""
    return [b for b in every(default_bridge) if b.name != chosen.name and b.available()]
