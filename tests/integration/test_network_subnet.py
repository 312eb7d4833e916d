"""The bridge's subnet: the first of the pool that no route, address or nameserver of the host
overlaps. Each test builds its routes in a private namespace, so they cannot disturb the real
host's bridges (docker0, other tests')."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pyroute2 import IPRoute

from dockyard.errors import Conflict
from dockyard.network.manager import NetworkManager
from tests.integration.test_network_harness import (
    ManagerFactory,
    make_manager_fixture,  # noqa: F401 (the make_manager fixture)
    ping,
    private_netns,
)

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("network tests need root", allow_module_level=True)


@contextmanager
def dummy_routes(*destinations: str) -> Iterator[None]:
    """A link, up, with a route to each destination (in this thread's namespace). A veth pair:
    this kernel has no dummy driver."""
    with IPRoute() as ipr:
        ipr.link("add", ifname="dydummy", kind="veth", peer="dydummyp")
        index = ipr.link_lookup(ifname="dydummy")[0]
        ipr.link("set", index=index, state="up")
        ipr.link("set", index=ipr.link_lookup(ifname="dydummyp")[0], state="up")
        for dst in destinations:
            ipr.route("add", dst=dst, oif=index)
        try:
            yield
        finally:
            ipr.link("del", index=index)


def subnet_of(manager: NetworkManager) -> str:
    return str(manager.networks()[0]["IPAM"]["Config"][0]["Subnet"])


def test_first_pool_subnet_on_an_empty_host(make_manager: ManagerFactory) -> None:
    with private_netns():
        manager = make_manager()
        try:
            assert subnet_of(manager) == "172.17.0.0/16"
            assert manager.networks()[0]["IPAM"]["Config"][0]["Gateway"] == "172.17.0.1"
        finally:
            manager.teardown()


def test_a_route_pushes_the_choice_to_the_next_subnet(make_manager: ManagerFactory) -> None:
    with private_netns(), dummy_routes("172.17.0.0/16"):
        manager = make_manager()
        try:
            assert subnet_of(manager) == "172.18.0.0/16"
            sb = manager.create_sandbox("c", "bridge")
            assert sb.ip == "172.18.0.2" and sb.netns_path is not None
            assert ping(sb.netns_path, sb.gateway)
        finally:
            manager.teardown()


def test_a_wide_route_skips_the_whole_172_pool(make_manager: ManagerFactory) -> None:
    with private_netns(), dummy_routes("172.16.0.0/12", "192.168.0.0/24"):
        manager = make_manager()
        try:
            assert subnet_of(manager) == "192.168.16.0/20"
        finally:
            manager.teardown()


def test_a_second_bridge_sees_the_first_and_a_nameserver_is_avoided(
    make_manager: ManagerFactory, tmp_path: Path
) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 172.17.0.53\n")
    with private_netns():
        first = make_manager(resolv_conf=str(resolv))
        second = make_manager()
        try:
            assert subnet_of(first) == "172.18.0.0/16"  # 172.17 holds the nameserver
            assert subnet_of(second) == "172.17.0.0/16"
            third = make_manager()
            assert subnet_of(third) == "172.19.0.0/16"  # the first two bridges' routes
            third.teardown()
        finally:
            second.teardown()
            first.teardown()


def test_configured_subnet_and_its_collisions(make_manager: ManagerFactory) -> None:
    with private_netns(), dummy_routes("10.200.0.0/16"):
        manager = make_manager(subnet="10.201.0.0/24")
        try:
            assert subnet_of(manager) == "10.201.0.0/24"
            assert manager.create_sandbox("c", "bridge").ip == "10.201.0.2"
        finally:
            manager.teardown()
        bip = make_manager(subnet="10.202.0.9/24")  # dockerd's --bip form: the gateway itself
        try:
            assert bip.networks()[0]["IPAM"]["Config"] == [
                {"Subnet": "10.202.0.0/24", "Gateway": "10.202.0.9"}
            ]
            sb = bip.create_sandbox("c", "bridge")
            assert sb.gateway == "10.202.0.9" and sb.ip == "10.202.0.1" and sb.netns_path is not None
            assert ping(sb.netns_path, sb.gateway)
        finally:
            bip.teardown()
        clashing = make_manager(start=False, subnet="10.200.128.0/24")
        with pytest.raises(Conflict, match=r"overlaps 10\.200\.0\.0/16"):
            clashing.start()
        clashing.teardown()


def test_the_subnet_is_kept_across_restarts(make_manager: ManagerFactory) -> None:
    with private_netns():
        first = make_manager()
        root = str(first.state_path.parent.parent.parent)
        try:
            assert subnet_of(first) == "172.17.0.0/16"
            first.stop()
            # Another bridge takes the next subnet meanwhile; ours keeps its own address.
            other = make_manager()
            again = make_manager(root=root, bridge=first.options.bridge)
            assert subnet_of(again) == "172.17.0.0/16"
            assert subnet_of(other) == "172.18.0.0/16"
            other.teardown()
        finally:
            first.teardown()
