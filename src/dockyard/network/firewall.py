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

The iptables binary is used whichever backend it has (Debian's iptables-nft or legacy), with -w
so it waits for the xtables lock instead of failing beside a running dockerd. Callers hold the
host-wide network lock (hostlock.py): the shared chains are checked and changed in several steps.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from dataclasses import dataclass

from dockyard.errors import SystemFailure

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
    _fill_chain("filter", bridge_chain(rules.bridge), rules.forward_rules())
    _link("filter", "FORWARD", FORWARD_CHAIN, bridge_chain(rules.bridge))
    if rules.masquerade:
        _fill_chain("nat", nat_chain(rules.bridge), rules.nat_rules())
        _link("nat", "POSTROUTING", NAT_CHAIN, nat_chain(rules.bridge))
    else:
        _unlink("nat", "POSTROUTING", NAT_CHAIN, nat_chain(rules.bridge))


def remove(bridge: str) -> None:
    """Remove the bridge's chains and, when no other bridge of ours is left, the shared ones;
    idempotent (every step checks before it deletes)."""
    _unlink("filter", "FORWARD", FORWARD_CHAIN, bridge_chain(bridge))
    _unlink("nat", "POSTROUTING", NAT_CHAIN, nat_chain(bridge))


def listing(table: str, chain: str) -> list[str] | None:
    """``iptables -S chain`` lines without the chain's own -N line; None if there is no chain."""
    proc = _run(["-t", table, "-S", chain], check=False)
    if proc.returncode != 0:
        return None
    return [line for line in proc.stdout.splitlines() if line and not line.startswith(("-N ", "-P "))]


def _fill_chain(table: str, chain: str, rules: list[list[str]]) -> None:
    # In iptables-restore --noflush, declaring a user chain creates it or flushes it, and the
    # whole table block commits at once: a packet never sees the chain half-filled.
    lines = [f"*{table}", f":{chain} - [0:0]"]
    lines += [" ".join(["-A", chain, *rule]) for rule in rules]
    lines.append("COMMIT")
    _restore("\n".join(lines) + "\n")


def _link(table: str, builtin: str, shared: str, chain: str) -> None:
    if listing(table, shared) is None:
        _run(["-t", table, "-N", shared])
    if not _exists(table, shared, ["-j", chain]):
        _run(["-t", table, "-A", shared, "-j", chain])
    if not _exists(table, builtin, ["-j", shared]):
        # First in the built-in chain, ahead of whatever the policy or others' rules decide.
        _run(["-t", table, "-I", builtin, "1", "-j", shared])


def _unlink(table: str, builtin: str, shared: str, chain: str) -> None:
    while _exists(table, shared, ["-j", chain]):
        _run(["-t", table, "-D", shared, "-j", chain])
    if listing(table, chain) is not None:
        _run(["-t", table, "-F", chain])
        _run(["-t", table, "-X", chain])
    remaining = listing(table, shared)
    if remaining is not None and not remaining:
        # No other bridge of ours uses the shared chain any more.
        while _exists(table, builtin, ["-j", shared]):
            _run(["-t", table, "-D", builtin, "-j", shared])
        _run(["-t", table, "-X", shared])


def _exists(table: str, chain: str, rule: list[str]) -> bool:
    return _run(["-t", table, "-C", chain, *rule], check=False).returncode == 0


def _binary(name: str) -> str:
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None
    )
    if path is None:
        raise SystemFailure(f"{name} is not installed: install it (apt-get install iptables)")
    return path


def _run(args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = [_binary("iptables"), "-w", *args]
    proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
    if check and proc.returncode != 0:
        raise SystemFailure(f"{' '.join(argv)} failed: {proc.stderr.strip() or proc.returncode}")
    return proc


def _restore(text: str) -> None:
    argv = [_binary("iptables-restore"), "-w", "--noflush"]
    proc = subprocess.run(argv, input=text, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
    if proc.returncode != 0:
        raise SystemFailure(f"iptables-restore failed: {proc.stderr.strip()} (input: {text!r})")
