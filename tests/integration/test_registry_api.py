"""The distribution API over plain HTTP, against dockyard's registry and the reference registry
(Debian's docker-registry 2.8) alike: one behaviour suite, two implementations. Checks that only
make sense for dockyard (OCI 1.1 referrers, the 4 MiB limit, its storage tree) take ``dockyard``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from tests.unit.registry.harness import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Api,
    ReferenceRegistry,
    RegistryServer,
    error_codes,
    image_config,
    image_manifest,
    make_layer,
    raw_request,
    sha256,
)

IMPLEMENTATIONS = ["dockyard", "reference"]


@pytest.fixture(scope="module")
def dockyard_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    server = RegistryServer(str(tmp_path_factory.mktemp("registry")))
    try:
        yield server.start()
    finally:
        server.close()


@pytest.fixture(scope="module")
def reference_server() -> Iterator[ReferenceRegistry]:
    server = ReferenceRegistry()
    try:
        yield server.start()
    finally:
        server.close()


@pytest.fixture(params=IMPLEMENTATIONS)
def api(request: pytest.FixtureRequest) -> Api:
    fixture = "dockyard_server" if request.param == "dockyard" else "reference_server"
    server = request.getfixturevalue(fixture)
    client = Api(server.url)
    client.url_label = request.param
    return client


@pytest.fixture
def dockyard(dockyard_server: RegistryServer) -> Api:
    return Api(dockyard_server.url)


def repo(suffix: str) -> str:
    return f"t{os.getpid()}/{suffix}"


def test_base_endpoint_announces_api_version(api: Api) -> None:
    r = api.get("/v2/")
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_monolithic_push_then_head_get_and_range(api: Api, request: pytest.FixtureRequest) -> None:
    name = repo("mono")
    data = os.urandom(100_000)
    d = sha256(data)
    r = api.post(
        f"/v2/{name}/blobs/uploads/?digest={d}",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    if "reference" in request.node.name and r.status_code == 202:
        # distribution 2.8 ignores ?digest= on POST (the spec's MAY): the client falls back to PUT.
        loc = r.headers["Location"]
        r = api.s.put(f"{loc}&digest={d}", data=data, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == d
    assert r.headers["Location"].endswith(f"/v2/{name}/blobs/{d}")
    h = api.head(f"/v2/{name}/blobs/{d}")
    assert h.status_code == 200
    assert int(h.headers["Content-Length"]) == len(data)
    assert h.headers["Docker-Content-Digest"] == d
    assert api.get(f"/v2/{name}/blobs/{d}").content == data
    part = api.get(f"/v2/{name}/blobs/{d}", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == data[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"


def test_large_blob_get_ranges_etag_and_keep_alive(api: Api) -> None:
    """A blob of several read chunks (and not a multiple of one) comes back whole, twice on one
    kept-alive connection, in any range, and with its digest as the ETag."""
    name = repo("large")
    data = os.urandom(3 * 1024 * 1024 + 17)
    d = api.push_blob(name, data)
    for _ in range(2):
        r = api.get(f"/v2/{name}/blobs/{d}")
        assert r.status_code == 200 and r.content == data
    assert r.headers["ETag"] == f'"{d}"'
    not_modified = api.get(f"/v2/{name}/blobs/{d}", headers={"If-None-Match": f'"{d}"'})
    assert not_modified.status_code == 304 and not_modified.content == b""
    cases = {
        "bytes=-10": data[-10:],
        "bytes=3145000-": data[3145000:],
        "bytes=262140-262150": data[262140:262151],
        "bytes=0-0": data[:1],
    }
    for rng, want in cases.items():
        part = api.get(f"/v2/{name}/blobs/{d}", headers={"Range": rng})
        assert part.status_code == 206, rng
        assert part.content == want, rng


def _open_fds(pid: int) -> int:
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return sum(len(os.listdir(f"/proc/{p}/fd")) for p in [str(pid), *children])


@pytest.mark.parametrize("api", ["dockyard"], indirect=True)
def test_abandoned_downloads_leave_no_open_file(api: Api, dockyard_server: RegistryServer) -> None:
    """Clients that hang up in the middle of a blob leave the server serving, with no file or
    socket left open for them."""
    name = repo("abandoned")
    data = os.urandom(16 * 1024 * 1024)
    d = api.push_blob(name, data)
    assert dockyard_server.proc is not None
    pid = dockyard_server.proc.pid
    api.get("/v2/")
    before = _open_fds(pid)
    log_start = len(dockyard_server.log())
    host, port = dockyard_server.addr.rsplit(":", 1)
    for _ in range(5):
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(f"GET /v2/{name}/blobs/{d} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            got = 0
            while got < 200_000:
                chunk = conn.recv(65536)
                assert chunk
                got += len(chunk)
    deadline = time.monotonic() + 15
    while _open_fds(pid) > before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _open_fds(pid) <= before
    assert api.get(f"/v2/{name}/blobs/{d}").content == data
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        gets = [
            json.loads(line)
            for line in dockyard_server.log().splitlines()
            if line.startswith("{") and f"/blobs/{d}" in line and '"GET"' in line
        ]
        if len(gets) == 6:
            break
        time.sleep(0.1)
    assert [e["status"] for e in gets] == [200] * 6
    assert gets[-1]["bytes"] > len(data)  # the body and the headers
    assert all(200_000 <= e["bytes"] < len(data) for e in gets[:5])
    assert "Traceback" not in dockyard_server.log()[log_start:]


# distribution 2.8 does not check where a PATCH starts (it appends out-of-order chunks): dockyard only.
@pytest.mark.parametrize("api", ["dockyard"], indirect=True)
def test_chunked_upload_checks_content_range_order(api: Api) -> None:
    name = repo("chunks")
    data = os.urandom(30_000)
    r = api.post(f"/v2/{name}/blobs/uploads/")
    assert r.status_code == 202
    assert r.headers["Range"] == "0-0"
    loc = r.headers["Location"]
    loc = loc if loc.startswith("http") else api.url + loc
    r = api.s.patch(
        loc,
        data=data[:10_000],
        headers={"Content-Range": "0-9999", "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 202, r.text
    assert r.headers["Range"] == "0-9999"
    loc = (
        r.headers["Location"] if r.headers["Location"].startswith("http") else api.url + r.headers["Location"]
    )
    # Out of order: the chunk that should start at 10000 claims 20000.
    bad = api.s.patch(
        loc,
        data=data[20_000:],
        headers={"Content-Range": "20000-29999", "Content-Type": "application/octet-stream"},
    )
    assert bad.status_code == 416
    status = api.s.get(loc)
    assert status.status_code == 204
    assert status.headers["Range"] == "0-9999"
    r = api.s.patch(
        loc,
        data=data[10_000:20_000],
        headers={"Content-Range": "10000-19999", "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 202
    loc = (
        r.headers["Location"] if r.headers["Location"].startswith("http") else api.url + r.headers["Location"]
    )
    sep = "&" if "?" in loc else "?"
    r = api.s.put(
        f"{loc}{sep}digest={sha256(data)}",
        data=data[20_000:],
        headers={"Content-Range": "20000-29999", "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 201, r.text
    assert api.get(f"/v2/{name}/blobs/{sha256(data)}").content == data


def test_digest_mismatch_stores_nothing(api: Api) -> None:
    name = repo("baddigest")
    data = os.urandom(5000)
    claimed = sha256(b"something else")
    loc = api.post(f"/v2/{name}/blobs/uploads/").headers["Location"]
    loc = loc if loc.startswith("http") else api.url + loc
    sep = "&" if "?" in loc else "?"
    r = api.s.put(
        f"{loc}{sep}digest={claimed}", data=data, headers={"Content-Type": "application/octet-stream"}
    )
    assert r.status_code == 400
    assert "DIGEST_INVALID" in error_codes(r)
    assert api.head(f"/v2/{name}/blobs/{claimed}").status_code == 404
    assert api.head(f"/v2/{name}/blobs/{sha256(data)}").status_code == 404


def test_cross_repository_mount(api: Api) -> None:
    src, dst = repo("mount-src"), repo("mount-dst")
    d = api.push_blob(src, os.urandom(2000))
    r = api.post(f"/v2/{dst}/blobs/uploads/?mount={d}&from={src}")
    assert r.status_code == 201
    assert r.headers["Docker-Content-Digest"] == d
    assert api.head(f"/v2/{dst}/blobs/{d}").status_code == 200
    # An unknown blob cannot be mounted: the registry starts a normal upload instead.
    missing = sha256(b"never pushed")
    r = api.post(f"/v2/{dst}/blobs/uploads/?mount={missing}&from={src}")
    assert r.status_code == 202


def test_upload_status_cancel_and_unknown(api: Api) -> None:
    name = repo("cancel")
    r = api.post(f"/v2/{name}/blobs/uploads/")
    loc = r.headers["Location"]
    loc = loc if loc.startswith("http") else api.url + loc
    assert api.s.delete(loc).status_code == 204
    gone = api.s.get(loc)
    assert gone.status_code == 404
    assert "BLOB_UPLOAD_UNKNOWN" in error_codes(gone)


@pytest.mark.parametrize("docker", [False, True], ids=["oci", "docker"])
def test_manifest_and_index_push_pull_with_accept(api: Api, docker: bool) -> None:
    name = repo("kinds-docker" if docker else "kinds-oci")
    digest, body = api.push_image(name, "amd64", docker=docker)
    child_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
    index_type = DOCKER_LIST if docker else OCI_INDEX
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": index_type,
            "manifests": [
                {
                    "mediaType": child_type,
                    "digest": digest,
                    "size": len(body),
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
            ],
        }
    ).encode()
    r = api.push_manifest(name, "multi", index, index_type)
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == sha256(index)
    got = api.get(f"/v2/{name}/manifests/multi", headers={"Accept": index_type})
    assert got.status_code == 200
    assert got.headers["Content-Type"] == index_type
    assert got.content == index
    if docker or "dockyard" in api.url_label:
        # A client that takes only image manifests gets the linux/amd64 image of the list
        # (distribution does this for Docker lists only; dockyard for OCI indexes too).
        fallback = api.get(f"/v2/{name}/manifests/multi", headers={"Accept": child_type})
        assert fallback.status_code == 200
        assert fallback.headers["Docker-Content-Digest"] == digest
    head = api.head(f"/v2/{name}/manifests/{digest}", headers={"Accept": child_type})
    assert head.status_code == 200
    assert int(head.headers["Content-Length"]) == len(body)
    assert head.headers["Docker-Content-Digest"] == digest


def test_manifest_naming_missing_blob_is_refused(api: Api) -> None:
    name = repo("missing")
    layer = make_layer({"x": b"never pushed"})
    cfg = image_config([layer])
    api.push_blob(name, cfg)
    r = api.push_manifest(name, "v1", image_manifest(cfg, [layer]), OCI_MANIFEST)
    assert r.status_code == 400
    assert "MANIFEST_BLOB_UNKNOWN" in error_codes(r)


def test_manifest_by_digest_must_match_body(api: Api) -> None:
    name = repo("bydigest")
    _digest, body = api.push_image(name, "v1")
    wrong = sha256(body + b" ")
    r = api.push_manifest(name, wrong, body, OCI_MANIFEST)
    assert r.status_code == 400
    assert "DIGEST_INVALID" in error_codes(r)


def test_names_with_dot_segments_are_refused(api: Api) -> None:
    addr = api.url.removeprefix("http://")
    for path in ("/v2/a/../b/tags/list", "/v2/../../etc/manifests/latest", "/v2/a/%2e%2e/b/tags/list"):
        status, headers, _b = raw_request(addr, "GET", path)
        # dockyard: 400 NAME_INVALID; distribution: a 301 redirect to the cleaned path.
        assert status in (400, 404) or (status == 301 and "Location" in headers), path


# distribution 2.8 pages tags in storage order, not lexically as the spec says: dockyard only.
@pytest.mark.parametrize("api", ["dockyard"], indirect=True)
def test_tags_list_paginates_with_link(api: Api) -> None:
    name = repo("tags")
    _digest, body = api.push_image(name, "a")
    for tag in ("b", "c", "d"):
        assert api.push_manifest(name, tag, body, OCI_MANIFEST).status_code == 201
    r = api.get(f"/v2/{name}/tags/list?n=2")
    assert r.json() == {"name": name, "tags": ["a", "b"]}
    assert 'rel="next"' in r.headers["Link"]
    assert "last=b" in r.headers["Link"]
    r = api.get(f"/v2/{name}/tags/list?n=2&last=b")
    assert r.json()["tags"] == ["c", "d"]
    assert api.get(f"/v2/{name}/tags/list").json()["tags"] == ["a", "b", "c", "d"]


def test_catalog_paginates(api: Api) -> None:
    names = sorted(repo(f"cat{i}") for i in range(3))
    for n in names:
        api.push_image(n, "v1")
    listed: list[str] = []
    r = api.get("/v2/_catalog?n=2")
    while True:
        assert r.status_code == 200
        listed += r.json()["repositories"]
        if "Link" not in r.headers:
            break
        link = r.headers["Link"].split(";")[0].strip("<>")
        r = api.get(link if link.startswith("/") else link.split(api.url, 1)[1])
    assert all(n in listed for n in names)
    assert listed == sorted(listed)


def test_delete_tag_manifest_and_blob(api: Api) -> None:
    name = repo("delete")
    digest, _body = api.push_image(name, "v1")
    assert api.delete(f"/v2/{name}/manifests/{digest}").status_code == 202
    r = api.get(f"/v2/{name}/manifests/{digest}")
    assert r.status_code == 404
    assert "MANIFEST_UNKNOWN" in error_codes(r)
    assert api.get(f"/v2/{name}/manifests/v1").status_code == 404
    blob = api.push_blob(name, b"to delete")
    assert api.delete(f"/v2/{name}/blobs/{blob}").status_code == 202
    assert api.head(f"/v2/{name}/blobs/{blob}").status_code == 404


def test_unknown_things_have_spec_codes(api: Api) -> None:
    name = repo("unknown")
    r = api.get(f"/v2/{name}/blobs/{sha256(b'nothing')}")
    assert r.status_code == 404
    assert "BLOB_UNKNOWN" in error_codes(r)
    r = api.get(f"/v2/{name}/manifests/nope")
    assert r.status_code == 404
    assert set(error_codes(r)) & {"MANIFEST_UNKNOWN", "NAME_UNKNOWN"}
    r = api.get(f"/v2/{name}/blobs/sha256:xyz")
    assert r.status_code in (400, 404)
    assert "DIGEST_INVALID" in error_codes(r) or "BLOB_UNKNOWN" in error_codes(r)
    r = api.get("/v2/UPPER/tags/list")
    assert r.status_code in (400, 404)


def test_eight_clients_push_the_same_blob(api: Api) -> None:
    name = repo("same")
    data = os.urandom(1_000_000)
    errors: list[BaseException] = []

    def push(i: int) -> None:
        try:
            Api(api.url).push_blob(f"{name}{i % 2}", data)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for i in range(2):
        assert api.get(f"/v2/{name}{i}/blobs/{sha256(data)}").content == data


# ---------------------------------------------------------------- dockyard only


def test_manifest_over_4mib_is_refused(dockyard: Api) -> None:
    name = repo("huge")
    body = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "pad": "x" * (4 * 1024 * 1024)}
    ).encode()
    r = dockyard.push_manifest(name, "v1", body, OCI_MANIFEST)
    assert r.status_code == 413
    assert "MANIFEST_INVALID" in error_codes(r)


def test_referrers_list_and_filter(dockyard: Api) -> None:
    name = repo("referrers")
    subject, body = dockyard.push_image(name, "v1")
    empty = b"{}"
    dockyard.push_blob(name, empty)
    sig_layer = b"signature bytes"
    dockyard.push_blob(name, sig_layer)
    refs = {}
    for kind in ("application/vnd.example.sig", "application/vnd.example.sbom"):
        doc = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": kind,
                "config": {
                    "mediaType": "application/vnd.oci.empty.v1+json",
                    "digest": sha256(empty),
                    "size": 2,
                },
                "layers": [
                    {
                        "mediaType": "application/octet-stream",
                        "digest": sha256(sig_layer),
                        "size": len(sig_layer),
                    }
                ],
                "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": len(body)},
                "annotations": {"kind": kind},
            }
        ).encode()
        r = dockyard.push_manifest(name, sha256(doc), doc, OCI_MANIFEST)
        assert r.status_code == 201, r.text
        assert r.headers["OCI-Subject"] == subject
        refs[kind] = sha256(doc)
    r = dockyard.get(f"/v2/{name}/referrers/{subject}")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == OCI_INDEX
    listed = {m["digest"]: m for m in r.json()["manifests"]}
    assert set(listed) == set(refs.values())
    assert listed[refs["application/vnd.example.sig"]]["artifactType"] == "application/vnd.example.sig"
    assert listed[refs["application/vnd.example.sig"]]["annotations"] == {
        "kind": "application/vnd.example.sig"
    }
    r = dockyard.get(f"/v2/{name}/referrers/{subject}?artifactType=application/vnd.example.sbom")
    assert r.headers["OCI-Filters-Applied"] == "artifactType"
    assert [m["digest"] for m in r.json()["manifests"]] == [refs["application/vnd.example.sbom"]]
    dockyard.delete(f"/v2/{name}/manifests/{refs['application/vnd.example.sbom']}")
    r = dockyard.get(f"/v2/{name}/referrers/{subject}")
    assert [m["digest"] for m in r.json()["manifests"]] == [refs["application/vnd.example.sig"]]


def test_blobs_are_stored_once_across_repositories(dockyard: Api, dockyard_server: RegistryServer) -> None:
    data = os.urandom(3000)
    d = dockyard.push_blob(repo("share1"), data)
    dockyard.push_blob(repo("share2"), data)
    hexd = d.split(":")[1]
    stored = [
        p
        for p, _dirs, files in os.walk(os.path.join(dockyard_server.storage, "blobs"))
        if hexd in p and files
    ]
    assert len(stored) == 1


def test_accept_mismatch_is_manifest_unknown(dockyard: Api) -> None:
    name = repo("accept")
    _digest, _ = dockyard.push_image(name, "v1")
    r = dockyard.get(f"/v2/{name}/manifests/v1", headers={"Accept": DOCKER_MANIFEST})
    assert r.status_code == 404
    assert "MANIFEST_UNKNOWN" in error_codes(r)
    r = dockyard.get(f"/v2/{name}/manifests/v1", headers={"Accept": f"{DOCKER_MANIFEST}, {OCI_MANIFEST}"})
    assert r.status_code == 200
