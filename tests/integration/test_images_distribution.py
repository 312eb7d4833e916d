"""Pull and push features against real and static registries on loopback: cross-repository
mounts, --all-tags both ways, pulls by digest, Bearer tokens cached and refreshed, mirrors for
any registry, the download concurrency limit, foreign layers fetched from their URLs."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.distribution.client import RegistryClient
from dockyard.distribution.tokens import TokenCache
from dockyard.errors import Unauthorized
from dockyard.images import options as image_options
from dockyard.images.service import ImageService
from dockyard.oci import mediatypes as mt
from tests.conftest import remove_tree
from tests.hostile.static_registry import StaticRegistry, canonical, entry, sha, tar
from tests.integration.test_images_registry import ReferenceRegistry, TokenServer, collect, errors


@pytest.fixture(scope="module")
def registry() -> Iterator[ReferenceRegistry]:
    reg = ReferenceRegistry()
    try:
        yield reg
    finally:
        reg.stop()


@pytest.fixture
def static() -> Iterator[StaticRegistry]:
    r = StaticRegistry()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def new_svc(tmp_path: Path) -> Iterator[Any]:
    made: list[tuple[ImageService, Path]] = []

    def make(**kw: Any) -> ImageService:
        root = tmp_path / f"store{len(made)}-{os.getpid()}"
        s = ImageService(root, options=image_options.build(**kw)) if kw else ImageService(root)
        made.append((s, root))
        return s

    try:
        yield make
    finally:
        for s, root in made:
            s.close()
            remove_tree(str(root))


def statuses(msgs: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("status")) for m in msgs]


def test_cross_repository_mount_all_tags_and_digest_pulls(registry: ReferenceRegistry, new_svc: Any) -> None:
    svc = new_svc()
    svc.bootstrap_busybox()
    first = f"{registry.host}/mount/source:1"
    svc.tag("busybox", first, None)
    assert "Pushed" in statuses(collect(svc.push(first, None)))
    # The same layer pushed to another repository is mounted from the first, not sent again.
    for tag in ("a", "b"):
        svc.tag("busybox", f"{registry.host}/mount/target", tag)
    msgs = collect(svc.push(f"{registry.host}/mount/target", None, all_tags=True))
    assert not errors(msgs), msgs
    assert "Mounted from mount/source" in statuses(msgs)
    assert next(s for s in statuses(msgs) if ": digest: " in s).startswith("a: digest: ")
    assert sum(": digest: " in s for s in statuses(msgs)) == 2  # both tags pushed
    other = new_svc()
    msgs = collect(other.pull(f"{registry.host}/mount/target", None, None, all_tags=True))
    assert not errors(msgs), msgs
    assert statuses(msgs)[-1] == f"Status: Downloaded newer image for {registry.host}/mount/target"
    assert {t for i in other.list() for t in i.repo_tags} == {
        f"{registry.host}/mount/target:a",
        f"{registry.host}/mount/target:b",
    }
    digest = other.resolve(f"{registry.host}/mount/target:a").repo_digests[0].split("@")[1]
    third = new_svc()
    msgs = collect(third.pull(f"{registry.host}/mount/target@{digest}", None, None))
    assert not errors(msgs) and f"Digest: {digest}" in statuses(msgs)
    assert third.resolve(f"{registry.host}/mount/target@{digest}").repo_tags == []


def test_bearer_tokens_are_cached_and_refreshed(new_svc: Any, tmp_path: Path) -> None:
    tokens = TokenServer(tmp_path, "bob", "pw")
    reg = ReferenceRegistry(tokens.auth_config())
    try:
        svc = new_svc()
        svc.bootstrap_busybox()
        ref = f"{reg.host}/cache/bb:1"
        svc.tag("busybox", ref, None)
        creds = {"username": "bob", "password": "pw"}
        assert not errors(collect(svc.push(ref, creds)))
        fetched = len(tokens.requests)
        svc.remove(ref, False, False, lambda _i: None)
        for _ in range(3):  # three pulls, new clients each time: the cached token serves them all
            assert not errors(collect(svc.pull(ref, creds, None)))
        pull_scope = [r for r in tokens.requests[fetched:] if r.endswith("scope=repository:cache/bb:pull")]
        assert len(pull_scope) == 1, tokens.requests
        # A token the registry refuses (expired, revoked) is dropped and a fresh one fetched.
        for key in list(svc.tokens._tokens):
            svc.tokens._tokens[key] = ("not-a-valid-token", svc.tokens._tokens[key][1])
        before = len(tokens.requests)
        assert not errors(collect(svc.pull(ref, creds, None)))
        assert len(tokens.requests) > before
    finally:
        reg.stop()
        tokens.stop()


def test_token_expiry() -> None:
    from dockyard.distribution.tokens import TokenKey

    cache = TokenCache()
    key = TokenKey("realm", "svc", "repository:a:pull", "")
    cache.put(key, "short", 3)  # within the safety margin: already expired
    assert cache.get(key) is None
    cache.put(key, "long", 300)
    assert cache.get(key) == "long"


def test_mirrors_serve_any_registry_and_docker_hub(registry: ReferenceRegistry, new_svc: Any) -> None:
    source = new_svc()
    source.bootstrap_busybox()
    for name in ("library/busybox:mirrored", "team/app:1"):
        source.tag("busybox", f"{registry.host}/{name}", None)
        assert not errors(collect(source.push(f"{registry.host}/{name}", None)))
    svc = new_svc(
        registry_mirrors=[
            f"http://{registry.host}",  # Docker Hub's mirror (docker.io is offline here)
            "registry.invalid:5000=http://127.0.0.1:9",  # nothing listens there
            f"registry.invalid:5000=http://{registry.host}",
        ],
        offline_domains=frozenset({"docker.io"}),
    )
    msgs = collect(svc.pull("busybox:mirrored", None, None))
    assert not errors(msgs), msgs
    assert svc.resolve("busybox:mirrored").id == source.resolve("busybox").id
    # The first mirror of registry.invalid:5000 is down: the second serves the pull, and the
    # registry itself (which would need a name lookup) is never asked.
    msgs = collect(svc.pull("registry.invalid:5000/team/app:1", None, None))
    assert not errors(msgs), msgs
    assert svc.resolve("registry.invalid:5000/team/app:1").id == source.resolve("busybox").id


@pytest.mark.parametrize("limit", [1, 3])
def test_max_concurrent_downloads(static: StaticRegistry, new_svc: Any, limit: int) -> None:
    layers = [tar([entry(f"l{i}", data=os.urandom(256 << 10))]) for i in range(5)]
    static.add_image("par/image", "t", layers)
    static.rate = 2 << 20  # slow enough for downloads to overlap
    svc = new_svc(max_concurrent_downloads=limit)
    assert not errors(collect(svc.pull(f"{static.host}/par/image:t", None, None)))
    assert static.max_active == limit


def test_foreign_layer_is_fetched_from_its_urls(static: StaticRegistry, new_svc: Any) -> None:
    base = tar([entry("foreign", data=b"from elsewhere")])
    own = tar([entry("own", data=b"from the registry")])
    static.foreign[sha(base)] = base
    config = canonical({"architecture": "amd64", "os": "linux", "config": {},
                        "rootfs": {"type": "layers", "diff_ids": [sha(base), sha(own)]}})  # fmt: skip
    manifest = canonical({
        "schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
        "config": {"mediaType": mt.OCI_CONFIG, "digest": static.add_blob(config), "size": len(config)},
        "layers": [
            {"mediaType": mt.OCI_LAYER_NONDIST_TAR, "digest": sha(base), "size": len(base),
             "urls": [f"http://{static.host}/foreign/{sha(base)}"]},
            {"mediaType": mt.OCI_LAYER_TAR, "digest": static.add_blob(own), "size": len(own)},
        ],
    })  # fmt: skip
    static.put_manifest("foreign/image", "t", manifest)
    svc = new_svc()
    msgs = collect(svc.pull(f"{static.host}/foreign/image:t", None, None))
    assert not errors(msgs), msgs
    assert static.served(sha(base)) == len(base)
    assert [la.media_type for la in svc.resolve(f"{static.host}/foreign/image:t").layers] == [
        mt.OCI_LAYER_NONDIST_TAR,
        mt.OCI_LAYER_TAR,
    ]


@pytest.mark.parametrize(
    "kinds",
    [
        (mt.OCI_MANIFEST, mt.OCI_CONFIG, mt.OCI_LAYER_NONDIST_GZIP, mt.OCI_LAYER_GZIP),
        (mt.DOCKER_MANIFEST, mt.DOCKER_CONFIG, mt.DOCKER_LAYER_FOREIGN_GZIP, mt.DOCKER_LAYER_GZIP),
    ],
    ids=["oci-nondistributable", "docker-foreign"],
)
def test_foreign_layers_are_never_pushed(
    kinds: tuple[str, str, str, str], static: StaticRegistry, new_svc: Any
) -> None:
    """image-spec layer.md: a non-distributable layer is not uploaded; the pushed manifest keeps
    its descriptor and ``urls`` (dockerd's "Skipped foreign layer"). The reference registry takes
    such a manifest without the blob once its URLs are allowed (validation.manifests.urls).
    distribution 2.8 knows the Docker type and OCI's nondistributable tar and tar+gzip."""
    manifest_type, config_type, foreign_type, layer_type = kinds
    base = gzip.compress(tar([entry("foreign", data=b"licensed elsewhere")]), mtime=0)
    own = gzip.compress(tar([entry("own", data=b"ours")]), mtime=0)
    static.foreign[sha(base)] = base
    config = canonical({"architecture": "amd64", "os": "linux", "config": {},
                        "rootfs": {"type": "layers", "diff_ids": [sha(gzip.decompress(base)),
                                                                  sha(gzip.decompress(own))]}})  # fmt: skip
    urls = [f"http://{static.host}/foreign/{sha(base)}"]
    foreign_desc = {"mediaType": foreign_type, "digest": sha(base), "size": len(base), "urls": urls}
    manifest = canonical({
        "schemaVersion": 2, "mediaType": manifest_type,
        "config": {"mediaType": config_type, "digest": static.add_blob(config), "size": len(config)},
        "layers": [foreign_desc, {"mediaType": layer_type, "digest": static.add_blob(own), "size": len(own)}],
    })  # fmt: skip
    static.put_manifest("foreign/source", "t", manifest, manifest_type)
    svc = new_svc()
    assert not errors(collect(svc.pull(f"{static.host}/foreign/source:t", None, None)))
    assert svc.content.has(sha(base))  # fetched from its URL, held locally

    target = StaticRegistry()  # holds nothing yet: every blob it gets was uploaded by this push
    try:
        svc.tag(f"{static.host}/foreign/source:t", f"{target.host}/foreign/pushed", "1")
        msgs = collect(svc.push(f"{target.host}/foreign/pushed:1", None))
        assert not errors(msgs), msgs
        assert "Skipped foreign layer" in [m.get("status") for m in msgs]
        assert not [r for r in target.requests if sha(base) in r], target.requests  # not even a HEAD
        assert sorted(target.uploaded) == sorted([sha(own), sha(config)])
        media_type, body = target.pushed[("foreign/pushed", "1")]
        assert media_type == manifest_type and body == manifest  # byte for byte: its urls kept
        assert json.loads(body)["layers"][0] == foreign_desc
    finally:
        target.stop()

    allow = "validation:\n  manifests:\n    urls:\n      allow:\n        - '^http://127\\.0\\.0\\.1:'\n"
    registry = ReferenceRegistry(extra_yaml=allow)
    try:
        svc.tag(f"{static.host}/foreign/source:t", f"{registry.host}/foreign/pushed", "1")
        assert not errors(collect(svc.push(f"{registry.host}/foreign/pushed:1", None)))
        head = f"http://{registry.host}/v2/foreign/pushed/blobs/{sha(base)}"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(head, method="HEAD"), timeout=10)
        assert refused.value.code == 404  # the reference registry has the manifest, not the blob
        fresh = new_svc()
        assert not errors(collect(fresh.pull(f"{registry.host}/foreign/pushed:1", None, None)))
        source = svc.resolve(f"{static.host}/foreign/source:t")
        assert fresh.resolve(f"{registry.host}/foreign/pushed:1").id == source.id
    finally:
        registry.stop()


def test_tags_list(registry: ReferenceRegistry, new_svc: Any) -> None:
    svc = new_svc()
    svc.bootstrap_busybox()
    for i in range(3):
        svc.tag("busybox", f"{registry.host}/paged/tags", f"t{i}")
    assert not errors(collect(svc.push(f"{registry.host}/paged/tags", None, all_tags=True)))

    async def tags() -> list[str]:
        async with RegistryClient(registry.host) as c:
            return await c.tags("paged/tags")

    assert asyncio.run(tags()) == ["t0", "t1", "t2"]
    assert json.loads(json.dumps(svc.options.registry.mirrors)) == {}


def test_refresh_token_replaces_the_password(new_svc: Any) -> None:
    """Against `dockyard registry serve` with accounts: the first token (GET, Basic) comes with a
    refresh token (offline_token=true); tokens for new scopes come from the OAuth2 POST
    (grant_type=refresh_token), so a push works even once the password given is wrong; a refresh
    token alone (`identitytoken`, as `docker login` stores it) pulls; a bogus one is refused."""
    from tests.unit.registry.harness import running_registry

    with running_registry(auth=True) as server:
        server.add_user("alice", "alice-pass-1")
        svc = new_svc()
        svc.bootstrap_busybox()
        first = f"{server.addr}/alice/one:1"
        svc.tag("busybox", first, None)
        assert not errors(collect(svc.push(first, {"username": "alice", "password": "alice-pass-1"})))
        refreshed = svc.tokens.refreshed  # the push scope's token, after the ping's (GET) one
        second = f"{server.addr}/alice/two:1"
        svc.tag("busybox", second, None)
        msgs = collect(svc.push(second, {"username": "alice", "password": "no longer right"}))
        assert not errors(msgs), msgs
        assert svc.tokens.refreshed > refreshed  # the new scope's token came from the refresh token

        form = {"grant_type": "password", "username": "alice", "password": "alice-pass-1",
                "service": "dockyard-registry", "client_id": "test", "access_type": "offline"}  # fmt: skip
        req = urllib.request.Request(f"{server.url}/token", data=urllib.parse.urlencode(form).encode())
        with urllib.request.urlopen(req, timeout=10) as resp:
            identity = json.load(resp)["refresh_token"]
        fresh = new_svc()
        assert not errors(collect(fresh.pull(second, {"identitytoken": identity}, None)))
        assert fresh.tokens.refreshed >= 1 and fresh.resolve(second).id == svc.resolve(second).id

        bogus = new_svc()
        with pytest.raises(Unauthorized, match="refused the refresh token"):
            collect(bogus.pull(second, {"identitytoken": "not-a-refresh-token"}, None))


def test_token_server_without_oauth_post_falls_back_to_get(new_svc: Any, tmp_path: Path) -> None:
    tokens = TokenServer(tmp_path, "bob", "pw")  # GET only: a POST gets 501
    reg = ReferenceRegistry(tokens.auth_config())
    try:
        svc = new_svc()
        svc.bootstrap_busybox()
        ref = f"{reg.host}/fallback/bb:1"
        svc.tag("busybox", ref, None)
        creds = {"username": "bob", "password": "pw", "identitytoken": "refresh-me"}
        assert not errors(collect(svc.push(ref, creds)))
        assert svc.tokens.refreshed == 0 and svc.tokens.no_oauth == {tokens.url}
        assert all("offline_token=true" in r for r in tokens.requests), tokens.requests
    finally:
        reg.stop()
        tokens.stop()
