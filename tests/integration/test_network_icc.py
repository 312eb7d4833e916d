"""`dockyard daemon --icc=false`: containers on the default bridge cannot reach each other, as
with dockerd's --icc=false, while containers on a user-defined network still do."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest

from tests.daemon_harness import DockyardDaemon

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("network tests need root", allow_module_level=True)

ONCE = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {ip} 80 | head -1"
RETRY = "for i in $(seq 1 30); do r=$(" + ONCE + ') && [ -n "$r" ] && echo "$r" && exit 0; sleep 0.1; done'


@pytest.fixture
def daemon() -> Iterator[DockyardDaemon]:
    with DockyardDaemon("--icc=false") as d:
        d.bootstrap()
        yield d


def test_icc_false_cuts_the_default_bridge_only(daemon: DockyardDaemon) -> None:
    d = daemon
    server = d.docker("run", "-d", "busybox", "httpd", "-f", "-p", "80").stdout.strip()
    ip = d.docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", server).stdout.strip()
    try:
        check(d, server, ip)
    finally:
        d.docker("rm", "-f", server)  # httpd as pid 1 ignores SIGTERM: no 10 s stop at teardown


def check(d: DockyardDaemon, server: str, ip: str) -> None:
    # The host still reaches the container (host <-> container is not inter-container traffic).
    answer = b""
    for _ in range(50):  # until httpd listens
        try:
            with socket.create_connection((ip, 80), timeout=5) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                answer = s.recv(16)
                break
        except ConnectionRefusedError:
            time.sleep(0.1)
    assert answer.startswith(b"HTTP/1.")
    cut = d.docker("run", "--rm", "busybox", "sh", "-c", ONCE.format(ip=ip), check=False)
    assert "HTTP" not in cut.stdout
    net = f"icc{os.getpid()}"
    d.docker("network", "create", net)
    d.docker("network", "connect", net, server)
    user_ip = d.docker("inspect", "-f", f"{{{{.NetworkSettings.Networks.{net}.IPAddress}}}}", server).stdout
    on_user = d.docker(
        "run", "--rm", "--network", net, "busybox", "sh", "-c", RETRY.format(ip=user_ip.strip())
    )
    assert on_user.stdout.startswith("HTTP/1.")
