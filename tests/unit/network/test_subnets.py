"""The default pool's order and the choice of a subnet that overlaps nothing."""

from __future__ import annotations

import ipaddress

import pytest

from dockyard.errors import Conflict
from dockyard.network import subnets

N = ipaddress.IPv4Network


def test_pool_is_dockers_order() -> None:
    pool = subnets.default_pool()
    assert pool[0] == N("172.17.0.0/16") and pool[14] == N("172.31.0.0/16")
    assert pool[15] == N("192.168.0.0/20") and pool[-1] == N("192.168.240.0/20")
    assert len(pool) == 15 + 16


def test_choice_skips_overlapping_routes_and_ignores_the_default_route() -> None:
    taken = [N("0.0.0.0/0"), N("172.17.0.0/16"), N("172.18.5.0/24")]
    assert subnets.choose_subnet(taken) == N("172.19.0.0/16")
    assert subnets.choose_subnet([N("172.16.0.0/12")]) == N("192.168.0.0/20")
    assert subnets.choose_subnet([]) == N("172.17.0.0/16")


def test_overlap_names_the_colliding_route() -> None:
    assert subnets.overlap(N("10.0.0.0/16"), [N("192.0.2.0/24"), N("10.0.3.0/24")]) == N("10.0.3.0/24")
    assert subnets.overlap(N("10.0.0.0/16"), [N("10.1.0.0/16")]) is None


def test_no_free_subnet_says_how_to_choose_one() -> None:
    with pytest.raises(Conflict, match="overlaps a route of this host"):
        subnets.choose_subnet([N("172.16.0.0/12"), N("192.168.0.0/16")])


def test_gateway_is_the_first_host() -> None:
    assert str(subnets.gateway_of(N("172.17.0.0/16"))) == "172.17.0.1"
