"""Registry settings: mirrors for any registry, insecure registries by name or network, the
order of pull endpoints; Bearer tokens expire."""

from __future__ import annotations

import pytest

from dockyard.distribution.endpoint import RegistryUnreachable
from dockyard.distribution.settings import RegistrySettings, parse_mirror
from dockyard.distribution.tokens import TokenCache, TokenKey
from dockyard.errors import InvalidArgument


def test_mirror_forms() -> None:
    assert parse_mirror("https://mirror.example/") == ("docker.io", "https://mirror.example")
    assert parse_mirror("quay.io=http://127.0.0.1:5001") == ("quay.io", "http://127.0.0.1:5001")
    for bad in ("mirror.example", "ftp://x", "https://m.example/v2/", "a/b=http://x"):
        with pytest.raises(InvalidArgument, match="invalid registry mirror"):
            parse_mirror(bad)


def test_pull_endpoints_put_mirrors_first_and_skip_an_offline_registry() -> None:
    s = RegistrySettings.build(
        mirrors=["http://127.0.0.1:5001", "ghcr.io=http://127.0.0.1:5002"],
        offline_domains=frozenset({"docker.io"}),
    )
    hub = s.pull_endpoints("docker.io")
    assert [(e.base_url, e.mirror) for e in hub] == [("http://127.0.0.1:5001", True)]
    ghcr = s.pull_endpoints("ghcr.io")
    assert [(e.base_url, e.mirror) for e in ghcr] == [
        ("http://127.0.0.1:5002", True),
        ("https://ghcr.io", False),
    ]
    assert [e.base_url for e in s.pull_endpoints("quay.io")] == ["https://quay.io"]
    with pytest.raises(RegistryUnreachable):
        RegistrySettings.build(offline_domains=frozenset({"docker.io"})).pull_endpoints("docker.io")


def test_insecure_registries_by_name_and_network() -> None:
    s = RegistrySettings.build(insecure=["registry.lan:5000", "10.0.0.0/8"])
    assert s.endpoint("registry.lan:5000").base_url == "http://registry.lan:5000"
    assert s.endpoint("10.1.2.3:5000").base_url == "http://10.1.2.3:5000"
    assert s.endpoint("registry.lan").base_url == "https://registry.lan"
    assert s.endpoint("11.0.0.1").base_url == "https://11.0.0.1"
    for bad in ("http://x", "10.0.0.0/99", ""):
        with pytest.raises(InvalidArgument, match="invalid insecure registry"):
            RegistrySettings.build(insecure=[bad])


def test_tokens_expire_with_a_margin() -> None:
    cache = TokenCache()
    key = TokenKey("https://auth/token", "svc", "repository:a:pull", "bob")
    cache.put(key, "soon", 2)  # inside the 5 s margin: useless already
    assert cache.get(key) is None
    cache.put(key, "fresh", None)  # the spec's default of 60 s
    assert cache.get(key) == "fresh" and cache.fetched == 2
    cache.drop(key)
    assert cache.get(key) is None
