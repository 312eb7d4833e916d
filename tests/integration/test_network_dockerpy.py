"""docker-py's network API against dockyard, and the JSON it gets checked field by field against
the Engine API reference: Network, NetworkSettings and EndpointSettings of a container on a
user network with a published port."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.compat.api_schema import check

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("network tests need root", allow_module_level=True)

# dockerd leaves IPAMConfig's IPRange and AuxiliaryAddresses out (omitempty) when unset.
_IPAM_OMITTED = ("IPRange: missing", "AuxiliaryAddresses: missing")


def test_docker_py_networks_and_settings(dockyard_daemon: Any) -> None:
    client = dockyard_daemon.client()
    name = f"py{os.getpid()}"
    net = client.networks.create(name, driver="bridge", labels={"via": "docker-py"})
    box = None
    try:
        assert net.attrs["Labels"] == {"via": "docker-py"}
        problems = [p for p in check("Network", net.attrs) if not p.endswith(_IPAM_OMITTED)]
        assert problems == []
        box = client.containers.run(
            "busybox", ["sleep", "300"], detach=True, network=name, ports={"80/tcp": ("127.0.0.1", None)}
        )
        box.reload()
        settings = box.attrs["NetworkSettings"]
        assert check("NetworkSettings", settings) == []
        assert check("EndpointSettings", settings["Networks"][name]) == []
        [binding] = settings["Ports"]["80/tcp"]
        assert binding["HostIp"] == "127.0.0.1" and int(binding["HostPort"]) > 0
        net.reload()
        assert list(net.attrs["Containers"]) == [box.id]
        client.networks.get("bridge").connect(box)
        box.reload()
        assert set(box.attrs["NetworkSettings"]["Networks"]) == {name, "bridge"}
        assert name in [n.name for n in client.networks.list(filters={"label": "via=docker-py"})]
        net.disconnect(box)
        box.reload()
        assert set(box.attrs["NetworkSettings"]["Networks"]) == {"bridge"}
    finally:
        if box is not None:
            box.remove(force=True)
        net.remove()
    try:
        assert name not in [n.name for n in client.networks.list()]
    finally:
        client.close()
