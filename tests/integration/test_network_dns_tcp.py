"""The embedded DNS over TCP, asked from inside a container's network namespace (nsenter + this
venv's Python, 2-byte-length framed queries to the gateway's port 53): a name of the container's
own network is answered with its address, a name of another network is not (NXDOMAIN: the test
daemon has no upstream), and a name many containers share comes back whole over TCP while the
UDP answer is cut short with the TC bit set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("network tests need root", allow_module_level=True)

ASK = """
import socket, struct, sys
from dockyard.network import dns_wire
gateway, proto = sys.argv[1], sys.argv[2]
for i, name in enumerate(sys.argv[3:]):
    q = struct.pack("!HHHHHH", i + 1, 0x0100, 1, 0, 0, 0) + dns_wire.encode_name(name)
    q += struct.pack("!HH", 1, 1)  # A, IN
    if proto == "tcp":
        with socket.create_connection((gateway, 53), timeout=5) as s:
            s.sendall(struct.pack("!H", len(q)) + q)
            f = s.makefile("rb")
            answer = f.read(struct.unpack("!H", f.read(2))[0])
    else:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(q, (gateway, 53))
            answer = s.recv(4096)
    flags, _, count = struct.unpack_from("!HHH", answer, 2)
    # Our A records close the answer, 16 bytes each (name pointer, type..rdlength, address).
    ips = [socket.inet_ntoa(answer[j : j + 4]) for j in range(len(answer) - 4, 11, -16)][:count]
    print(name, flags & 0xF, bool(flags & 0x200), count, " ".join(sorted(ips)))
"""

SHARED = 32  # containers behind one alias: 32 A records make an answer over 512 bytes


@pytest.fixture
def made(dockyard_daemon: Any) -> Iterator[tuple[list[str], list[str]]]:
    containers: list[str] = []
    networks: list[str] = []
    try:
        yield containers, networks
    finally:
        if containers:
            dockyard_daemon.docker("rm", "-f", *containers, check=False)
        for net in networks:
            dockyard_daemon.docker("network", "rm", net, check=False)


def ask(pid: str, gateway: str, proto: str, *names: str) -> dict[str, list[str]]:
    out = subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", ASK, gateway, proto, *names],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    return {line.split(" ", 1)[0]: line.split(" ")[1:] for line in out.splitlines()}


def test_dns_over_tcp_answers_own_network_only(
    dockyard_daemon: Any, made: tuple[list[str], list[str]]
) -> None:
    d = dockyard_daemon
    containers, networks = made
    pid = os.getpid()
    mine, theirs = f"dnst{pid}", f"dnso{pid}"
    for net in (mine, theirs):
        d.docker("network", "create", net)
        networks.append(net)
    me = f"asker{pid}"
    stranger = f"stranger{pid}"
    containers.append(
        d.docker("run", "-d", "--name", me, "--network", mine, "busybox", "sleep", "120").stdout.strip()
    )
    containers.append(
        d.docker(
            "run", "-d", "--name", stranger, "--network", theirs, "busybox", "sleep", "120"
        ).stdout.strip()
    )
    for _ in range(SHARED):
        cid = d.docker("run", "-d", "--network", mine, "--network-alias", "crowd", "busybox", "sleep", "120")
        containers.append(cid.stdout.strip())
    info = json.loads(d.docker("inspect", me).stdout)[0]
    my_ip = info["NetworkSettings"]["Networks"][mine]["IPAddress"]
    gateway = info["NetworkSettings"]["Networks"][mine]["Gateway"]
    task = str(info["State"]["Pid"])

    tcp = ask(task, gateway, "tcp", me, stranger, "crowd")
    assert tcp[me] == ["0", "False", "1", my_ip], tcp
    assert tcp[stranger][:3] == ["3", "False", "0"], tcp  # NXDOMAIN: not this network's name
    assert tcp["crowd"][:3] == ["0", "False", str(SHARED)] and len(tcp["crowd"]) == 3 + SHARED, tcp
    udp = ask(task, gateway, "udp", me, "crowd")
    assert udp[me] == ["0", "False", "1", my_ip], udp
    assert udp["crowd"][:3] == ["0", "True", "0"], udp  # truncated: retry over TCP

    # The stranger reaches this network's gateway too (it is an address of the host), but is
    # answered from its own network's names only, over either protocol.
    other = json.loads(d.docker("inspect", stranger).stdout)[0]
    for proto in ("tcp", "udp"):
        crossed = ask(str(other["State"]["Pid"]), gateway, proto, me, stranger)
        assert crossed[me][:3] == ["3", "False", "0"], (proto, crossed)
        assert crossed[stranger][:3] == ["0", "False", "1"], (proto, crossed)
