"""The iptables backend of the port and isolation rules (network/iptables_rules.py), forced with
`--firewall-backend=iptables` on this host that has nft: published ports answer on loopback and
from another host, user networks stay apart through its mangle drops, a stopped container's DNAT
rule goes, `rm -f` and `network rm` leave the rules as they were, and after a SIGKILL and a
restart the rule of a container that died meanwhile is gone while a running one keeps its port;
a restart with the default (nftables) backend moves that port to the nft table and removes the
chains; after the daemon's clean-up nothing of it is left in iptables-save or nftables."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from dockyard.network import iptables_rules
from tests.daemon_harness import DockyardDaemon
from tests.integration.test_live_restore import Restartable
from tests.integration.test_network_beside_dockerd import fetch, get_script
from tests.integration.test_network_cleanup import answers, bridge_of, nft_rules, port_rules
from tests.integration.test_network_harness import (
    BUSYBOX,
    other_host_fixture,  # noqa: F401 (the other_host fixture)
    wait_until,
)

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("network tests need root", allow_module_level=True)

PAGE = "mkdir /www && echo {marker} > /www/index.html && exec httpd -f -p 80 -h /www"


def ours(names: set[str]) -> list[str]:
    """iptables-save lines (nat, mangle, filter) that name one of ``names``, counters dropped."""
    lines = []
    for table in ("nat", "mangle", "filter"):
        out = subprocess.run(
            ["iptables-save", "-t", table], capture_output=True, text=True, check=True
        ).stdout
        for line in out.splitlines():
            words = line.replace(":", " ").split()
            if any(n in words or any(w.endswith("-" + n) for w in words) for n in names):
                lines.append(f"{table}: {line.split(' [', 1)[0]}")
    return sorted(lines)


def dnat_rules(bridge: str) -> list[str]:
    chain = iptables_rules.chains(bridge)[0]
    out = subprocess.run(["iptables", "-w", "-t", "nat", "-S", chain], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if "DNAT" in line]


def drops(bridge: str) -> int:
    chain = iptables_rules.chains(bridge)[2]
    out = subprocess.run(
        ["iptables", "-w", "-t", "mangle", "-L", chain, "-v", "-x", "-n"], capture_output=True, text=True
    ).stdout
    return sum(int(line.split()[0]) for line in out.splitlines() if " DROP " in line)


@pytest.fixture
def daemons() -> Iterator[Restartable]:
    r = Restartable("--live-restore", "--firewall-backend=iptables")
    try:
        yield r
    finally:
        r.cleanup()


def test_iptables_backend_publishes_isolates_and_cleans_up(
    daemons: Restartable, other_host: tuple[str, str]
) -> None:
    pid = os.getpid()
    names = {daemons.first.bridge}
    assert ours(names) == []
    d = daemons.start()
    assert subprocess.run(
        ["nft", "list", "table", "ip", f"dockyard_{d.bridge}"], capture_output=True
    ).returncode
    started = ours(names)
    assert any(f"-j {iptables_rules.chains(d.bridge)[0]}" in line for line in started), started

    net, other = f"ipt{pid}", f"ipo{pid}"
    d.docker("network", "create", net)
    d.docker("network", "create", other)
    names |= {bridge_of(d, net), bridge_of(d, other)}
    base = 25000 + pid % 1000 * 3
    marker = f"iptables-{pid}"
    keep = d.docker("run", "-d", "--network", net, "-p", f"127.0.0.1:{base}:80", "-p", f"{base + 1}:80",
                    "busybox", "sh", "-c", PAGE.format(marker=marker)).stdout.strip()  # fmt: skip
    dead = d.docker("run", "-d", "--network", net, "-p", f"127.0.0.1:{base + 2}:80",
                    "busybox", "httpd", "-f", "-p", "80").stdout.strip()  # fmt: skip
    assert fetch("127.0.0.1", base).endswith(f"{marker}\n".encode())
    path, host_ip = other_host
    remote = subprocess.run(
        ["nsenter", f"--net={path}", BUSYBOX, "sh", "-c", get_script(host_ip, base + 1, marker)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert remote.stdout.strip() == marker, (remote.stdout, remote.stderr)
    assert answers(base + 2) and len(dnat_rules(d.bridge)) == 3

    # Another network cannot reach the server: the mangle drop stops it, first of all rules.
    ip = d.docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", keep).stdout
    before = drops(d.bridge)
    try_get = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {ip.strip()} 80"
    probe = d.docker("run", "--rm", "--network", other, "busybox", "sh", "-c", try_get, check=False)
    assert marker not in probe.stdout and drops(d.bridge) > before

    # A stopped container's DNAT rule goes; started again, it comes back.
    d.docker("stop", "-t", "1", dead)
    assert len(dnat_rules(d.bridge)) == 2
    d.docker("start", dead)
    assert answers(base + 2)

    # SIGKILL the daemon; meanwhile one container dies. The restart drops its rule only.
    dead_pid = int(d.docker("inspect", "-f", "{{.State.Pid}}", dead).stdout)
    d.kill()
    os.kill(dead_pid, 9)
    assert wait_until(lambda: not os.path.exists(f"/proc/{dead_pid}/stat"))
    d = daemons.restart()
    assert wait_until(lambda: "exited" in d.docker("inspect", "-f", "{{.State.Status}}", dead).stdout)
    assert answers(base) and [f"--dport {base}" in r for r in dnat_rules(d.bridge)] == [True, False]
    d.docker("rm", "-f", dead)
    d.docker("network", "rm", other)

    # Back to nftables (the default here): the iptables chains go, the running container's port
    # moves to the nft table and still answers.
    d.stop()
    d = DockyardDaemon("--live-restore", root=str(daemons.first.root), bridge=d.bridge)
    daemons.all.append(d)
    daemons.current = d
    d.start()
    assert not any(f"-{d.bridge}" in line and "DOCKYARD-P-" in line for line in ours(names))
    assert not any("DOCKYARD-L-" in line or "DOCKYARD-I-" in line for line in ours(names))
    assert answers(base) and any(f'"right": {base}' in r for r in port_rules(f"dockyard_{d.bridge}"))
    d.docker("rm", "-f", keep)
    d.docker("network", "rm", net)
    port_chains = [line for line in started if any(f"DOCKYARD-{c}-" in line for c in "PLI")]
    assert ours(names) == [line for line in started if line not in port_chains]
    daemons.cleanup()
    assert ours(names) == [] and nft_rules(f"dockyard_{d.bridge}") is None
