"""Debian's dockerd and docker client against dockyard's registry: ``docker login``, ``push``,
``pull`` of a private repository, and ``docker search`` seeing only what the account may see.

dockerd talks plain HTTP to registries on 127.0.0.0/8 without an ``insecure-registries`` entry
(it treats loopback as insecure by default), so the session's shared dockerd (engines.py) serves.
Credentials go to a private DOCKER_CONFIG folder, never the user's ~/.docker.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.compat.engines import (  # noqa: F401
    Dockerd,
    busybox_layer_fixture,
    dockerd_fixture,
    engines_dir_fixture,
)
from tests.unit.registry.harness import RegistryServer, running_registry

pytestmark = [pytest.mark.compat, pytest.mark.root]


@pytest.fixture(scope="module")
def registry() -> Iterator[RegistryServer]:
    with running_registry(auth=True) as srv:
        srv.add_user("alice", "alice-pass-1")
        srv.add_user("bob", "bob-pass-12")
        yield srv


def test_docker_login_push_pull(
    dockerd: Dockerd, registry: RegistryServer, tmp_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    ref = f"{registry.addr}/alice/busybox:v{os.getpid()}"
    dockerd.text("tag", dockerd.image, ref)
    try:
        denied = dockerd("push", ref, timeout=60)
        assert denied.returncode != 0  # not signed in: private namespace
        login = dockerd("login", registry.addr, "-u", "alice", "--password-stdin", input=b"alice-pass-1\n")
        assert login.returncode == 0, dockerd.explain(login, "docker login")
        pushed = dockerd("push", ref, timeout=120)
        assert pushed.returncode == 0, dockerd.explain(pushed, "docker push")
        local_id = dockerd.inspect(ref)["Id"]
        dockerd.text("rmi", ref)
        pulled = dockerd("pull", ref, timeout=120)
        assert pulled.returncode == 0, dockerd.explain(pulled, "docker pull")
        assert dockerd.inspect(ref)["Id"] == local_id
        digest = dockerd.inspect(ref)["RepoDigests"][0].split("@")[1]
        found = dockerd("search", f"{registry.addr}/busybox", "--format", "{{json .}}", timeout=60)
        assert found.returncode == 0, dockerd.explain(found, "docker search")
        assert "alice/busybox" in found.stdout.decode()
        # bob signs in and neither pulls alice's image nor finds it. By tag: dockerd must ask the
        # registry (a digest it holds locally it would serve from its own store).
        dockerd.text("rmi", ref)
        dockerd.text("logout", registry.addr)
        login = dockerd("login", registry.addr, "-u", "bob", "--password-stdin", input=b"bob-pass-12\n")
        assert login.returncode == 0, dockerd.explain(login, "docker login bob")
        other = dockerd("pull", ref, timeout=60)
        assert other.returncode != 0
        assert b"denied" in other.stderr or b"unauthorized" in other.stderr, other.stderr
        hidden = dockerd("search", f"{registry.addr}/busybox", "--format", "{{json .}}", timeout=60)
        assert "alice/busybox" not in hidden.stdout.decode()
        assert digest.startswith("sha256:")
    finally:
        dockerd("rmi", "-f", ref, timeout=60)
        dockerd("logout", registry.addr)
