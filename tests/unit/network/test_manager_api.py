"""What the manager answers without touching the kernel: Network JSON, lookups, files."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import Conflict, NotFound
from dockyard.network.manager import NetworkManager
from dockyard.network.options import NetworkOptions
from dockyard.network.sandbox import Endpoint, Sandbox

KEYS = {
    "Name", "Id", "Created", "Scope", "Driver", "EnableIPv6", "IPAM", "Internal",
    "Attachable", "Ingress", "ConfigFrom", "ConfigOnly", "Containers", "Options", "Labels",
}  # fmt: skip


@pytest.fixture
def manager(tmp_path: Path) -> NetworkManager:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\nsearch example.org\n")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1\tlocalhost\n192.0.2.9\tbuildhost\n")
    options = NetworkOptions(bridge="dytest0", resolv_conf=str(resolv), hosts_file=str(hosts))
    return NetworkManager(tmp_path / "data", tmp_path / "exec", options)


def test_builtin_networks_json(manager: NetworkManager) -> None:
    nets = {n["Name"]: n for n in manager.networks()}
    assert set(nets) == {"bridge", "host", "none"}
    for net in nets.values():
        assert set(net) == KEYS
        assert net["Scope"] == "local" and len(net["Id"]) == 64
        assert net["IPAM"]["Driver"] == "default" and net["ConfigFrom"] == {"Network": ""}
    assert (nets["bridge"]["Driver"], nets["host"]["Driver"], nets["none"]["Driver"]) == (
        "bridge",
        "host",
        "null",
    )
    opts = nets["bridge"]["Options"]
    assert opts["com.docker.network.bridge.name"] == "dytest0"
    assert opts["com.docker.network.bridge.default_bridge"] == "true"
    assert opts["com.docker.network.driver.mtu"] == "1500"
    assert nets["host"]["Options"] == {} and nets["host"]["IPAM"]["Config"] == []


def test_containers_are_listed_on_their_network(manager: NetworkManager) -> None:
    manager.networks()  # opens the store
    ep = Endpoint("bridge", "n" * 64, "e" * 64, ip="172.17.0.2", prefixlen=16, mac="m", builtin=True)
    manager.state.sandboxes["c1"] = Sandbox(cid="c1", mode="bridge", netns_path="/x", endpoints=[ep])
    host_ep = Endpoint("host", "h" * 64, "f" * 64, ifname="", builtin=True)
    manager.state.sandboxes["c2"] = Sandbox(cid="c2", mode="host", netns_path=None, endpoints=[host_ep])
    nets = {n["Name"]: n for n in manager.networks({"c1": "/web"})}
    assert nets["bridge"]["Containers"] == {
        "c1": {
            "Name": "web",
            "EndpointID": "e" * 64,
            "MacAddress": "m",
            "IPv4Address": "172.17.0.2/16",
            "IPv6Address": "",
        }
    }
    assert nets["host"]["Containers"]["c2"]["IPv4Address"] == "" and nets["none"]["Containers"] == {}


def test_network_lookup_by_name_id_and_prefix(manager: NetworkManager) -> None:
    nets = {n["Name"]: n for n in manager.networks()}
    bridge_id = nets["bridge"]["Id"]
    assert manager.network("bridge")["Id"] == bridge_id
    assert manager.network(bridge_id)["Name"] == "bridge"
    assert manager.network(bridge_id[:12])["Name"] == "bridge"
    with pytest.raises(NotFound, match="network nosuch not found"):
        manager.network("nosuch")
    if nets["host"]["Id"][0] == bridge_id[0]:  # a one-character prefix may match two networks
        with pytest.raises(Conflict):
            manager.network(bridge_id[0])


def test_write_files_for_a_bridge_container(manager: NetworkManager, tmp_path: Path) -> None:
    ep = Endpoint("bridge", "n" * 64, "e" * 64, ip="172.17.0.5", prefixlen=16, gateway="172.17.0.1")
    sb = Sandbox(cid="c1", mode="bridge", netns_path="/x", endpoints=[ep])
    dest = tmp_path / "containers" / "c1"
    files = manager.write_files("c1", sb, dest, "c1host", "", [], ["gw:host-gateway"])
    assert files == {
        "/etc/hostname": dest / "hostname",
        "/etc/hosts": dest / "hosts",
        "/etc/resolv.conf": dest / "resolv.conf",
    }
    assert (dest / "hostname").read_text() == "c1host\n"
    hosts = (dest / "hosts").read_text()
    assert hosts.startswith("127.0.0.1\tlocalhost\n") and hosts.endswith(
        "172.17.0.1\tgw\n172.17.0.5\tc1host\n"
    )
    resolv = (dest / "resolv.conf").read_text()
    assert "nameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch example.org\n" in resolv  # 127.0.0.1 removed
    manager.write_files(
        "c1", sb, dest, "c1host", dns=["192.0.2.53"], dns_search=["."], dns_options=["ndots:1"]
    )
    resolv = (dest / "resolv.conf").read_text()
    assert "nameserver 192.0.2.53\noptions ndots:1\n" in resolv and "search" not in resolv.split("\n", 1)[1]


def test_write_files_for_host_and_none(manager: NetworkManager, tmp_path: Path) -> None:
    host = Sandbox(cid="h", mode="host", netns_path=None)
    manager.write_files("h", host, tmp_path / "h", "buildhost", extra_hosts=["db:192.0.2.7"])
    assert (
        tmp_path / "h" / "hosts"
    ).read_text() == "127.0.0.1\tlocalhost\n192.0.2.9\tbuildhost\n192.0.2.7\tdb\n"
    assert "nameserver 127.0.0.1" in (tmp_path / "h" / "resolv.conf").read_text()  # shares the host's lo
    none = Sandbox(cid="n", mode="none", netns_path="/x/n")
    manager.write_files("n", none, tmp_path / "n", "quiet")
    assert "quiet" not in (tmp_path / "n" / "hosts").read_text()
