"""IPv6 on a user network (`network create --ipv6`): a ULA subnet picked or given, containers
with IPv6 addresses and a route, AAAA answers from the embedded DNS, inspect's IPv6 fields."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

pytestmark = pytest.mark.root

if os.geteuid() != 0 or not os.path.exists("/proc/sys/net/ipv6"):
    pytest.skip("IPv6 network tests need root and a kernel with IPv6", allow_module_level=True)


def test_ipv6_network(dockyard_daemon: Any) -> None:
    d = dockyard_daemon
    picked, given = f"v6a{os.getpid()}", f"v6b{os.getpid()}"
    made: list[str] = []
    try:
        d.docker("network", "create", "--ipv6", picked)
        config = json.loads(d.docker("network", "inspect", picked).stdout)[0]
        assert config["EnableIPv6"] is True
        subnets = [c["Subnet"] for c in config["IPAM"]["Config"]]
        assert any(s.startswith("fd") and s.endswith("/64") for s in subnets), subnets
        suffix = f"{os.getpid() % 65536:x}"
        d.docker("network", "create", "--ipv6", "--subnet", f"fd42:{suffix}::/64", given)
        server = f"six{os.getpid()}"
        ip6 = f"fd42:{suffix}::99"
        run = d.docker(
            "run", "-d", "--name", server, "--network", given, "--ip6", ip6, "busybox", "sleep", "300"
        )
        made.append(run.stdout.strip())
        settings = json.loads(d.docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", server).stdout)
        ep = settings[given]
        assert ep["GlobalIPv6Address"] == f"fd42:{suffix}::99" and ep["GlobalIPv6PrefixLen"] == 64
        assert ep["IPv6Gateway"] == f"fd42:{suffix}::1"
        out = d.docker(
            "run", "--rm", "--network", given, "busybox", "sh", "-c",
            f"ip -6 route; nslookup -type=aaaa {server}; ping -6 -c 1 -W 3 {server}",
        ).stdout  # fmt: skip
        assert f"default via fd42:{suffix}::1" in out
        assert f"fd42:{suffix}::99" in out and "1 packets received" in out, out
    finally:
        if made:
            d.docker("rm", "-f", *made, check=False)
        d.docker("network", "rm", picked, given, check=False)
