"""Accounts, token auth and private repositories, over HTTP against a registry with accounts.

alice owns alice/*; bob is another user; org "acme" has a team "dev" with carol in it. Every
endpoint of alice's private repository answers bob (and anonymous) with 401/403 and no data.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
import requests

from tests.unit.registry.harness import OCI_MANIFEST, Api, RegistryServer, running_registry

SERVICE = "dockyard-registry"
PASSWORDS = {"alice": "alice-pass-1", "bob": "bob-pass-12", "carol": "carol-pass-1", "root": "root-pass-12"}


@pytest.fixture(scope="module")
def server() -> Iterator[RegistryServer]:
    with running_registry(auth=True) as srv:
        for user, pw in PASSWORDS.items():
            srv.add_user(user, pw, admin=user == "root")
        for cmd in (
            ["org", "add", "acme", "--owner", "alice"],
            ["team", "add", "acme", "dev"],
            ["team", "member", "acme", "dev", "carol"],
            ["grant", "acme/*", "acme/dev", "push"],
        ):
            res = srv.admin(*cmd)
            assert res.returncode == 0, res.stderr
        yield srv


def token(server: RegistryServer, user: str | None, *scopes: str, password: str | None = None) -> str:
    auth = (user, password or PASSWORDS[user]) if user else None
    r = requests.get(
        f"{server.url}/token", params={"service": SERVICE, "scope": list(scopes)}, auth=auth, timeout=10
    )
    assert r.status_code == 200, r.text
    tok: str = r.json()["token"]
    return tok


def as_user(server: RegistryServer, user: str, name: str, actions: str = "pull,push") -> Api:
    return Api(server.url, token(server, user, f"repository:{name}:{actions}"))


@pytest.fixture(scope="module")
def private_image(server: RegistryServer) -> tuple[str, str, bytes]:
    name = "alice/secret"
    api = as_user(server, "alice", name, "pull,push,delete")
    digest, body = api.push_image(name, "v1")
    return name, digest, body


def test_anonymous_gets_a_bearer_challenge(server: RegistryServer) -> None:
    r = requests.get(f"{server.url}/v2/", timeout=10)
    assert r.status_code == 401
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'realm="{server.url}/token"' in challenge
    assert f'service="{SERVICE}"' in challenge
    r = requests.get(f"{server.url}/v2/alice/secret/tags/list", timeout=10)
    assert r.status_code == 401
    assert 'scope="repository:alice/secret:pull"' in r.headers["WWW-Authenticate"]


def test_basic_auth_on_v2_is_accepted(server: RegistryServer, private_image: tuple[str, str, bytes]) -> None:
    name, _digest, _ = private_image
    api = Api(server.url, ("alice", PASSWORDS["alice"]))
    assert api.get("/v2/").status_code == 200
    assert api.get(f"/v2/{name}/tags/list").json()["tags"] == ["v1"]


def test_private_means_private_on_every_endpoint(
    server: RegistryServer, private_image: tuple[str, str, bytes]
) -> None:
    name, digest, body = private_image
    import json

    layer = json.loads(body)["layers"][0]["digest"]
    bob_token = token(server, "bob", f"repository:{name}:pull,push,delete")
    callers = {
        "anonymous": Api(server.url),
        "bob-basic": Api(server.url, ("bob", PASSWORDS["bob"])),
        "bob-token": Api(server.url, bob_token),
    }
    endpoints = [
        ("GET", f"/v2/{name}/tags/list"),
        ("GET", f"/v2/{name}/manifests/v1"),
        ("HEAD", f"/v2/{name}/manifests/v1"),
        ("GET", f"/v2/{name}/manifests/{digest}"),
        ("DELETE", f"/v2/{name}/manifests/{digest}"),
        ("PUT", f"/v2/{name}/manifests/v2"),
        ("GET", f"/v2/{name}/blobs/{layer}"),
        ("HEAD", f"/v2/{name}/blobs/{layer}"),
        ("DELETE", f"/v2/{name}/blobs/{layer}"),
        ("POST", f"/v2/{name}/blobs/uploads/"),
        ("POST", f"/v2/bob/stolen/blobs/uploads/?mount={layer}&from={name}"),
        ("GET", f"/v2/{name}/referrers/{digest}"),
    ]
    for who, api in callers.items():
        for method, path in endpoints:
            r = api.request(
                method,
                path,
                data=body if method == "PUT" else None,
                headers={"Content-Type": OCI_MANIFEST} if method == "PUT" else {},
            )
            if "mount=" in path:
                # bob may push to his own repository, but the mount must not happen (201): at most
                # an ordinary upload starts (202).
                assert r.status_code in (202, 401, 403), (who, method, path, r.status_code)
                continue
            assert r.status_code in (401, 403), (who, method, path, r.status_code)
            assert body not in r.content and b"alice" not in r.content.replace(name.encode(), b"")
        catalog = api.get("/v2/_catalog")
        assert name not in catalog.text
        search = api.get("/v1/search", params={"q": "secret"})
        assert name not in search.text
    # The mount above did not give bob the layer.
    assert callers["bob-basic"].head(f"/v2/bob/stolen/blobs/{layer}").status_code == 404
    # And alice still has everything.
    alice = as_user(server, "alice", name)
    assert alice.get(f"/v2/{name}/manifests/v1").content == body


def test_token_for_one_repository_does_not_open_another(server: RegistryServer) -> None:
    alice = as_user(server, "alice", "alice/one")
    alice.push_image("alice/one", "v1")
    two = as_user(server, "alice", "alice/two")
    two.push_image("alice/two", "v1")
    r = alice.get("/v2/alice/two/tags/list")
    assert r.status_code == 403
    assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]
    assert 'scope="repository:alice/two:pull"' in r.headers["WWW-Authenticate"]


def test_token_gets_only_the_access_the_account_has(
    server: RegistryServer, private_image: tuple[str, str, bytes]
) -> None:
    import base64
    import json

    tok = token(server, "bob", "repository:alice/secret:pull,push", "repository:bob/app:pull,push")
    payload = json.loads(base64.urlsafe_b64decode(tok.split(".")[1] + "=="))
    assert payload["access"] == [{"type": "repository", "name": "bob/app", "actions": ["pull", "push"]}]


def test_public_repository_pulls_anonymously_but_does_not_push(server: RegistryServer) -> None:
    name = "alice/open"
    digest, body = as_user(server, "alice", name).push_image(name, "v1")
    assert server.admin("repo", name, "public").returncode == 0
    anon = Api(server.url, token(server, None, f"repository:{name}:pull,push"))
    assert anon.get(f"/v2/{name}/manifests/v1", headers={"Accept": OCI_MANIFEST}).content == body
    r = anon.post(f"/v2/{name}/blobs/uploads/")
    assert r.status_code == 401
    bob = as_user(server, "bob", name)
    assert bob.get(f"/v2/{name}/manifests/{digest}").status_code == 200
    assert bob.post(f"/v2/{name}/blobs/uploads/").status_code == 403
    assert name in Api(server.url).get("/v1/search", params={"q": "open"}).text


def test_team_member_pushes_to_the_org_and_a_non_member_cannot(server: RegistryServer) -> None:
    name = "acme/service"
    carol = as_user(server, "carol", name)
    carol.push_image(name, "v1")
    assert carol.get(f"/v2/{name}/tags/list").json()["tags"] == ["v1"]
    bob = as_user(server, "bob", name)
    assert bob.post(f"/v2/{name}/blobs/uploads/").status_code == 403
    assert bob.get(f"/v2/{name}/tags/list").status_code == 403


def test_revoked_robot_token_fails_at_once(server: RegistryServer) -> None:
    res = server.admin("robot", "add", "alice", "ci", "--access", "push")
    assert res.returncode == 0, res.stderr
    robot, secret = res.stdout.split()
    name = "alice/robotic"
    jwt_token = token(server, robot, f"repository:{name}:pull,push", password=secret)
    api = Api(server.url, jwt_token)
    api.push_image(name, "v1")
    basic = Api(server.url, (robot, secret))
    assert basic.get(f"/v2/{name}/tags/list").status_code == 200
    assert server.admin("robot", "rm", robot).returncode == 0
    assert api.get(f"/v2/{name}/tags/list").status_code == 401
    assert basic.get(f"/v2/{name}/tags/list").status_code == 401


def test_failed_logins_are_throttled() -> None:
    # A server of its own: the block covers the address too, and every test comes from 127.0.0.1.
    with running_registry(auth=True, settings={"throttle_block": 2.0}) as server:
        server.add_user("carol", PASSWORDS["carol"])
        url = f"{server.url}/token"
        for _ in range(5):
            r = requests.get(url, params={"service": SERVICE}, auth=("carol", "wrong-password"), timeout=10)
            assert r.status_code == 401
        r = requests.get(url, params={"service": SERVICE}, auth=("carol", PASSWORDS["carol"]), timeout=10)
        assert r.status_code == 429
        assert 1 <= int(r.headers["Retry-After"]) <= 2
        assert Api(server.url, ("carol", PASSWORDS["carol"])).get("/v2/").status_code == 429
        time.sleep(2.1)  # this server blocks for 2 s (throttle_block); the default is 60
        r = requests.get(url, params={"service": SERVICE}, auth=("carol", PASSWORDS["carol"]), timeout=10)
        assert r.status_code == 200


def test_oauth_password_and_refresh_token_grants(server: RegistryServer) -> None:
    r = requests.post(
        f"{server.url}/token",
        data={
            "grant_type": "password",
            "username": "alice",
            "password": PASSWORDS["alice"],
            "service": SERVICE,
            "scope": "repository:alice/secret:pull",
            "access_type": "offline",
            "client_id": "test",
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    refresh = r.json()["refresh_token"]
    r = requests.post(
        f"{server.url}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "service": SERVICE,
            "scope": "repository:alice/secret:pull",
            "client_id": "test",
        },
        timeout=10,
    )
    assert r.status_code == 200
    api = Api(server.url, r.json()["access_token"])
    assert api.get("/v2/alice/secret/tags/list").status_code == 200
    r = requests.post(
        f"{server.url}/token",
        data={"grant_type": "refresh_token", "refresh_token": "bogus", "service": SERVICE},
        timeout=10,
    )
    assert r.status_code == 401


def test_admin_api_manages_users(server: RegistryServer) -> None:
    root = Api(server.url, ("root", PASSWORDS["root"]))
    user = f"dave{os.getpid()}"
    r = root.post("/admin/users", json={"name": user, "password": "dave-pass-12"})
    assert r.status_code == 201, r.text
    assert user in [u["name"] for u in root.get("/admin/users").json()]
    assert Api(server.url, ("bob", PASSWORDS["bob"])).get("/admin/users").status_code == 403
    assert root.put(f"/admin/users/{user}/password", json={"password": "dave-pass-34"}).status_code == 204
    assert Api(server.url, (user, "dave-pass-34")).get("/v2/").status_code == 200
    assert root.delete(f"/admin/users/{user}").status_code == 204
    assert Api(server.url, (user, "dave-pass-34")).get("/v2/").status_code == 401
    listed = server.admin("user", "ls")
    assert "alice" in listed.stdout and user not in listed.stdout


def test_catalog_lists_only_what_the_caller_may_pull(
    server: RegistryServer, private_image: tuple[str, str, bytes]
) -> None:
    alice = Api(server.url, token(server, "alice", "registry:catalog:*"))
    bob = Api(server.url, token(server, "bob", "registry:catalog:*"))
    assert "alice/secret" in alice.get("/v2/_catalog").json()["repositories"]
    assert "alice/secret" not in bob.get("/v2/_catalog").json()["repositories"]
