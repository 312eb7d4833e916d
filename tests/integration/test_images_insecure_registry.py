"""--insecure-registry for real: a registry on an address that is not loopback speaks plain HTTP
only to a daemon told so, by HOST:PORT or by a CIDR network (dockerd's two forms).

The registry (Debian's docker-registry) listens on a private address of a veth pair this test
makes (this kernel has no dummy driver): traffic stays on the host, on a link of our own.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator

import pytest
from pyroute2 import IPRoute

from tests.daemon_harness import DockyardDaemon
from tests.reference_registry import ReferenceRegistry, available

pytestmark = pytest.mark.skipif(not available(), reason="apt-get install -y docker-registry skopeo")

_PID = os.getpid()
_NET = f"10.{(_PID >> 8) & 0xFF}.{_PID & 0xFF}"  # a /24 of this test process's own


@pytest.fixture(scope="module")
def link_address() -> Iterator[str]:
    """The address 10.X.Y.1/24 on a veth pair made for this test, removed afterwards."""
    name, peer = f"dyi{_PID}", f"dyi{_PID}p"
    with IPRoute() as ipr:
        ipr.link("add", ifname=name, kind="veth", peer=peer)
        try:
            index = ipr.link_lookup(ifname=name)[0]
            ipr.addr("add", index=index, address=f"{_NET}.1", prefixlen=24)
            ipr.link("set", index=index, state="up")
            ipr.link("set", index=ipr.link_lookup(ifname=peer)[0], state="up")
            yield f"{_NET}.1"
        finally:
            # Removing one end of a veth pair removes both.
            for found in ipr.link_lookup(ifname=name):
                ipr.link("del", index=found)


@pytest.fixture(scope="module")
def registry(link_address: str) -> Iterator[ReferenceRegistry]:
    reg = ReferenceRegistry(host=link_address)
    try:
        reg.start()
        reg.push_busybox("insecure/busybox:1")
        yield reg
    finally:
        reg.stop()


def _manifest(registry: ReferenceRegistry, name: str, tag: str) -> dict[str, object]:
    req = urllib.request.Request(
        f"http://{registry.address}/v2/{name}/manifests/{tag}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json, "
                           "application/vnd.docker.distribution.manifest.v2+json"},
    )  # fmt: skip
    with urllib.request.urlopen(req, timeout=10) as resp:
        manifest: dict[str, object] = json.load(resp)
        return manifest


def test_plain_http_off_loopback_needs_insecure_registry(registry: ReferenceRegistry) -> None:
    ref = f"{registry.address}/insecure/busybox:1"
    d = DockyardDaemon()
    with d:
        res = d.dockyard("pull", ref, check=False)
        assert res.returncode != 0
        assert "--insecure-registry" in res.stderr and registry.address in res.stderr, res.stderr
        res = d.docker("pull", ref, check=False)  # the real docker CLI shows the daemon's message
        assert res.returncode != 0 and "--insecure-registry" in res.stderr, res.stderr
        d.bootstrap()
        d.dockyard("tag", "busybox", f"{registry.address}/insecure/refused:1")
        res = d.dockyard("push", f"{registry.address}/insecure/refused:1", check=False)
        assert res.returncode != 0 and "--insecure-registry" in res.stderr, (res.stdout, res.stderr)

        for flag in (registry.address, f"{_NET}.0/24"):
            d.stop()
            d.extra_args = ["--insecure-registry", flag]
            d.start()
            d.dockyard("pull", ref)
            out = d.docker("run", "--rm", "--network", "none", ref, "echo", "over http")
            assert out.stdout == "over http\n"
            pushed = f"{registry.address}/insecure/pushed:{flag.replace('/', '-').replace(':', '-')}"
            d.dockyard("tag", ref, pushed)
            d.dockyard("push", pushed)
            name, tag = pushed.split("/", 1)[1].split(":")
            got = _manifest(registry, name, tag)
            assert len(got["layers"]) == 1, got  # type: ignore[arg-type]
            d.dockyard("rmi", ref, pushed)
