"""Published ports: -p on the host's loopback, -P with `port`, ranges, UDP, conflicts, and DNAT
from another host (a network namespace this test makes, linked to the host by a veth pair)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_network_harness import (
    BUSYBOX,
    other_host_fixture,  # noqa: F401 (the other_host fixture)
)

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("network tests need root", allow_module_level=True)

HTTPD = ("busybox", "httpd", "-f", "-p", "80")
UDP_ECHO = (
    "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('0.0.0.0', 5353))\n"
    "while True:\n    data, peer = s.recvfrom(64)\n    s.sendto(b'pong:' + data, peer)\n"
)


def http_status(host: str, port: int, attempts: int = 50) -> str:
    """The status line busybox httpd answers with (it starts just after `run -d` returns)."""
    for _ in range(attempts):
        try:
            with socket.create_connection((host, port), timeout=3) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                line = s.makefile("rb").readline().decode()
                if line:
                    return line.strip()
        except OSError:
            pass
        time.sleep(0.1)
    return ""


@pytest.fixture
def containers(dockyard_daemon: Any) -> Iterator[list[str]]:
    made: list[str] = []
    try:
        yield made
    finally:
        if made:
            dockyard_daemon.docker("rm", "-f", *made, check=False)


def run(d: Any, made: list[str], *args: str) -> str:
    cid = str(d.docker("run", "-d", *args).stdout.strip())
    made.append(cid)
    return cid


def test_loopback_publish_conflict_and_port(dockyard_daemon: Any, containers: list[str]) -> None:
    d = dockyard_daemon
    web = run(d, containers, "-p", "127.0.0.1:18080:80", *HTTPD)
    assert http_status("127.0.0.1", 18080).startswith("HTTP/1.")
    clash = d.docker("run", "-d", "-p", "18080:80", *HTTPD, check=False)
    assert clash.returncode != 0 and "port 18080 is already allocated" in clash.stderr, clash.stderr
    assert d.docker("port", web).stdout == "80/tcp -> 127.0.0.1:18080\n"
    # The loser of the conflict never ran and holds nothing: removing the winner frees the port.
    d.docker("rm", "-f", web)
    containers.remove(web)
    again = run(d, containers, "-p", "127.0.0.1:18080:80", *HTTPD)
    assert http_status("127.0.0.1", 18080).startswith("HTTP/1.")
    summary = d.docker("ps", "--filter", f"id={again}", "--format", "{{.Ports}}").stdout.strip()
    assert summary == "127.0.0.1:18080->80/tcp"


def test_publish_all_ranges_and_udp(dockyard_daemon: Any, containers: list[str]) -> None:
    d = dockyard_daemon
    base = 28000 + os.getpid() % 500 * 10
    cid = run(
        d, containers, "-P", "--expose", "80",
        "-p", f"127.0.0.1:{base}-{base + 2}:8080",
        "-p", f"127.0.0.1:{base + 5}-{base + 6}:9000-9001",
        "-p", f"127.0.0.1:{base + 7}:5353/udp",
        "busybox", "sh", "-c",
        "httpd -p 80; httpd -p 8080; httpd -p 9001; sleep 300",
    )  # fmt: skip
    ours = d.dockyard("port", cid, "80").stdout.strip()
    theirs = d.docker("port", cid, "80/tcp").stdout.strip()
    assert ours == theirs and ours.startswith("0.0.0.0:"), (ours, theirs)
    picked = int(ours.rsplit(":", 1)[1])
    assert http_status("127.0.0.1", picked).startswith("HTTP/1.")
    assert d.docker("port", cid, "8080").stdout.strip() == f"127.0.0.1:{base}"
    assert http_status("127.0.0.1", base).startswith("HTTP/1.")
    assert d.docker("port", cid, "9001").stdout.strip() == f"127.0.0.1:{base + 6}"
    assert http_status("127.0.0.1", base + 6).startswith("HTTP/1.")
    assert d.docker("port", cid, "5353/udp").stdout.strip() == f"127.0.0.1:{base + 7}"
    # A UDP echo in the container's namespace (busybox's nc and udpsvd do not answer datagrams
    # in this rootfs), reached through the published port.
    pid = d.docker("inspect", "-f", "{{.State.Pid}}", cid).stdout.strip()
    echo = subprocess.Popen(["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", UDP_ECHO])
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(0.2)
            answer = b""
            for _ in range(50):  # until the echo has bound its socket
                u.sendto(b"ping", ("127.0.0.1", base + 7))
                try:
                    answer = u.recv(64)
                    break
                except TimeoutError:
                    continue
        assert answer == b"pong:ping"
    finally:
        echo.kill()
        echo.wait()


def test_dnat_from_another_host(
    dockyard_daemon: Any, containers: list[str], other_host: tuple[str, str]
) -> None:
    d = dockyard_daemon
    path, host_ip = other_host
    port = 19000 + os.getpid() % 1000
    run(d, containers, "-p", f"{port}:80", *HTTPD)
    script = (
        f"for i in $(seq 1 30); do r=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {host_ip} {port}) "
        '&& [ -n "$r" ] && echo "$r" | head -1 && exit 0; sleep 0.1; done; exit 1'
    )
    answer = subprocess.run(
        ["nsenter", f"--net={path}", BUSYBOX, "sh", "-c", script], capture_output=True, text=True, timeout=60
    )
    assert answer.stdout.startswith("HTTP/1."), (answer.stdout, answer.stderr)
