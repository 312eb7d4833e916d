"""Everything the network makes goes away (issue 5, must show 3): after `rm -f` and `network rm`
no link, address or nft rule the daemon made for them is left (other test processes add and
remove links of their own meanwhile, so the comparison looks at every name and address this
test's daemon made), and the nft rules are what they were before; after a daemon SIGKILL and
restart, the veths and port rules of a container that died meanwhile and a veth no container
owns are removed, while a running container keeps its veth and its published port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import IPRoute

from dockyard.network.state import NetworkStore
from tests.daemon_harness import DockyardDaemon
from tests.integration.test_live_restore import Restartable
from tests.integration.test_network_harness import wait_until

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("network tests need root", allow_module_level=True)


def host_links() -> set[str]:
    with IPRoute() as ipr:
        return {str(link.get_attr("IFLA_IFNAME")) for link in ipr.get_links()}


def addresses_on(names: set[str]) -> set[str]:
    """Addresses on the links named ``names`` (IPv4 and the kernel's IPv6 link-local ones)."""
    with IPRoute() as ipr:
        index = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        return {
            f"{index.get(a['index'])} {a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}"
            for a in ipr.get_addr()
            if index.get(a["index"]) in names
        }


def nft_rules(table: str) -> list[str] | None:
    """The table's rules without their handles; None when there is no table."""
    proc = subprocess.run(["nft", "-j", "list", "table", "ip", table], capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    rules = []
    for item in json.loads(proc.stdout)["nftables"]:
        if "rule" in item:
            rule = dict(item["rule"])
            rule.pop("handle", None)
            rules.append(json.dumps(rule, sort_keys=True))
    return rules


def port_rules(table: str) -> list[str]:
    return [r for r in nft_rules(table) or [] if '"chain": "ports"' in r]


def answers(port: int) -> bool:
    for _ in range(50):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                if s.recv(16).startswith(b"HTTP/1."):
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def veths(d: DockyardDaemon) -> dict[str, list[str]]:
    """Container id -> host ends of its veth pairs, from the daemon's network database."""
    store = NetworkStore(Path(d.data_root) / "network" / "ipam.db")
    try:
        return {
            cid: [ep.veth for ep in sb.endpoints if ep.veth] for cid, sb in store.load().sandboxes.items()
        }
    finally:
        store.close()


def bridge_of(d: DockyardDaemon, net: str) -> str:
    info = json.loads(d.docker("network", "inspect", net).stdout)[0]
    return str(info["Options"].get("com.docker.network.bridge.name") or f"br-{info['Id'][:12]}")


def test_rm_and_network_rm_leave_nothing(dockyard_daemon: Any) -> None:
    d = dockyard_daemon
    table = f"dockyard_{d.bridge}"
    rules = nft_rules(table)
    net = f"gone{os.getpid()}"
    made: list[str] = []
    try:
        d.docker("network", "create", net)
        for extra in (("-p", "127.0.0.1::80"), ("-P", "--expose", "80")):
            made.append(
                d.docker(
                    "run", "-d", "--network", net, *extra, "busybox", "httpd", "-f", "-p", "80"
                ).stdout.strip()
            )
        d.docker("network", "connect", "bridge", made[0])
        ours = {v for names in veths(d).values() for v in names}
        ours.add(bridge_of(d, net))
        assert ours <= host_links() and len(ours) == 4 and len(port_rules(table)) == 2
        assert addresses_on(ours)  # the user bridge's gateway address at least
    finally:
        d.docker("rm", "-f", *made, check=False)
        d.docker("network", "rm", net, check=False)
    # The kernel frees a namespace's links asynchronously (cleanup_net).
    assert wait_until(lambda: not host_links() & ours), host_links() & ours
    assert addresses_on(ours) == set()
    assert nft_rules(table) == rules


@pytest.fixture
def daemons() -> Iterator[Restartable]:
    r = Restartable("--live-restore")
    try:
        yield r
    finally:
        r.cleanup()


def test_restart_after_sigkill_removes_what_died_and_keeps_what_runs(daemons: Restartable) -> None:
    d = daemons.start()
    table = f"dockyard_{d.bridge}"
    net = f"crash{os.getpid()}"
    d.docker("network", "create", net)
    base = 21000 + os.getpid() % 1000 * 2
    keep = d.docker("run", "-d", "--network", net, "-p", f"127.0.0.1:{base}:80",
                    "busybox", "httpd", "-f", "-p", "80").stdout.strip()  # fmt: skip
    dead = d.docker("run", "-d", "--network", net, "-p", f"127.0.0.1:{base + 1}:80",
                    "busybox", "httpd", "-f", "-p", "80").stdout.strip()  # fmt: skip
    assert answers(base) and answers(base + 1)
    bridge = bridge_of(d, net)
    owned = veths(d)
    dead_pid = int(d.docker("inspect", "-f", "{{.State.Pid}}", dead).stdout)
    d.kill()
    # Meanwhile: one container dies, and a veth appears on the bridge that no container owns
    # (as a crash between making a veth and recording it would leave).
    os.kill(dead_pid, signal.SIGKILL)
    stray = f"vst{os.getpid()}"[:15]
    with IPRoute() as ipr:
        ipr.link("add", ifname=stray, kind="veth", peer=f"vsp{os.getpid()}"[:15])
        ipr.link("set", index=ipr.link_lookup(ifname=stray)[0], master=ipr.link_lookup(ifname=bridge)[0])
    assert wait_until(lambda: not os.path.exists(f"/proc/{dead_pid}/stat"))

    d = daemons.restart()
    assert wait_until(lambda: "exited" in d.docker("inspect", "-f", "{{.State.Status}}", dead).stdout)
    assert d.docker("inspect", "-f", "{{.State.Status}}", keep).stdout.strip() == "running"
    assert answers(base)
    assert wait_until(lambda: not any(v in host_links() for v in owned[dead] + [stray]))
    assert all(v in host_links() for v in owned[keep])
    kept_rules = port_rules(table)
    assert len(kept_rules) == 1 and f'"right": {base}' in kept_rules[0]

    ours = {v for names in owned.values() for v in names} | {stray, bridge, d.bridge}
    assert addresses_on(ours)
    d.docker("rm", "-f", keep, dead)
    d.docker("network", "rm", net)
    daemons.cleanup()
    assert wait_until(lambda: not host_links() & ours), host_links() & ours
    assert addresses_on(ours) == set()
    assert nft_rules(table) is None
