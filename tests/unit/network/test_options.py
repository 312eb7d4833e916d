"""NetworkOptions checks: each error names the value and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.daemon import options as daemon_options
from dockyard.errors import InvalidArgument
from dockyard.network.options import NetworkOptions, parse_subnet


def test_defaults_are_valid() -> None:
    NetworkOptions().validate()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (NetworkOptions(bridge="a-name-longer-than-15"), "1 to 15 characters"),
        (NetworkOptions(bridge=""), "1 to 15 characters"),
        (NetworkOptions(bridge="br/0"), "invalid bridge name 'br/0'"),
        (NetworkOptions(bridge=".."), "invalid bridge name"),
        (NetworkOptions(subnet="300.1.0.0/16"), "CIDR form"),
        (NetworkOptions(subnet="172.17.0.0"), "/30 or shorter"),
        (NetworkOptions(subnet="172.17.255.255/16"), "broadcast address"),
        (NetworkOptions(subnet="10.0.0.0/31"), "/30 or shorter"),
        (NetworkOptions(mtu=50), "invalid MTU 50"),
    ],
)
def test_bad_options(options: NetworkOptions, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        options.validate()


def test_subnet_or_bridge_address() -> None:
    assert str(parse_subnet("10.1.0.0/16")) == "10.1.0.1/16"
    assert str(parse_subnet("10.1.0.1/16")) == "10.1.0.1/16"
    assert str(parse_subnet("10.1.7.9/16")) == "10.1.7.9/16"  # dockerd's --bip: the gateway itself


def test_firewall_backend_flag_and_config_key(tmp_path: Path) -> None:
    cfg = tmp_path / "daemon.json"
    cfg.write_text("{}\n")
    assert daemon_options.parse(["--config-file", str(cfg)]).firewall_backend == "auto"
    flag = daemon_options.parse(["--config-file", str(cfg), "--firewall-backend", "iptables"])
    assert flag.firewall_backend == "iptables"
    cfg.write_text(json.dumps({"firewall-backend": "nftables"}))
    assert daemon_options.parse(["--config-file", str(cfg)]).firewall_backend == "nftables"
    cfg.write_text(json.dumps({"firewall-backend": "pf"}))
    with pytest.raises(
        InvalidArgument, match="invalid firewall-backend 'pf': use auto, nftables or iptables"
    ):
        daemon_options.parse(["--config-file", str(cfg)])
