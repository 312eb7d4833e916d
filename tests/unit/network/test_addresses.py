"""MACs and names derived for endpoints."""

from __future__ import annotations

import re

from dockyard.network import addresses


def test_mac_is_dockers_02_42_then_the_ipv4_bytes() -> None:
    assert addresses.mac_for_ip("172.17.0.2") == "02:42:ac:11:00:02"
    assert addresses.mac_for_ip("192.168.16.255") == "02:42:c0:a8:10:ff"


def test_random_mac_is_locally_administered_unicast() -> None:
    mac = addresses.random_mac()
    assert re.fullmatch(r"02:42(:[0-9a-f]{2}){4}", mac)


def test_veth_names_fit_ifnamsiz_and_differ() -> None:
    names = {addresses.veth_name() for _ in range(50)}
    assert len(names) == 50
    assert all(re.fullmatch(r"veth[0-9a-f]{7}", n) for n in names)


def test_ids_are_64_hex() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", addresses.new_id())
