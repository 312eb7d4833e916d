"""create_sandbox + remove_sandbox back to back, as `docker run --rm` calls them (and as the spare
veth pool is made for): every sandbox of the series works and every removal leaves nothing.
Bytes sent through each bridge sandbox arrive intact; a `none` sandbox has lo only; after each
removal its namespace mount is gone and, once the kernel has freed it, its veth. How long the
pair takes is measured in bench/network.py (network setup of `run`), never asserted here."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time

import pytest

from tests.integration.test_network_harness import (
    BUSYBOX,
    ManagerFactory,
    in_netns,
    links,
    make_manager_fixture,  # noqa: F401 (the make_manager fixture)
    wait_until,
)

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("network tests need root", allow_module_level=True)

ROUNDS = 12
PAYLOAD = os.urandom(64 * 1024)


def send_from(path: str, gateway: str, port: int) -> bytes:
    """PAYLOAD sent by busybox nc inside the namespace at ``path`` to a listener of this test on
    the bridge's gateway address; what the listener received."""
    with socket.socket() as listener:
        listener.bind((gateway, port))
        listener.listen(1)
        listener.settimeout(10)
        sender = subprocess.Popen(
            ["nsenter", f"--net={path}", BUSYBOX, "nc", "-w", "2", gateway, str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
        )
        try:
            assert sender.stdin is not None
            sender.stdin.write(PAYLOAD)
            sender.stdin.close()
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(10)
                data = b"".join(iter(lambda: conn.recv(65536), b""))
        finally:
            sender.wait(10)
    return data


@pytest.mark.parametrize("mode", ["bridge", "none"])
def test_back_to_back_sandboxes_work_and_leave_nothing(make_manager: ManagerFactory, mode: str) -> None:
    manager = make_manager()
    gateway = manager.networks()[0]["IPAM"]["Config"][0]["Gateway"]
    port = 30000 + os.getpid() % 20000
    veths: set[str] = set()
    addresses: set[str] = set()
    for i in range(ROUNDS):
        sb = manager.create_sandbox(f"c{i}", mode)
        path = sb.netns_path
        assert path is not None and os.path.exists(path)
        if mode == "bridge":
            ep = sb.endpoints[0]
            assert ep.ip and ep.ip not in addresses and ep.veth in links()
            addresses.add(ep.ip)
            veths.add(ep.veth)
            received = send_from(path, gateway, port)
            assert hashlib.sha256(received).digest() == hashlib.sha256(PAYLOAD).digest(), len(received)
        else:
            shown = in_netns(path, "ip", "-o", "link", "show", check=True).stdout
            assert [line.split(":")[1].strip() for line in shown.splitlines()] == ["lo"], shown
        manager.remove_sandbox(f"c{i}")
        assert not os.path.exists(path)
        # A container's life lies between two runs: the worker refills its spare meanwhile.
        time.sleep(0.005)
    assert manager.sandboxes() == []
    assert wait_until(lambda: not veths & links()), veths & links()
