"""WWW-Authenticate parsing, credentials from the Engine API, and where registries are reached."""

from __future__ import annotations

import pytest

from dockyard.distribution.auth import Credentials, parse_challenges, scope_for
from dockyard.distribution.endpoint import RegistryUnreachable, endpoint_for, is_loopback


def test_bearer_and_basic_challenges() -> None:
    header = (
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"'
    )
    (ch,) = parse_challenges(header)
    assert ch.scheme == "bearer"
    assert ch.params == {
        "realm": "https://auth.example/token",
        "service": "registry.example",
        "scope": "repository:a/b:pull",
    }
    basic, bearer = parse_challenges('Basic realm="Registry Realm", Bearer realm="x\\"y",error=invalid_token')
    assert (basic.scheme, basic.params) == ("basic", {"realm": "Registry Realm"})
    assert bearer.params == {"realm": 'x"y', "error": "invalid_token"}
    assert parse_challenges("") == []
    assert scope_for("a/b", "pull,push") == "repository:a/b:pull,push"


def test_credentials_from_x_registry_auth() -> None:
    assert Credentials.from_engine(None) is None
    assert Credentials.from_engine({}) is None
    assert Credentials.from_engine({"serveraddress": "x"}) is None
    creds = Credentials.from_engine({"username": "u", "password": "p:w"})
    assert creds is not None and creds.basic() == "Basic dTpwOnc="


def test_endpoints() -> None:
    assert endpoint_for("localhost:5000").base_url == "http://127.0.0.1:5000"
    assert endpoint_for("127.0.0.1:5000").base_url == "http://127.0.0.1:5000"
    assert endpoint_for("[::1]:5000").base_url == "http://[::1]:5000"
    assert endpoint_for("registry.example").base_url == "https://registry.example"
    assert endpoint_for("docker.io").base_url == "https://registry-1.docker.io"
    assert is_loopback("127.8.9.10") and not is_loopback("10.0.0.1") and not is_loopback("example.com")
    with pytest.raises(
        RegistryUnreachable, match=r"cannot pull docker\.io/library/x:latest: no route to the internet"
    ):
        endpoint_for(
            "docker.io", offline_domains=frozenset({"docker.io"}), what="pull docker.io/library/x:latest"
        )
