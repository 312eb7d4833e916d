"""The default bridge on this host's real kernel: sandboxes that reach each other and the host,
leave nothing behind, and keep their leases across a new manager (a daemon restart)."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from pyroute2 import IPRoute

from dockyard.errors import Conflict, InvalidArgument
from dockyard.network import netns
from tests.integration.test_network_harness import (
    BUSYBOX,
    ManagerFactory,
    in_netns,
    links,
    make_manager_fixture,  # noqa: F401 (the make_manager fixture)
    ping,
    private_netns,
    wait_until,
)

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("network tests need root", allow_module_level=True)


def test_two_sandboxes_reach_each_other_and_the_host(make_manager: ManagerFactory) -> None:
    manager = make_manager()
    a = manager.create_sandbox("alpha", "bridge", "alpha")
    b = manager.create_sandbox("beta", "default", "beta")
    assert a.netns_path is not None and b.netns_path is not None
    assert a.ip != b.ip and a.gateway == b.gateway
    assert ping(a.netns_path, b.ip) and ping(b.netns_path, a.ip)
    assert ping(None, a.ip), "host -> container over the bridge"
    assert ping(a.netns_path, a.gateway), "container -> host's gateway address"

    # TCP through the bridge: busybox nc listens in beta, alpha sends a line.
    server = subprocess.Popen(
        ["nsenter", f"--net={b.netns_path}", BUSYBOX, "nc", "-l", "-p", "5555"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        sent = False
        for _ in range(50):  # until the listener is up
            proc = subprocess.run(
                ["nsenter", f"--net={a.netns_path}", BUSYBOX, "nc", "-w", "2", b.ip, "5555"],
                input="hello over the bridge\n",
                capture_output=True,
                text=True,
                timeout=10,
            )
            if proc.returncode == 0:
                sent = True
                break
            time.sleep(0.05)
        assert sent
        out, _ = server.communicate(timeout=10)
        assert out == "hello over the bridge\n"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_bridge_sandbox_has_eth0_lo_and_a_default_route(make_manager: ManagerFactory) -> None:
    manager = make_manager()
    sb = manager.create_sandbox("inside", "bridge")
    assert sb.netns_path == str(manager.netns_dir / "inside")
    assert netns.is_mounted(sb.netns_path)
    ip = ipaddress.IPv4Address(sb.ip)
    assert sb.mac == "02:42:" + ":".join(f"{b:02x}" for b in ip.packed)
    assert sb.veth.startswith("veth") and len(sb.veth) == 11 and sb.veth in links()
    with open(f"/sys/class/net/{sb.veth}/master/uevent", encoding="ascii") as f:
        assert f"INTERFACE={manager.options.bridge}" in f.read()

    addrs = in_netns(sb.netns_path, "ip", "-o", "addr", "show", check=True).stdout
    assert f"inet {sb.ip}/{sb.prefixlen}" in addrs
    assert "inet 127.0.0.1/8" in addrs
    link = in_netns(sb.netns_path, "ip", "link", "show", "eth0", check=True).stdout
    assert sb.mac in link and "UP" in link and "mtu 1500" in link
    routes = in_netns(sb.netns_path, "ip", "route", check=True).stdout
    assert f"default via {sb.gateway} dev eth0" in routes
    assert ping(sb.netns_path, "127.0.0.1")


def test_none_has_only_loopback_and_host_has_no_namespace(make_manager: ManagerFactory) -> None:
    manager = make_manager()
    none = manager.create_sandbox("lonely", "none")
    assert none.netns_path is not None and none.ip == "" and none.veth == ""
    out = in_netns(none.netns_path, "ip", "-o", "link", "show", check=True).stdout
    names = [line.split(":")[1].strip() for line in out.splitlines()]
    assert names[0] == "lo" and "eth0" not in names
    assert "UP" in out.splitlines()[0]
    assert ping(none.netns_path, "127.0.0.1")

    host = manager.create_sandbox("hosted", "host")
    assert host.netns_path is None and host.ip == ""
    assert not (manager.netns_dir / "hosted").exists()

    with pytest.raises(InvalidArgument, match="container:<id>"):
        manager.create_sandbox("joiner", "container:abc")
    with pytest.raises(InvalidArgument, match="invalid container id"):
        manager.create_sandbox("../escape", "bridge")


def test_remove_leaves_no_link_mount_or_lease(make_manager: ManagerFactory) -> None:
    manager = make_manager()
    before = links()
    modes = ["bridge", "bridge", "none"]
    sandboxes = [manager.create_sandbox(f"gone{i}", mode) for i, mode in enumerate(modes)]
    paths = [sb.netns_path for sb in sandboxes]
    veths = {sb.veth for sb in sandboxes if sb.veth}
    assert veths <= links()
    for sb in sandboxes:
        manager.remove_sandbox(sb.cid)
        manager.remove_sandbox(sb.cid)  # idempotent
    for path in paths:
        assert path is not None and not os.path.exists(path)
    # The kernel frees each namespace, its eth0 and so the veth pair, in its cleanup work.
    assert wait_until(lambda: not (veths & links())), veths & links()
    assert manager.sandboxes() == []
    assert manager.networks()[0]["Containers"] == {}
    # Only the manager's spare (made ahead for the next container) may be new on the host. This
    # manager makes no user network: a br-<id> that appears meanwhile is another daemon's (the
    # session's daemon serves other tests), not this removal's leftover.
    extra = {name for name in links() - before if not name.startswith("br-")}
    assert len(extra) <= 1 and all(name.startswith("veth") for name in extra), extra


def test_replacing_a_sandbox_for_the_same_container(make_manager: ManagerFactory) -> None:
    manager = make_manager()
    first = manager.create_sandbox("again", "bridge")
    second = manager.create_sandbox("again", "bridge")  # e.g. a restart after a crash
    assert second.ip != first.ip
    assert [sb.cid for sb in manager.sandboxes()] == ["again"]
    assert second.netns_path is not None and ping(second.netns_path, second.gateway)


def test_leases_survive_a_new_manager_and_are_never_doubled(make_manager: ManagerFactory) -> None:
    first = make_manager()
    root = str(first.state_path.parent.parent.parent)
    a = first.create_sandbox("keep", "bridge")
    b = first.create_sandbox("drop", "bridge")
    first.remove_sandbox("drop")
    first.stop()  # as at daemon stop: the bridge, its rules and the sandboxes stay

    second = make_manager(root=root, bridge=first.options.bridge)
    kept = second.get_sandbox("keep")
    assert kept is not None and kept.ip == a.ip and kept.veth == a.veth
    c = second.create_sandbox("new", "bridge")
    # Sequential allocation resumes after the last address handed out, so neither the live
    # lease nor the one just released is given again.
    assert c.ip not in (a.ip, b.ip)
    assert ipaddress.IPv4Address(c.ip) > ipaddress.IPv4Address(b.ip)
    assert a.netns_path is not None and c.netns_path is not None
    assert ping(c.netns_path, a.ip), "the surviving sandbox still works with the new manager"
    second.teardown()
    first.teardown()


def test_start_forgets_sandboxes_whose_namespace_is_gone(make_manager: ManagerFactory) -> None:
    first = make_manager()
    root = str(first.state_path.parent.parent.parent)
    sb = first.create_sandbox("rebooted", "bridge")
    first.stop()
    assert sb.netns_path is not None
    netns.remove(sb.netns_path)  # what a reboot does to the exec root under /run

    second = make_manager(root=root, bridge=first.options.bridge)
    assert second.get_sandbox("rebooted") is None
    assert wait_until(lambda: sb.veth not in links())


def test_teardown_removes_bridge_rules_and_namespaces(make_manager: ManagerFactory) -> None:
    manager = make_manager()
    name = manager.options.bridge
    sb = manager.create_sandbox("last", "bridge")
    assert name in links()
    chain = f"DOCKYARD-FWD-{name}"
    assert subprocess.run(["iptables", "-w", "-S", chain], capture_output=True).returncode == 0
    manager.teardown()
    assert name not in links()
    assert subprocess.run(["iptables", "-w", "-S", chain], capture_output=True).returncode != 0
    assert sb.netns_path is not None and not os.path.exists(sb.netns_path)
    forward = subprocess.run(["iptables", "-w", "-S", "DOCKYARD-FORWARD"], capture_output=True, text=True)
    assert f"DOCKYARD-FWD-{name}" not in forward.stdout
    assert wait_until(lambda: sb.veth not in links())
    manager.teardown()  # idempotent


def test_a_non_bridge_link_of_that_name_is_refused(make_manager: ManagerFactory) -> None:
    with private_netns(), IPRoute() as ipr:
        ipr.link("add", ifname="dytaken", kind="veth", peer="dytakenp")
        manager = make_manager(start=False, bridge="dytaken")
        try:
            with pytest.raises(Conflict, match=r"dytaken as the bridge: .* is a veth, not a bridge"):
                manager.start()
        finally:
            ipr.link("del", ifname="dytaken")


def test_parallel_creates_get_distinct_addresses_and_leave_nothing(make_manager: ManagerFactory) -> None:
    manager = make_manager()

    def one(i: int) -> tuple[str, str]:
        sb = manager.create_sandbox(f"par{i}", "bridge" if i % 5 else "none")
        return sb.ip, sb.veth

    with ThreadPoolExecutor(max_workers=16) as pool:
        made = list(pool.map(one, range(50)))
    ips = [ip for ip, _ in made if ip]
    assert len(ips) == 40 and len(set(ips)) == 40
    assert len(manager.sandboxes()) == 50
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(manager.remove_sandbox, [f"par{i}" for i in range(50)]))
    assert manager.sandboxes() == [] and os.listdir(manager.netns_dir) == []
    veths = {v for _, v in made if v}
    assert wait_until(lambda: not (veths & links()), timeout=10)
