"""The image commands of the CLI against a daemon of their own: login/logout through a
docker-credential helper, pull -q / -a / by digest, push -a, `system check [--repair]` on a
store corrupted on purpose, and `system df` agreeing with du within 1 % (with shared sizes)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from tests.daemon_harness import DOCKYARD, DockyardDaemon
from tests.integration.test_images_registry import ReferenceRegistry

HELPER = """#!/bin/sh
# docker-credential-helpers protocol, storing in $DYTEST_STORE (one JSON object per server)
store="$DYTEST_STORE"
[ -f "$store" ] || echo '{}' > "$store"
case "$1" in
get) server=$(cat); exec python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); s=sys.argv[2]
if s not in d: print("credentials not found in native keychain"); sys.exit(1)
print(json.dumps({"ServerURL": s, "Username": d[s][0], "Secret": d[s][1]}))' "$store" "$server" ;;
store) exec python3 -c 'import json,sys; c=json.load(sys.stdin); d=json.load(open(sys.argv[1]))
d[c["ServerURL"]]=[c["Username"], c["Secret"]]; json.dump(d, open(sys.argv[1], "w"))' "$store" ;;
erase) server=$(cat); exec python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
d.pop(sys.argv[2], None); json.dump(d, open(sys.argv[1], "w"))' "$store" "$server" ;;
esac
"""


@pytest.fixture(scope="module")
def d() -> Iterator[DockyardDaemon]:
    daemon = DockyardDaemon("--max-concurrent-downloads", "2", "--image-limit", "max-entries=200000")
    with daemon:
        daemon.bootstrap()
        yield daemon


@pytest.fixture(scope="module")
def registry() -> Iterator[ReferenceRegistry]:
    reg = ReferenceRegistry()
    try:
        yield reg
    finally:
        reg.stop()


def cli(d: DockyardDaemon, *args: str, env: dict[str, str] | None = None, input: bytes | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:  # fmt: skip
    res = subprocess.run([DOCKYARD, *args], env={**d.env(), **(env or {})}, capture_output=True, text=True,
                         input=input.decode() if input else None, timeout=120)  # fmt: skip
    if check and res.returncode != 0:
        raise AssertionError(
            f"dockyard {' '.join(args)}: {res.returncode}\n{res.stdout}\n{res.stderr}\n{d.log()}"
        )
    return res


def test_login_through_a_credential_helper(d: DockyardDaemon, tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_bytes(b"alice:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)) + b"\n")
    reg = ReferenceRegistry({"htpasswd": {"realm": "dockyard-test", "path": str(htpasswd)}})
    try:
        bindir = tmp_path / "bin"
        bindir.mkdir()
        helper = bindir / "docker-credential-dytest"
        helper.write_text(HELPER)
        helper.chmod(0o755)
        store = tmp_path / "helper-store.json"
        env = {"PATH": f"{bindir}:/usr/bin:/bin", "DYTEST_STORE": str(store)}
        config_dir = Path(d.env()["DOCKER_CONFIG"])
        config_dir.mkdir(parents=True, exist_ok=True)
        (config_dir / "config.json").write_text(json.dumps({"credHelpers": {reg.host: "dytest"}}))
        res = cli(d, "login", "-u", "alice", "--password-stdin", reg.host, env=env, input=b"s3cret\n")
        assert res.stdout.strip() == "Login Succeeded" and "unencrypted" not in res.stderr
        assert json.loads(store.read_text()) == {reg.host: ["alice", "s3cret"]}
        assert json.loads((config_dir / "config.json").read_text())["auths"] == {reg.host: {}}
        ref = f"{reg.host}/private/bb:1"
        cli(d, "tag", "busybox", ref)
        cli(d, "push", ref, env=env)
        cli(d, "rmi", ref)
        assert cli(d, "pull", "-q", ref, env=env).stdout == ref + "\n"
        assert (
            cli(d, "logout", reg.host, env=env).stdout.strip() == f"Removing login credentials for {reg.host}"
        )
        assert json.loads(store.read_text()) == {}
        cli(d, "rmi", ref)
        denied = cli(d, "pull", ref, env=env, check=False)
        assert denied.returncode != 0 and "login" in denied.stderr, denied.stderr
    finally:
        (Path(d.env()["DOCKER_CONFIG"]) / "config.json").unlink(missing_ok=True)
        reg.stop()


def test_push_all_tags_then_pull_all_tags_quiet_and_by_digest(
    d: DockyardDaemon, registry: ReferenceRegistry
) -> None:
    repo = f"{registry.host}/cli/tags"
    for tag in ("one", "two"):
        cli(d, "tag", "busybox", f"{repo}:{tag}")
    out = cli(d, "push", "-a", repo).stdout
    assert "one: digest: sha256:" in out and "two: digest: sha256:" in out
    cli(d, "rmi", f"{repo}:one", f"{repo}:two")
    out = cli(d, "pull", "-a", repo).stdout
    assert out.strip().endswith(repo) and "Using default tag" not in out
    listed = cli(d, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert sorted(t for t in listed if t.startswith(repo + ":")) == [f"{repo}:one", f"{repo}:two"]
    digest = json.loads(cli(d, "image", "inspect", f"{repo}:one").stdout)[0]["RepoDigests"][0].split("@")[1]
    assert cli(d, "pull", "-q", f"{repo}@{digest}").stdout == f"{repo}@{digest}\n"
    cli(d, "rmi", f"{repo}:one", f"{repo}:two")


def _import(d: DockyardDaemon, tmp_path: Path, name: str, size: int) -> None:
    layer = tmp_path / f"{name.replace(':', '-').replace('/', '-')}.tar"
    with tarfile.open(layer, "w") as t:
        info = tarfile.TarInfo("payload")
        info.size = size
        t.addfile(info, io.BytesIO(os.urandom(size)))
    cli(d, "import", str(layer), name)


def test_system_check_finds_and_repairs_corruption(d: DockyardDaemon, tmp_path: Path) -> None:
    blobs = d.data_root / "content" / "blobs" / "sha256"
    layers = d.data_root / "overlay"
    before = set(blobs.iterdir()) | set(layers.iterdir())
    _import(d, tmp_path, "check/victim:1", 300_000)
    res = cli(d, "system", "check")
    assert res.stdout.strip().endswith(": clean"), res.stdout
    image = json.loads(cli(d, "image", "inspect", "check/victim:1").stdout)[0]
    # A flipped byte in the layer's unpacked file, and in a blob.
    layer_file = next(p / "diff" / "payload" for p in set(layers.iterdir()) - before if len(p.name) == 64)
    with open(layer_file, "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    blob = max(set(blobs.iterdir()) - before, key=lambda p: p.stat().st_size)  # the layer's
    blob.chmod(0o644)
    with open(blob, "r+b") as f:
        f.write(b"X")
    res = cli(d, "system", "check", check=False)
    assert res.returncode == 1
    assert f"blob sha256:{blob.name}: content does not match its digest" in res.stdout, res.stdout
    assert "its files differ from what was unpacked" in res.stdout
    assert f"image {image['Id']}" in res.stdout
    res = cli(d, "system", "check", "--repair")
    assert f"repaired: removed image {image['Id']}" in res.stdout
    assert cli(d, "system", "check").stdout.strip().endswith(": clean")
    assert cli(d, "images", "-q", "check/victim").stdout == ""
    assert not blob.exists() and not layer_file.exists()
    assert cli(d, "run", "--rm", "busybox", "echo", "still fine").stdout == "still fine\n"


def test_system_df_agrees_with_du_and_shows_shared_sizes(d: DockyardDaemon, tmp_path: Path) -> None:
    _import(d, tmp_path, "df/big:1", 40_000_000)
    cli(d, "run", "--name", "df-writer", "df/big:1", "/nonexistent", check=False)
    cli(d, "run", "--name", "df-rw", "busybox", "dd", "if=/dev/urandom", "of=/rw", "bs=1M", "count=6")
    cli(
        d,
        "run",
        "--rm",
        "-v",
        "df-vol:/v",
        "busybox",
        "dd",
        "if=/dev/urandom",
        "of=/v/data",
        "bs=1M",
        "count=6",
    )
    cli(d, "commit", "df-rw", "df/derived:1")  # shares busybox's layer
    try:
        argv = [DOCKYARD, "system", "df", "-v", "--format", "{{json .}}"]
        df = json.loads(subprocess.run(argv, env=d.env(), capture_output=True, text=True, check=True).stdout)
        total = (
            df["LayersSize"]
            + sum(c.get("SizeRw") or 0 for c in df["Containers"])
            + sum(max(0, (v.get("UsageData") or {}).get("Size") or 0) for v in df["Volumes"])
        )
        du = int(subprocess.run(["du", "-s", "-B1", str(d.data_root)], capture_output=True, text=True,
                                check=True).stdout.split()[0])  # fmt: skip
        assert abs(total - du) <= du / 100, (total, du, df["LayersSize"])
        images = {i["RepoTags"][0]: i for i in df["Images"] if i.get("RepoTags")}
        base = images["busybox:latest"]
        derived = images["df/derived:1"]
        assert base["SharedSize"] == base["Size"] > 0
        assert derived["SharedSize"] == base["Size"] and derived["Size"] > derived["SharedSize"]
        text = cli(d, "system", "df", "-v").stdout
        assert "SHARED SIZE" in text and "UNIQUE SIZE" in text and "df-vol" in text
    finally:
        cli(d, "rm", "-f", "df-writer", "df-rw", check=False)
        cli(d, "rmi", "df/derived:1", "df/big:1", check=False)
        cli(d, "volume", "rm", "df-vol", check=False)


def test_import_from_file_stdin_and_a_loopback_url_with_changes(d: DockyardDaemon, tmp_path: Path) -> None:
    import functools
    import http.server
    import threading

    layer = tmp_path / "rootfs.tar"
    with tarfile.open(layer, "w") as t:
        info = tarfile.TarInfo("hello")
        info.size = 5
        t.addfile(info, io.BytesIO(b"hello"))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/rootfs.tar"
        cli(d, "import", "-c", 'CMD ["/bin/true"]', "-c", "ENV FROM=url", url, "imported/url:1")
        cli(d, "import", "-c", "ENV FROM=file", str(layer), "imported/file:1")
        cli(
            d, "import", "-", "imported/stdin:1", input=layer.read_bytes().decode("latin-1").encode("latin-1")
        )
        url_image = json.loads(cli(d, "image", "inspect", "imported/url:1").stdout)[0]
        assert url_image["Config"]["Cmd"] == ["/bin/true"] and "FROM=url" in url_image["Config"]["Env"]
        ids = {json.loads(cli(d, "image", "inspect", n).stdout)[0]["RootFS"]["Layers"][0]
               for n in ("imported/url:1", "imported/file:1", "imported/stdin:1")}  # fmt: skip
        assert len(ids) == 1  # the same tarball, the same layer, stored once
        missing = cli(d, "import", url.replace("rootfs", "nothing"), "imported/none:1", check=False)
        assert missing.returncode != 0 and "not found" in missing.stderr
    finally:
        httpd.shutdown()
        httpd.server_close()
        cli(d, "rmi", "imported/url:1", "imported/file:1", "imported/stdin:1", check=False)
