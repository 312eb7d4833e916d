"""A dockerd started after dockyard does not break dockyard's networks (issue 5, "Beside Docker").

dockyard runs first: a user network, busybox httpd serving a file (published on loopback and on
every address) and a client container. Then Debian's dockerd starts with its firewall on
(--iptables=true): it flushes and remakes its DOCKER chains, puts DOCKER-USER and
DOCKER-ISOLATION-STAGE-1 at the top of FORWARD and the DOCKER jumps in nat PREROUTING/OUTPUT.
dockerd sets FORWARD's policy to DROP only when it turns ip_forward on itself, and forwarding is
already on here (dockyard turned it on), so the test sets DROP itself while dockerd runs: the
host then looks as after a dockerd that booted first. Every check runs again, also for a
container started after dockerd, and once more after dockerd has stopped; with each backend of
the port rules (nftables, iptables: network/rulebackends.py).

dockerd gets private roots, socket and pidfile, a managed containerd under its exec root
(tests/compat/engines.py starts and stops both by pid), --ip-masq=false, and a bridge this test
makes with a free private subnet (dockerd insists on making a non-default bridge itself only
when it is missing). Afterwards the iptables state dockerd leaves behind (its chains, the jumps
to them, the rules naming its bridge) is put back to what it was before the test: chains that
existed then (a dockerd may have run on this host before) are refilled as they were, new ones
are deleted; the FORWARD policy and bridge-nf-call-iptables are restored.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import IPRoute

from tests.compat import engines
from tests.daemon_harness import DockyardDaemon
from tests.integration.test_network_harness import (
    BUSYBOX,
    other_host_fixture,  # noqa: F401 (the other_host fixture)
)

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("network tests need root", allow_module_level=True)

BRIDGE_NF = "/proc/sys/net/bridge/bridge-nf-call-iptables"


def is_docker_chain(name: str) -> bool:
    return name == "DOCKER" or name.startswith("DOCKER-")  # DOCKYARD-* are ours


def iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", *args], capture_output=True, text=True, check=check)


def save(table: str) -> tuple[dict[str, str], list[str]]:
    """``iptables-save -t table``: chain -> policy ("-" for user chains), and the rules as
    their ``-A`` lines without the ``-A``."""
    out = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True, check=True).stdout
    chains, rules = {}, []
    for line in out.splitlines():
        if line.startswith(":"):
            name, policy = line[1:].split()[:2]
            chains[name] = policy
        elif line.startswith("-A "):
            rules.append(line[3:])
    return chains, rules


class IptablesSnapshot:
    """What dockerd changes in filter and nat, recorded before it starts, and put back after."""

    def __init__(self, bridge: str) -> None:
        self.bridge = bridge
        self.tables = {table: save(table) for table in ("filter", "nat")}
        self.bridge_nf = Path(BRIDGE_NF).read_text().strip() if os.path.exists(BRIDGE_NF) else None

    def dockers(self, rule: str) -> bool:
        """A rule of dockerd's: it jumps to a DOCKER chain or names dockerd's bridge."""
        words = shlex.split(rule)
        return any(is_docker_chain(w) for w in words[1:]) or self.bridge in words

    def restore(self) -> None:
        for table, (chains_before, rules_before) in self.tables.items():
            chains_now, rules_now = save(table)
            # Rules added to other chains (FORWARD, PREROUTING, ...): the jumps dockerd put in
            # and the rules for its bridge. Other daemons' rules (parallel tests) stay as they are.
            keep = Counter(r for r in rules_before if not is_docker_chain(r.split()[0]))
            for rule in rules_now:
                if is_docker_chain(rule.split()[0]) or not self.dockers(rule):
                    continue
                if keep[rule] > 0:
                    keep[rule] -= 1
                    continue
                iptables("-t", table, "-D", *shlex.split(rule), check=False)
            # Docker's chains that existed before: as they were (declaring a chain in
            # iptables-restore --noflush flushes it; the table commits at once).
            old = [c for c in chains_now if is_docker_chain(c) and c in chains_before]
            if old:
                lines = [f"*{table}", *(f":{c} - [0:0]" for c in old)]
                lines += [f"-A {r}" for r in rules_before if r.split()[0] in old]
                subprocess.run(
                    ["iptables-restore", "-w", "--noflush"],
                    input="\n".join([*lines, "COMMIT", ""]),
                    text=True,
                    capture_output=True,
                    check=True,
                )
            new = [c for c in chains_now if is_docker_chain(c) and c not in chains_before]
            for chain in new:
                iptables("-t", table, "-F", chain, check=False)
            for chain in new:
                iptables("-t", table, "-X", chain, check=False)
            for chain, policy in chains_before.items():
                if policy != "-" and chains_now.get(chain) != policy:
                    iptables("-t", table, "-P", chain, policy)
        if self.bridge_nf is not None:
            Path(BRIDGE_NF).write_text(self.bridge_nf + "\n")


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 of 172.29.0.0/16 that no route of this host touches."""
    with IPRoute() as ipr:
        taken = [
            ipaddress.ip_network(f"{r.get_attr('RTA_DST')}/{r['dst_len']}", strict=False)
            for r in ipr.get_routes(family=socket.AF_INET)
            if r.get_attr("RTA_DST")
        ]
    start = os.getpid() % 200
    for i in range(256):
        net = ipaddress.IPv4Network(f"172.29.{(start + i) % 256}.0/24")
        if not any(net.overlaps(t) for t in taken):
            return net
    raise AssertionError("no free /24 in 172.29.0.0/16 for dockerd's bridge")


@contextlib.contextmanager
def dockerd_beside(bridge: str) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """Debian's dockerd with its firewall on, on a bridge of ours; stopped (by pid) and its
    folder removed afterwards."""
    if shutil.which("dockerd") is None:
        pytest.fail("dockerd is not installed: apt-get install -y docker.io")
    root = Path(tempfile.mkdtemp(prefix="dyd-dockerd-"))
    cgroup_parent = f"/dockyard-net-{uuid.uuid4().hex[:10]}"
    network = (
        f"--bridge={bridge}", "--iptables=true", "--ip6tables=false", "--ip-masq=false",
    )  # fmt: skip
    proc = engines.start_dockerd(root, cgroup_parent, network)
    try:

        def up() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"dockerd exited with {proc.returncode}:\n{(root / 'dockerd.log').read_text()}")
            return engines.ping(str(root / "docker.sock"))

        engines.wait_for(up, engines.ENGINE_START_TIMEOUT, "dockerd to answer /_ping")
        yield proc, root
    finally:
        engines.stop_dockerd(proc, root, cgroup_parent)
        engines.unmount_and_remove(str(root))


def fetch(host: str, port: int, attempts: int = 50) -> bytes:
    """The whole HTTP answer of host:port ('' if nothing answered)."""
    for _ in range(attempts):
        try:
            with socket.create_connection((host, port), timeout=3) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data = b"".join(iter(lambda: s.recv(4096), b""))
                if data:
                    return data
        except OSError:
            pass
        time.sleep(0.1)
    return b""


def get_script(host: str, port: int, marker: str) -> str:
    return (
        f"for i in $(seq 1 30); do r=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {host} {port}); "
        f'case "$r" in *{marker}*) echo "$r" | tail -1; exit 0;; esac; sleep 0.1; done; exit 1'
    )


class Scene:
    def __init__(self, d: Any, other_host: tuple[str, str]) -> None:
        self.d = d
        self.pid = os.getpid()
        self.net = f"beside{self.pid}"
        self.marker = f"served-{uuid.uuid4().hex[:12]}"
        base = 23000 + self.pid % 1000 * 2
        self.loop_port, self.any_port = base, base + 1
        self.other_path, self.host_ip = other_host
        self.containers: list[str] = []
        self.clients: list[str] = []

    def run(self, *args: str) -> str:
        cid = str(self.d.docker("run", "-d", "--network", self.net, *args).stdout.strip())
        self.containers.append(cid)
        return cid

    def start(self) -> None:
        self.d.docker("network", "create", self.net)
        page = f"mkdir /www && echo {self.marker} > /www/index.html && exec httpd -f -p 8080 -h /www"
        self.run(
            "--name", f"web{self.pid}", "--network-alias", "web",
            "-p", f"127.0.0.1:{self.loop_port}:8080", "-p", f"{self.any_port}:8080",
            "busybox", "sh", "-c", page,
        )  # fmt: skip
        self.add_client()

    def add_client(self) -> None:
        self.clients.append(self.run("busybox", "sleep", "300"))

    def check(self, when: str) -> None:
        for client in self.clients:
            for name in ("web", f"web{self.pid}"):
                res = self.d.docker(
                    "exec", client, "sh", "-c", get_script(name, 8080, self.marker), check=False
                )
                assert res.stdout.strip() == self.marker, (when, client, name, res.stdout, res.stderr)
        once = self.d.docker(
            "run", "--rm", "--network", self.net, "busybox", "sh", "-c", get_script("web", 8080, self.marker)
        )
        assert once.stdout.strip() == self.marker, (when, once.stdout)
        assert fetch("127.0.0.1", self.loop_port).endswith(self.marker.encode() + b"\n"), when
        script = get_script(self.host_ip, self.any_port, self.marker)
        other = subprocess.run(
            ["nsenter", f"--net={self.other_path}", BUSYBOX, "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert other.stdout.strip() == self.marker, (when, other.stdout, other.stderr)

    def close(self) -> None:
        if self.containers:
            self.d.docker("rm", "-f", *self.containers, check=False)
        self.d.docker("network", "rm", self.net, check=False)


@pytest.fixture(params=["nftables", "iptables"])
def daemon(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The session's daemon (nftables here), or one of its own with the iptables backend."""
    if request.param == "nftables":
        yield request.getfixturevalue("dockyard_daemon")
        return
    with DockyardDaemon("--firewall-backend=iptables") as d:
        d.bootstrap()
        yield d


def test_dockerd_started_after_dockyard_breaks_nothing(daemon: Any, other_host: tuple[str, str]) -> None:
    scene = Scene(daemon, other_host)
    bridge = f"dkt{os.getpid()}"[:15]
    snapshot = IptablesSnapshot(bridge)
    ipr = IPRoute()
    try:
        scene.start()
        scene.check("before dockerd")

        subnet = free_subnet()
        ipr.link("add", ifname=bridge, kind="bridge")
        index = ipr.link_lookup(ifname=bridge)[0]
        ipr.addr("add", index=index, address=str(subnet.network_address + 1), prefixlen=subnet.prefixlen)
        ipr.link("set", index=index, state="up")
        with dockerd_beside(bridge) as (proc, _root):
            forward = iptables("-S", "FORWARD").stdout
            # dockerd has programmed its firewall: its chains ahead of ours in FORWARD.
            assert f"-A FORWARD -o {bridge} -j DOCKER" in forward, forward
            jumps = [line for line in forward.splitlines() if "-j DOCKER-USER" in line or "DOCKYARD" in line]
            assert jumps and "DOCKER-USER" in jumps[0], forward
            iptables("-P", "FORWARD", "DROP")
            assert Path(BRIDGE_NF).read_text().strip() == "1"
            scene.check("with dockerd running")
            scene.add_client()
            scene.check("a container started after dockerd")
            proc.terminate()
            proc.wait(30)
        scene.check("after dockerd stopped")
    finally:
        try:
            scene.close()
        finally:
            found = ipr.link_lookup(ifname=bridge)
            if found:
                ipr.link("del", index=found[0])
            ipr.close()
            snapshot.restore()
