"""What the network tests share: managers on bridges of their own, a private "host" namespace,
and commands run inside a sandbox's namespace. Its own tests check the harness itself.

    make_manager      fixture (a test module imports make_manager_fixture to use it); factory
                      ``make_manager(**options) -> NetworkManager`` (started), on a bridge named
                      dy<pid>x<n>, masquerade off, isolate on, data and exec roots in a temp
                      folder; every manager made is torn down in ``finally``
    private_netns()   context manager: this thread moves into a fresh network namespace (lo up)
                      and back; what the test builds there (bridges, routes, iptables rules)
                      dies with it. Used where a test changes what the whole namespace sees:
                      the FORWARD policy, routes that would collide with other bridges.
    in_netns(path, *argv)   busybox argv run in the namespace mounted at ``path``
    other_host        fixture (import other_host_fixture): a namespace linked to the real host
                      by a veth pair, (its netns path, the host's address on the link), standing
                      for another host that reaches published ports through DNAT

Traffic stays on namespaces and bridges the tests make: every manager runs with isolate=True,
and the private namespaces have no link to the outside at all.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pyroute2 import IPRoute

from dockyard.network import rtnl, veth
from dockyard.network.manager import NetworkManager
from dockyard.network.options import NetworkOptions
from dockyard.util import syscalls
from tests.conftest import remove_tree

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("network tests need root", allow_module_level=True)

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
_names = itertools.count()
ManagerFactory = Callable[..., NetworkManager]


def bridge_name() -> str:
    """dy<pid><n>: unique across parallel test processes, within the kernel's 15 characters."""
    return f"dy{os.getpid()}x{next(_names)}"[:15]


@pytest.fixture(name="make_manager")
def make_manager_fixture() -> Iterator[ManagerFactory]:
    made: list[NetworkManager] = []
    folders: list[str] = []

    def factory(root: str | None = None, start: bool = True, **options: Any) -> NetworkManager:
        if root is None:
            root = tempfile.mkdtemp(prefix="dockyard-net-")
            folders.append(root)
        options.setdefault("bridge", bridge_name())
        options.setdefault("masquerade", False)
        options.setdefault("isolate", True)
        manager = NetworkManager(Path(root) / "data", Path(root) / "exec", NetworkOptions(**options))
        made.append(manager)
        if start:
            manager.start()
        return manager

    try:
        yield factory
    finally:
        for manager in reversed(made):
            manager.teardown()
        for folder in folders:
            remove_tree(folder)


@contextmanager
def private_netns() -> Iterator[None]:
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        syscalls.unshare(syscalls.CLONE_NEWNET)
        try:
            with rtnl.open_socket() as sock:
                veth.loopback_up(sock)
            yield
        finally:
            syscalls.setns(home, syscalls.CLONE_NEWNET)
    finally:
        os.close(home)


def in_netns(
    path: str, *argv: str, timeout: float = 10, check: bool = False
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsenter", f"--net={path}", BUSYBOX, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def ping(path: str | None, address: str, wait: int = 2) -> bool:
    """One ICMP echo from the namespace at ``path`` (None: this thread's namespace)."""
    argv = ["ping", "-c", "1", "-W", str(wait), address]
    if path is None:
        return subprocess.run([BUSYBOX, *argv], capture_output=True, timeout=wait + 5).returncode == 0
    return in_netns(path, *argv, timeout=wait + 5).returncode == 0


def links() -> set[str]:
    """Link names in this thread's namespace (/sys/class/net shows sysfs's mounter's instead)."""
    with open("/proc/thread-self/net/dev", encoding="ascii") as f:
        return {line.split(":", 1)[0].strip() for line in f.readlines()[2:]}


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``predicate``: the kernel frees a namespace's links asynchronously (cleanup_net)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture(name="other_host")
def other_host_fixture() -> Iterator[tuple[str, str]]:
    """A network namespace linked to this host by a veth pair: (its netns path, the host's
    address on the link). 198.18.0.0/15 (RFC 2544, benchmarking) is routed nowhere here."""
    n = os.getpid() % 250
    host_if, peer_if = f"oh{os.getpid()}"[:15], f"ohp{os.getpid()}"[:15]
    holder = subprocess.Popen(["unshare", "--net", BUSYBOX, "sleep", "120"])
    path = f"/proc/{holder.pid}/ns/net"
    ipr = IPRoute()
    try:
        for _ in range(100):  # until unshare has made the namespace
            if os.readlink(path) != os.readlink("/proc/self/ns/net"):
                break
            time.sleep(0.01)
        ipr.link("add", ifname=host_if, kind="veth", peer=peer_if)
        peer = ipr.link_lookup(ifname=peer_if)[0]
        ipr.link("set", index=peer, net_ns_pid=holder.pid)
        index = ipr.link_lookup(ifname=host_if)[0]
        ipr.addr("add", index=index, address=f"198.18.{n}.1", prefixlen=30)
        ipr.link("set", index=index, state="up")
        for argv in (
            ["ip", "link", "set", peer_if, "up"],
            ["ip", "link", "set", "lo", "up"],
            ["ip", "addr", "add", f"198.18.{n}.2/30", "dev", peer_if],
        ):
            subprocess.run(["nsenter", f"--net={path}", BUSYBOX, *argv], check=True)
        yield path, f"198.18.{n}.1"
    finally:
        found = ipr.link_lookup(ifname=host_if)
        if found:
            ipr.link("del", index=found[0])
        ipr.close()
        holder.kill()
        holder.wait()


def netns_inode(path: str) -> int:
    return os.stat(path).st_ino


def test_private_netns_returns_to_the_hosts_namespace() -> None:
    before = os.readlink("/proc/thread-self/ns/net")
    with private_netns():
        inside = os.readlink("/proc/thread-self/ns/net")
        assert inside != before
        assert links() == {"lo"}
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("127.0.0.1", 9))  # lo is up: a local route exists
    assert os.readlink("/proc/thread-self/ns/net") == before


def test_make_manager_tears_down_its_bridge(make_manager: ManagerFactory) -> None:
    manager = make_manager()
    name = manager.options.bridge
    assert name in links()
    manager.teardown()
    assert name not in links()
