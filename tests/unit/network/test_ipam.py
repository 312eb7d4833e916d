"""Sequential allocation: never the gateway, never a held address, a released one only after
the rest of the subnet."""

from __future__ import annotations

import ipaddress

import pytest

from dockyard.errors import Conflict
from dockyard.network.ipam import allocate

A = ipaddress.IPv4Address
NET = ipaddress.IPv4Network("172.17.0.0/16")
GW = A("172.17.0.1")


def test_first_address_follows_the_gateway() -> None:
    assert allocate(NET, GW, set(), None) == A("172.17.0.2")


def test_resumes_after_the_last_and_skips_held_ones() -> None:
    used = {A("172.17.0.2"), A("172.17.0.4")}
    assert allocate(NET, GW, used, A("172.17.0.3")) == A("172.17.0.5")
    assert allocate(NET, GW, used, A("172.17.0.1")) == A("172.17.0.3")


def test_a_released_address_waits_for_the_rest_of_the_subnet() -> None:
    # .2 was handed out and released; the last one given was .2: the next is .3, not .2.
    assert allocate(NET, GW, set(), A("172.17.0.2")) == A("172.17.0.3")


def test_wraps_around_past_the_broadcast_address() -> None:
    small = ipaddress.IPv4Network("10.9.0.0/29")  # hosts .1-.6, gateway .1
    assert allocate(small, A("10.9.0.1"), set(), A("10.9.0.6")) == A("10.9.0.2")
    assert allocate(small, A("10.9.0.1"), {A("10.9.0.2")}, A("10.9.0.6")) == A("10.9.0.3")


def test_a_last_address_outside_the_subnet_is_ignored() -> None:
    assert allocate(NET, GW, set(), A("10.0.0.9")) == A("172.17.0.2")


def test_full_subnet_is_a_conflict() -> None:
    small = ipaddress.IPv4Network("10.9.0.0/30")  # hosts .1 (gateway) and .2
    assert allocate(small, A("10.9.0.1"), set(), None) == A("10.9.0.2")
    with pytest.raises(Conflict, match=r"no free address in subnet 10\.9\.0\.0/30"):
        allocate(small, A("10.9.0.1"), {A("10.9.0.2")}, None)
