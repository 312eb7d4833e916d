"""The bridge's iptables rules beside a Docker-like host, each test in a private namespace of its
own: there the FORWARD policy can be DROP and bridge-nf-call-iptables 1, as dockerd leaves them,
without touching the real host, and an "outside" namespace stands for the world beyond."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pyroute2 import IPRoute

from dockyard.network import netns
from dockyard.network.manager import NetworkManager
from tests.integration.test_network_harness import (
    ManagerFactory,
    in_netns,
    make_manager_fixture,  # noqa: F401 (the make_manager fixture)
    ping,
    private_netns,
)

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("network tests need root", allow_module_level=True)

OUTSIDE_HOST = "198.18.0.1"  # the private host's end of the link to the outside namespace
OUTSIDE_PEER = "198.18.0.2"  # the outside namespace: a namespace of this test, nothing more


def iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", *args], capture_output=True, text=True, check=check)


def write(path: str, value: str) -> None:
    # /proc/sys/net is per namespace: this writes the private namespace's setting.
    with open(path, "w", encoding="ascii") as f:
        f.write(value)


def read(path: str) -> str:
    with open(path, encoding="ascii") as f:
        return f.read().strip()


@contextmanager
def docker_like_host() -> Iterator[None]:
    with private_netns():
        iptables("-P", "FORWARD", "DROP")
        write("/proc/sys/net/bridge/bridge-nf-call-iptables", "1")
        yield


@contextmanager
def outside(folder: str, route_back: str | None = None) -> Iterator[str]:
    """A namespace linked to this (private) host by a veth, 198.18.0.2/24 <-> 198.18.0.1/24."""
    path = os.path.join(folder, "outside")
    fd, sock = netns.new()
    sock.close()
    try:
        netns.attach(fd, path)
    finally:
        os.close(fd)
    ipr = IPRoute()
    try:
        nsfd = os.open(path, os.O_RDONLY)
        try:
            ipr.link("add", ifname="dyout0", kind="veth", peer={"ifname": "eth0", "net_ns_fd": nsfd})
        finally:
            os.close(nsfd)
        index = ipr.link_lookup(ifname="dyout0")[0]
        ipr.addr("add", index=index, address=OUTSIDE_HOST, prefixlen=24)
        ipr.link("set", index=index, state="up")
        in_netns(path, "ip", "addr", "add", f"{OUTSIDE_PEER}/24", "dev", "eth0", check=True)
        in_netns(path, "ip", "link", "set", "eth0", "up", check=True)
        if route_back:
            in_netns(path, "ip", "route", "add", route_back, "via", OUTSIDE_HOST, check=True)
        write("/proc/sys/net/ipv4/ip_forward", "1")
        yield path
    finally:
        ipr.close()
        netns.remove(path)  # frees eth0, and dyout0 with it


def sandboxes(manager: NetworkManager) -> tuple[str, str, str, str]:
    a = manager.create_sandbox("left", "bridge")
    b = manager.create_sandbox("right", "bridge")
    assert a.netns_path is not None and b.netns_path is not None
    return a.netns_path, a.ip, b.netns_path, b.ip


def test_containers_talk_under_a_forward_drop_policy(make_manager: ManagerFactory) -> None:
    with docker_like_host():
        manager = make_manager()
        try:
            a_path, a_ip, b_path, b_ip = sandboxes(manager)
            assert ping(a_path, b_ip) and ping(b_path, a_ip)

            # Without our jump, dockerd's DROP policy stops bridged frames: the rules matter.
            iptables("-D", "FORWARD", "-j", "DOCKYARD-FORWARD")
            assert not ping(a_path, b_ip, wait=1)
            manager.start()  # idempotent: puts the rules back
            assert iptables("-S", "FORWARD").stdout.count("-j DOCKYARD-FORWARD") == 1
            assert ping(a_path, b_ip)
        finally:
            manager.teardown()
        assert "DOCKYARD" not in iptables("-S").stdout


def test_isolate_drops_forwarding_out_of_the_bridge(make_manager: ManagerFactory, tmp_path: object) -> None:
    with docker_like_host():
        manager = make_manager(isolate=False)
        try:
            subnet = manager.networks()[0]["IPAM"]["Config"][0]["Subnet"]
            with outside(str(tmp_path), route_back=subnet):
                a_path, _, _, _ = sandboxes(manager)
                assert ping(a_path, OUTSIDE_PEER), "without isolate the routed path works"
                manager.options.isolate = True
                manager.start()
                assert not ping(a_path, OUTSIDE_PEER, wait=1)
                rules = iptables("-S", f"DOCKYARD-FWD-{manager.options.bridge}").stdout
                assert f"-i {manager.options.bridge} ! -o {manager.options.bridge} -j DROP" in rules
                counters = iptables("-L", f"DOCKYARD-FWD-{manager.options.bridge}", "-v", "-x", "-n").stdout
                drop = next(line for line in counters.splitlines() if "DROP" in line)
                assert int(drop.split()[0]) >= 1, counters
        finally:
            manager.teardown()


def test_masquerade_nats_the_subnet_and_enables_forwarding(
    make_manager: ManagerFactory, tmp_path: object
) -> None:
    with docker_like_host():
        write("/proc/sys/net/ipv4/ip_forward", "0")
        manager = make_manager(masquerade=True, isolate=False)
        try:
            assert read("/proc/sys/net/ipv4/ip_forward") == "1"
            name = manager.options.bridge
            subnet = manager.networks()[0]["IPAM"]["Config"][0]["Subnet"]
            nat = iptables("-t", "nat", "-S", f"DOCKYARD-NAT-{name}").stdout
            assert f"-A DOCKYARD-NAT-{name} -s {subnet} ! -o {name} -j MASQUERADE" in nat
            assert "-j DOCKYARD-POSTROUTING" in iptables("-t", "nat", "-S", "POSTROUTING").stdout
            # The outside knows no route to the containers: replies come back only through NAT.
            with outside(str(tmp_path)):
                a_path, _, _, _ = sandboxes(manager)
                assert ping(a_path, OUTSIDE_PEER)
        finally:
            manager.teardown()
        assert "DOCKYARD" not in iptables("-t", "nat", "-S").stdout
