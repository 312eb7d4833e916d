"""A container started by an OCI runtime (dockyard-runtime and runc) in a sandbox's namespace,
joined through the config's `linux.namespaces[].path` as the engine sets it, with the files of
write_files() bind-mounted: it has its address and reaches the host over the bridge."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BundleFactory, Runtime, base_spec
from tests.integration.test_network_harness import (
    ManagerFactory,
    make_manager_fixture,  # noqa: F401 (the make_manager fixture)
)

pytestmark = pytest.mark.root

if os.geteuid() != 0:
    pytest.skip("network tests need root", allow_module_level=True)


def with_netns(path: str) -> list[dict[str, Any]]:
    spaces = [ns for ns in base_spec()["linux"]["namespaces"] if ns["type"] != "network"]
    return [*spaces, {"type": "network", "path": path}]


def file_mounts(files: dict[str, Path]) -> list[dict[str, Any]]:
    binds = [
        {"destination": dest, "type": "bind", "source": str(src), "options": ["rbind", "ro"]}
        for dest, src in files.items()
    ]
    return [*base_spec()["mounts"], *binds]


def test_container_in_the_sandbox_reaches_the_host(
    make_manager: ManagerFactory, bundle: BundleFactory, runtime: Runtime, tmp_path: Path
) -> None:
    manager = make_manager()
    cid = runtime.new_id()
    sb = manager.create_sandbox(cid, "bridge", "boxed")
    assert sb.netns_path is not None
    files = manager.write_files(cid, sb, tmp_path / "files", "boxed", extra_hosts=["gw:host-gateway"])

    # A TCP listener on the host's side of the bridge (the gateway address).
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind((sb.gateway, 0))
    server.listen(1)
    server.settimeout(20)
    port = server.getsockname()[1]
    got: list[bytes] = []

    def accept() -> None:
        try:
            conn, _ = server.accept()
            with conn:
                conn.settimeout(10)
                got.append(conn.recv(100))
        except OSError:
            pass

    listener = threading.Thread(target=accept)
    listener.start()
    script = (
        "cat /sys/class/net/eth0/address; ip -o -4 addr show eth0; "
        f"grep boxed /etc/hosts; grep -c nameserver /etc/resolv.conf; "
        f"echo hello-from-{runtime.name} | nc -w 5 gw {port} && echo sent"
    )
    path = bundle(
        ["sh", "-c", script],
        linux={"namespaces": with_netns(sb.netns_path)},
        mounts=file_mounts(files),
    )
    try:
        proc = runtime("run", "--bundle", path, cid, timeout=60)
    finally:
        listener.join(timeout=25)
        server.close()
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == sb.mac
    assert f"inet {sb.ip}/{sb.prefixlen}" in lines[1]
    assert lines[2] == f"{sb.ip}\tboxed"
    assert int(lines[3]) >= 1
    assert lines[-1] == "sent"
    assert got == [f"hello-from-{runtime.name}\n".encode()]
    manager.remove_sandbox(cid)
