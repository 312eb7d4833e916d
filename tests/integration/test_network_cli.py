"""`dockyard network ...` and the network flags of `dockyard run`, against a real daemon."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("network tests need root", allow_module_level=True)


def test_network_commands_and_run_flags(dockyard_daemon: Any) -> None:
    d = dockyard_daemon
    net = f"cli{os.getpid()}"
    box = f"clibox{os.getpid()}"
    try:
        mtu = "com.docker.network.driver.mtu=1400"
        nid = d.dockyard("network", "create", "--subnet", "10.235.3.0/24", "--gateway", "10.235.3.254",
                         "--label", "k=v", "-o", mtu, net).stdout.strip()  # fmt: skip
        assert len(nid) == 64
        listed = d.dockyard(
            "network", "ls", "--filter", "label=k=v", "--format", "{{.Name}} {{.Driver}}"
        ).stdout
        assert listed == f"{net} bridge\n"
        assert d.dockyard("network", "ls", "-q", "--filter", f"name={net}").stdout == nid[:12] + "\n"
        gateway = d.dockyard("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}", net).stdout
        assert gateway == "10.235.3.254\n"
        out = d.dockyard(
            "run", "--rm", "--name", box, "--network", net, "--ip", "10.235.3.9", "--network-alias", "al",
            "--hostname", "named", "--mac-address", "02:42:0a:eb:03:63", "--add-host", "gw:host-gateway",
            "--dns-option", "timeout:2",
            "busybox", "sh", "-c", "ip -o addr show eth0; ip -o link show eth0; "
            "cat /etc/hosts /etc/resolv.conf; nslookup al; cat /sys/class/net/eth0/mtu",
        ).stdout  # fmt: skip
        assert "10.235.3.9/24" in out and "02:42:0a:eb:03:63" in out
        assert "10.235.3.254\tgw" in out and "10.235.3.9\tnamed" in out
        assert "nameserver 10.235.3.254" in out and "options timeout:2" in out
        assert out.count("10.235.3.9") >= 3 and out.rstrip().endswith("1400")
        d.dockyard("run", "-d", "--name", box, "busybox", "sleep", "300")
        d.dockyard("network", "connect", "--alias", "late", net, box)
        members = json.loads(d.dockyard("network", "inspect", net).stdout)[0]["Containers"]
        assert [m["Name"] for m in members.values()] == [box]
        d.dockyard("network", "disconnect", net, box)
        assert json.loads(d.dockyard("network", "inspect", net).stdout)[0]["Containers"] == {}
        assert f"Deleted Networks:\n{net}\n" in d.dockyard("network", "prune", "-f").stdout
        missing = d.dockyard("network", "rm", net, check=False)
        assert missing.returncode == 1 and f"network {net} not found" in missing.stderr
        assert d.dockyard("network", "rm", "-f", net).returncode == 0
    finally:
        d.dockyard("rm", "-f", box, check=False)
        d.dockyard("network", "rm", "-f", net, check=False)
