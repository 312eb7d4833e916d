"""/etc/hosts and /etc/hostname in dockerd's layout."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.network import etcfiles


def test_hosts_has_localhost_ipv6_names_extra_hosts_then_the_container() -> None:
    text = etcfiles.hosts("web", "", "172.17.0.2", ["db:192.0.2.7", "v6:2001:db8::7"], "172.17.0.1")
    lines = text.splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost"
    assert lines[1] == "::1\tlocalhost ip6-localhost ip6-loopback"
    assert "ff02::2\tip6-allrouters" in lines
    assert lines[-3:] == ["192.0.2.7\tdb", "2001:db8::7\tv6", "172.17.0.2\tweb"]
    assert text.endswith("\n")


def test_domainname_and_host_gateway() -> None:
    text = etcfiles.hosts("web", "example.org", "172.17.0.2", ["gw:host-gateway"], "172.17.0.1")
    assert "172.17.0.1\tgw\n" in text
    assert text.endswith("172.17.0.2\tweb.example.org web\n")


def test_no_address_no_own_line() -> None:
    assert etcfiles.hosts("quiet", "", "", [], None) == etcfiles.DEFAULT_HOSTS


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("nocolon", "use name:ip"),
        (":192.0.2.1", "use name:ip"),
        ("db:not-an-ip", "'not-an-ip' is not an IP address"),
    ],
)
def test_bad_extra_hosts(entry: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        etcfiles.hosts("h", "", "172.17.0.2", [entry], "172.17.0.1")


def test_host_gateway_without_a_gateway() -> None:
    with pytest.raises(InvalidArgument, match="host-gateway"):
        etcfiles.parse_extra_host("gw:host-gateway", None)


def test_hostname_file() -> None:
    assert etcfiles.hostname_file("abc123") == "abc123\n"
