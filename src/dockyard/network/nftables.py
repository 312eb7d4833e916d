"""The daemon's nftables table: published ports (DNAT) and isolation between its networks.

    table ip dockyard_<default bridge>        (one per daemon, so parallel daemons never collide)
      prerouting  nat hook, dstnat    fib daddr type local jump ports   (from other hosts)
      output      nat hook, -100      fib daddr type local jump ports   (from this host, loopback too)
      ports       [ip daddr H] tcp|udp dport P dnat to <container ip>:<port>, one rule per binding
      postrouting nat hook, srcnat    oifname <bridge> ip saddr 127.0.0.0/8 masquerade
      forward     filter hook         iifname A oifname {B, C} drop    (user networks apart)
                                      iifname I oifname != I drop      (--internal, both ways)
                                      iifname X oifname X drop         (icc=false)

The whole table is written in one transaction each time (add, delete, add again: `nft` commits a
batch atomically, so packets never see it half-made), from the manager's state: rules of
containers that are gone disappear with the next write, and a daemon restart rewrites it from
the sandboxes that survived. It goes through `nft -j -f -` (libnftables' JSON schema, the one
`nft -j list` prints). Where `nft` is missing, iptables_rules.py writes the same rules
(portrules.py). iptables stays in use for the FORWARD accept rules (firewall.py),
because an accept in our own table cannot override a DROP policy in iptables' FORWARD chain
(every base chain of a hook sees the packet; a drop in any of them wins).

Loopback: a connection to 127.0.0.1:P is DNATed in `output`; the rerouted packet leaves through
the bridge with source 127.0.0.1, which the kernel drops as martian unless the bridge has
net.ipv4.conf.<bridge>.route_localnet=1; `postrouting` then gives it the bridge's address so the
container's answer finds its way back (dockerd does the same with --userland-proxy=false).

Isolation rules see frames bridged between two ports of one bridge too (icc=false) only when
br_netfilter hands them to the IP hooks (net.bridge.bridge-nf-call-iptables=1); the manager
sets that when some network turns icc off.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import SystemFailure
from dockyard.network.portrules import BridgeSpec, PortRule, Rules

__all__ = ["BridgeSpec", "NftablesBackend", "PortRule", "Ruleset", "table_name"]

FAMILY = "ip"


def table_name(default_bridge: str) -> str:
    return "dockyard_" + default_bridge.replace("-", "_").replace(".", "_")


@dataclass
class Ruleset:
    table: str
    bridges: list[BridgeSpec] = field(default_factory=list)
    ports: list[PortRule] = field(default_factory=list)

    def commands(self) -> list[dict[str, Any]]:
        t = {"family": FAMILY, "name": self.table}
        cmds: list[dict[str, Any]] = [
            {"add": {"table": t}},
            {"delete": {"table": t}},
            {"add": {"table": t}},
        ]

        def chain(name: str, **hook: Any) -> None:
            cmds.append({"add": {"chain": {"family": FAMILY, "table": self.table, "name": name, **hook}}})

        def rule(chain_name: str, *expr: dict[str, Any]) -> None:
            cmds.append(
                {
                    "add": {
                        "rule": {
                            "family": FAMILY,
                            "table": self.table,
                            "chain": chain_name,
                            "expr": list(expr),
                        }
                    }
                }
            )

        chain("ports")
        chain("prerouting", type="nat", hook="prerouting", prio=-100, policy="accept")
        chain("output", type="nat", hook="output", prio=-100, policy="accept")
        chain("postrouting", type="nat", hook="postrouting", prio=100, policy="accept")
        chain("forward", type="filter", hook="forward", prio=0, policy="accept")
        local = _match({"fib": {"result": "type", "flags": ["daddr"]}}, "local")
        rule("prerouting", local, {"jump": {"target": "ports"}})
        rule("output", local, {"jump": {"target": "ports"}})
        for p in self.ports:
            expr = []
            if p.host_ip and p.host_ip != "0.0.0.0":
                expr.append(_match({"payload": {"protocol": "ip", "field": "daddr"}}, p.host_ip))
            expr.append(_match({"payload": {"protocol": p.proto, "field": "dport"}}, p.host_port))
            expr.append({"dnat": {"addr": p.dest_ip, "port": p.dest_port}})
            rule("ports", *expr)
        names = [b.name for b in self.bridges]
        for b in self.bridges:
            rule(
                "postrouting",
                _match(_meta("oifname"), b.name),
                _match(
                    {"payload": {"protocol": "ip", "field": "saddr"}},
                    {"prefix": {"addr": "127.0.0.0", "len": 8}},
                ),
                {"masquerade": None},
            )
            others = [n for n in names if n != b.name]
            if others:
                rule(
                    "forward",
                    _match(_meta("iifname"), b.name),
                    _match(_meta("oifname"), {"set": others}),
                    _drop(),
                )
            if b.internal:
                rule(
                    "forward",
                    _match(_meta("iifname"), b.name),
                    _match(_meta("oifname"), b.name, "!="),
                    _drop(),
                )
                rule(
                    "forward",
                    _match(_meta("oifname"), b.name),
                    _match(_meta("iifname"), b.name, "!="),
                    _drop(),
                )
            if not b.icc:
                rule("forward", _match(_meta("iifname"), b.name), _match(_meta("oifname"), b.name), _drop())
        return cmds


def _meta(key: str) -> dict[str, Any]:
    return {"meta": {"key": key}}


def _match(left: dict[str, Any], right: Any, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": right}}


def _drop() -> dict[str, Any]:
    return {"drop": None}


def available() -> bool:
    return _binary() is not None


def _binary() -> str | None:
    return shutil.which("nft") or next(
        (p for p in ("/usr/sbin/nft", "/sbin/nft") if os.access(p, os.X_OK)), None
    )


def apply(ruleset: Ruleset) -> None:
    """Replace the table with ``ruleset`` in one transaction."""
    _run({"nftables": ruleset.commands()})


def delete_table(table: str) -> None:
    """Remove the table and every rule in it; idempotent (adding first makes the delete safe)."""
    t = {"family": FAMILY, "name": table}
    _run({"nftables": [{"add": {"table": t}}, {"delete": {"table": t}}]})


def list_table(table: str) -> list[dict[str, Any]] | None:
    """The table's objects as `nft -j list table` prints them; None when there is no table."""
    nft = _binary()
    if nft is None:
        return None
    proc = subprocess.run([nft, "-j", "list", "table", FAMILY, table], capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    return [item for item in json.loads(proc.stdout).get("nftables", []) if "metainfo" not in item]


def _run(doc: dict[str, Any]) -> None:
    nft = _binary()
    if nft is None:
        raise SystemFailure("nft is not installed: install it (apt-get install nftables)")
    proc = subprocess.run(
        [nft, "-j", "-f", "-"],
        input=json.dumps(doc),
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
    )
    if proc.returncode != 0:
        raise SystemFailure(f"nft failed: {proc.stderr.strip() or proc.returncode}")


class NftablesBackend:
    """portrules.RuleBackend in the table ``dockyard_<default bridge>``."""

    name = "nftables"

    def __init__(self, default_bridge: str) -> None:
        self.table = table_name(default_bridge)

    def available(self) -> bool:
        return available()

    def apply(self, rules: Rules) -> None:
        apply(Ruleset(self.table, rules.bridges, rules.ports))

    def delete(self) -> None:
        if available():
            delete_table(self.table)
