"""dockyard's own client and daemon against dockyard's registry (issue 7's must-show 1, now that
the engine exists): ``dockyard login``, ``push``, ``pull`` of a private repository with token
auth, and another account refused. The registry listens on 127.0.0.1, which the daemon reaches
over plain HTTP as dockerd does; credentials go to the harness's private DOCKER_CONFIG.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon_harness import DockyardDaemon
from tests.unit.registry.harness import RegistryServer, running_registry

pytestmark = [pytest.mark.compat, pytest.mark.root]


@pytest.fixture(scope="module")
def registry() -> Iterator[RegistryServer]:
    with running_registry(auth=True) as srv:
        srv.add_user("alice", "alice-pass-1")
        srv.add_user("bob", "bob-pass-12")
        yield srv


def dy(d: DockyardDaemon, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return d.dockyard(*args, input=input, check=False, timeout=120)


def test_dockyard_login_push_pull_private(dockyard_daemon: DockyardDaemon, registry: RegistryServer) -> None:
    d = dockyard_daemon
    ref = f"{registry.addr}/alice/busybox:v{os.getpid()}"
    config = Path(d.env()["DOCKER_CONFIG"]) / "config.json"
    assert dy(d, "tag", "busybox", ref).returncode == 0
    try:
        denied = dy(d, "push", ref)
        assert denied.returncode != 0 and "login" in denied.stderr, denied.stderr  # no account yet
        bad = dy(d, "login", "-u", "alice", "--password-stdin", registry.addr, input=b"wrong\n")
        assert bad.returncode != 0 and "unauthorized" in bad.stderr.lower(), bad.stderr
        login = dy(d, "login", "-u", "alice", "--password-stdin", registry.addr, input=b"alice-pass-1\n")
        assert (login.returncode, login.stdout.strip()) == (0, "Login Succeeded"), login.stderr
        stored = json.loads(config.read_text())["auths"][registry.addr]
        # The registry's refresh token, as dockerd's login returns it (IdentityToken): pushes and
        # pulls trade it for tokens (OAuth2 POST, grant_type=refresh_token).
        assert stored.get("identitytoken"), stored
        pushed = dy(d, "push", ref)
        assert pushed.returncode == 0 and "digest: sha256:" in pushed.stdout, pushed.stderr
        image_id = json.loads(dy(d, "image", "inspect", ref).stdout)[0]["Id"]
        assert dy(d, "rmi", ref).returncode == 0
        pulled = dy(d, "pull", ref)
        assert pulled.returncode == 0, pulled.stderr
        assert json.loads(dy(d, "image", "inspect", ref).stdout)[0]["Id"] == image_id
        run = dy(d, "run", "--rm", "--network", "none", ref, "echo", "pulled-and-ran")
        assert run.stdout == "pulled-and-ran\n", run.stderr
        # bob signs in and cannot pull alice's private image.
        assert dy(d, "rmi", ref).returncode == 0
        assert dy(d, "logout", registry.addr).returncode == 0
        login = dy(d, "login", "-u", "bob", "--password-stdin", registry.addr, input=b"bob-pass-12\n")
        assert login.returncode == 0, login.stderr
        other = dy(d, "pull", ref)
        assert other.returncode != 0
        assert "denied" in other.stderr.lower() or "unauthorized" in other.stderr.lower(), other.stderr
    finally:
        dy(d, "rmi", "-f", ref)
        dy(d, "logout", registry.addr)
