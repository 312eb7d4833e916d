"""The daemon's port and isolation rules through iptables, for hosts without `nft` (portrules.py
has the rules; nftables.py writes them as a table). Chains of the daemon's own, named after its
default bridge (at most 15 characters, so every name stays within iptables' 28):

    nat     PREROUTING  -m addrtype --dst-type LOCAL -j DOCKYARD-P-<br>   (from other hosts)
            OUTPUT      -m addrtype --dst-type LOCAL -j DOCKYARD-P-<br>   (this host, loopback too)
            DOCKYARD-P-<br>   [-d H] -p tcp|udp --dport P -j DNAT --to-destination <ip>:<port>
            POSTROUTING -j DOCKYARD-L-<br>
            DOCKYARD-L-<br>   -s 127.0.0.0/8 -o <bridge> -j MASQUERADE          (each bridge)
    mangle  FORWARD     -j DOCKYARD-I-<br>
            DOCKYARD-I-<br>   -i A -o B -j DROP               (user networks apart, each pair)
                              -i I ! -o I -j DROP, -o I ! -i I -j DROP        (--internal)
                              -i X -o X -j DROP                               (icc=false)

The drops sit in mangle, not filter: mangle's FORWARD runs before filter's, so they hold
whatever order the accepts in filter FORWARD (firewall.py's, dockerd's) end up in; a DROP there
ends the packet as a drop in nftables' forward chain does. Bridged frames reach it too when
br_netfilter hands them to the IP hooks (icc=false, as with nftables).

A write fills the chains in one iptables-restore commit per table (a packet never sees them
half-made); the jumps from the built-in chains are checked once per backend object and put
first when missing. delete() unlinks and removes the chains; every step checks first.
"""

from __future__ import annotations

from dockyard.errors import SystemFailure
from dockyard.network import xtables
from dockyard.network.portrules import Rules

PREFIX = "DOCKYARD-"


def chains(default_bridge: str) -> tuple[str, str, str]:
    """(ports, loopback, isolation) chain names of the daemon whose default bridge is given."""
    return (f"{PREFIX}P-{default_bridge}", f"{PREFIX}L-{default_bridge}", f"{PREFIX}I-{default_bridge}")


def jumps(default_bridge: str) -> list[tuple[str, str, list[str]]]:
    """(table, built-in chain, rule) of every jump into the daemon's chains."""
    ports, loop, iso = chains(default_bridge)
    local = ["-m", "addrtype", "--dst-type", "LOCAL", "-j", ports]
    return [
        ("nat", "PREROUTING", local),
        ("nat", "OUTPUT", local),
        ("nat", "POSTROUTING", ["-j", loop]),
        ("mangle", "FORWARD", ["-j", iso]),
    ]


def nat_rules(rules: Rules) -> tuple[list[list[str]], list[list[str]]]:
    """The ports chain's DNAT rules and the loopback chain's masquerades."""
    ports = []
    for p in rules.ports:
        rule = []
        if p.host_ip and p.host_ip != "0.0.0.0":
            rule += ["-d", f"{p.host_ip}/32"]
        rule += ["-p", p.proto, "-m", p.proto, "--dport", str(p.host_port)]
        rule += ["-j", "DNAT", "--to-destination", f"{p.dest_ip}:{p.dest_port}"]
        ports.append(rule)
    loop = [["-s", "127.0.0.0/8", "-o", b.name, "-j", "MASQUERADE"] for b in rules.bridges]
    return ports, loop


def isolation_rules(rules: Rules) -> list[list[str]]:
    drops = []
    names = [b.name for b in rules.bridges]
    for b in rules.bridges:
        drops += [["-i", b.name, "-o", other, "-j", "DROP"] for other in names if other != b.name]
        if b.internal:
            drops.append(["-i", b.name, "!", "-o", b.name, "-j", "DROP"])
            drops.append(["-o", b.name, "!", "-i", b.name, "-j", "DROP"])
        if not b.icc:
            drops.append(["-i", b.name, "-o", b.name, "-j", "DROP"])
    return drops


class IptablesBackend:
    """portrules.RuleBackend in chains DOCKYARD-{P,L,I}-<default bridge>."""

    name = "iptables"

    def __init__(self, default_bridge: str) -> None:
        self.default_bridge = default_bridge
        self._linked = False

    def available(self) -> bool:
        try:
            xtables.binary("iptables")
            xtables.binary("iptables-restore")
        except SystemFailure:
            return False
        return True

    def apply(self, rules: Rules) -> None:
        ports_chain, loop_chain, iso_chain = chains(self.default_bridge)
        ports, loop = nat_rules(rules)
        xtables.fill_chains("nat", {ports_chain: ports, loop_chain: loop})
        xtables.fill_chains("mangle", {iso_chain: isolation_rules(rules)})
        if not self._linked:
            for table, builtin, rule in jumps(self.default_bridge):
                xtables.ensure_first(table, builtin, rule)
            self._linked = True

    def delete(self) -> None:
        ports_chain, loop_chain, iso_chain = chains(self.default_bridge)
        mine = (("nat", ports_chain), ("nat", loop_chain), ("mangle", iso_chain))
        self._linked = False
        if all(xtables.listing(table, chain) is None for table, chain in mine):
            return  # iptables refuses a jump to a missing chain: no chain, no jump either
        for table, builtin, rule in jumps(self.default_bridge):
            xtables.delete_all(table, builtin, rule)
        for table, chain in mine:
            xtables.drop_chain(table, chain)
