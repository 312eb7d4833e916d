"""Image commands of ``dockyard`` against the engine; pull and push use the reference registry on loopback."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_cli_engine import (  # noqa: F401
    CliEngine,
    cli_engine_fixture,
    explain,
    names_fixture,
    new_name,
    scratch_fixture,
    unique,
)

pytestmark = [pytest.mark.root]


@pytest.fixture
def tags(cli_engine: CliEngine) -> Iterator[list[str]]:
    """Image references a test makes; each is removed (``rmi -f``) afterwards."""
    made: list[str] = []
    try:
        yield made
    finally:
        if made:
            cli_engine.docker("rmi", "-f", *made)


def new_tag(tags: list[str], repo: str = "dycimg") -> str:
    ref = f"{repo}{unique()}:t1"
    tags.append(ref)
    return ref


def _no_created(line: str) -> list[str]:
    cells = re.split(r"\s{2,}", line.strip())
    return cells[:3] + cells[4:]


def test_images_table_and_formats(cli_engine: CliEngine, tags: list[str]) -> None:
    ref = new_tag(tags)
    cli_engine.ok("tag", "busybox", ref)
    repo, tag = ref.split(":")
    ours = cli_engine.ok("images", repo).splitlines()
    theirs = cli_engine.docker("images", repo).stdout.splitlines()
    # Same table, column for column; CREATED ("16 seconds ago") may tick between the two calls.
    assert [_no_created(line) for line in ours] == [_no_created(line) for line in theirs]
    assert [len(line) for line in ours[:1]] == [len(line) for line in theirs[:1]]
    assert ours[0].split()[:2] == ["REPOSITORY", "TAG"]
    assert ours[1].split()[:2] == [repo, tag]
    image_id = cli_engine.inspect("busybox")["Id"]
    assert cli_engine.ok("images", "-q", repo).split() == [str(image_id)[7:19]]
    assert cli_engine.ok("images", "--no-trunc", "--format", "{{.ID}}", repo).strip() == image_id
    digests = cli_engine.ok("images", "--digests", repo).splitlines()
    assert digests[0].split()[:3] == ["REPOSITORY", "TAG", "DIGEST"] and digests[1].split()[2] == "<none>"
    data = json.loads(cli_engine.ok("image", "ls", "--format", "{{json .}}", repo))
    assert (data["Repository"], data["Tag"], data["Size"][-2:]) == (repo, tag, "MB")
    fmt = ("--format", "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}")
    assert cli_engine.ok("images", *fmt, repo) == cli_engine.docker("images", *fmt, repo).stdout


def test_tag_rmi_and_errors(cli_engine: CliEngine, tags: list[str]) -> None:
    ref = new_tag(tags)
    cli_engine.ok("tag", "busybox:latest", ref)
    assert cli_engine.inspect(ref)["Id"] == cli_engine.inspect("busybox")["Id"]
    assert cli_engine.ok("rmi", ref).strip() == f"Untagged: {ref}"
    res = cli_engine.cli("rmi", ref)
    assert res.returncode == 1
    assert res.stderr.decode().startswith("Error response from daemon:")
    res = cli_engine.cli("tag", "busybox", "Bad:Upper")
    assert res.returncode == 1 and b"invalid reference format" in res.stderr


def test_history(cli_engine: CliEngine) -> None:
    ours = cli_engine.ok("history", "busybox").splitlines()
    assert ours[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert len(ours) == len(cli_engine.docker("history", "busybox").stdout.splitlines())
    ids = cli_engine.ok("history", "-q", "--no-trunc", "busybox").split()
    assert ids[0] == cli_engine.inspect("busybox")["Id"]


def test_save_load_round_trip(cli_engine: CliEngine, tags: list[str], scratch: Path) -> None:
    ref = new_tag(tags)
    cli_engine.ok("tag", "busybox", ref)
    archive = scratch / "img.tar"
    cli_engine.ok("save", "-o", str(archive), ref)
    listing = subprocess.run(["tar", "-tf", str(archive)], capture_output=True, text=True, check=True).stdout
    assert "manifest.json" in listing.split()
    streamed = cli_engine.cli("save", ref)
    assert streamed.returncode == 0 and streamed.stdout == archive.read_bytes()
    cli_engine.ok("rmi", ref)
    assert cli_engine.ok("load", "-i", str(archive)).strip() == f"Loaded image: {ref}"
    cli_engine.ok("rmi", ref)
    assert cli_engine.ok("load", input=archive.read_bytes()).strip() == f"Loaded image: {ref}"
    assert cli_engine.ok("load", "-q", "-i", str(archive)).strip() == f"Loaded image: {ref}"
    res = cli_engine.cli("run", "--rm", ref, "echo", "loaded-runs")
    assert res.stdout == b"loaded-runs\n", explain(res, ["run"])


def test_import_from_file_and_stdin(
    cli_engine: CliEngine, tags: list[str], names: list[str], scratch: Path
) -> None:
    name = new_name(names)
    cli_engine.ok("create", "--name", name, "busybox", "true")
    rootfs = scratch / "rootfs.tar"
    cli_engine.ok("export", "-o", str(rootfs), name)
    ref = new_tag(tags)
    out = cli_engine.ok("import", "-c", 'CMD ["echo", "imported"]', "-m", "from test", str(rootfs), ref)
    assert out.strip().startswith("sha256:")
    assert cli_engine.cli("run", "--rm", ref).stdout == b"imported\n"
    ref2 = new_tag(tags)
    out = cli_engine.ok("image", "import", "-", ref2, input=rootfs.read_bytes())
    assert out.strip() == cli_engine.inspect(ref2)["Id"]


def test_image_inspect_and_prune(cli_engine: CliEngine, names: list[str]) -> None:
    data = json.loads(cli_engine.ok("image", "inspect", "busybox"))
    assert data[0]["Id"] == cli_engine.inspect("busybox")["Id"]
    assert cli_engine.ok("image", "inspect", "-f", "{{json .Config.Cmd}}", "busybox").strip() == '["sh"]'
    res = cli_engine.cli("image", "inspect", "no-such-image-" + unique())
    assert res.returncode == 1 and res.stdout == b"[]\n"
    # A dangling image: commit without a name, then prune it (filtered to it by its label).
    name = new_name(names)
    cli_engine.ok("create", "--name", name, "busybox", "true")
    label = f"dyc-prune={unique()}"
    image_id = cli_engine.ok("commit", "-c", f"LABEL {label}", name).strip()
    out = cli_engine.ok("image", "prune", "-f", "--filter", f"label={label}")
    assert f"deleted: {image_id}" in out.splitlines()
    assert out.rstrip().splitlines()[-1].startswith("Total reclaimed space: ")
    assert cli_engine.docker("image", "inspect", image_id).returncode != 0


def test_pull_push_reference_registry(
    cli_engine: CliEngine, tags: list[str], reference_registry: str
) -> None:
    """pull from and push to the reference registry on 127.0.0.1 (plain HTTP: a loopback registry)."""
    remote = f"{reference_registry}/library/pulled:1"
    tags.append(remote)
    res = cli_engine.cli("pull", remote)
    assert res.returncode == 0, explain(res, ["pull"])
    lines = res.stdout.decode().splitlines()
    assert lines[0] == "1: Pulling from library/pulled"
    assert any(line.startswith("Digest: sha256:") for line in lines)
    assert lines[-1] == remote  # the reference pulled, last, as docker prints it
    assert cli_engine.ok("pull", "-q", remote).strip() == remote
    pushed = f"{reference_registry}/cli{unique()}/pushed:2"
    tags.append(pushed)
    cli_engine.ok("tag", remote, pushed)
    out = cli_engine.ok("push", pushed)
    assert out.splitlines()[0] == f"The push refers to repository [{pushed.rsplit(':', 1)[0]}]"
    assert out.splitlines()[-1].startswith("2: digest: sha256:")
    cli_engine.ok("rmi", pushed)
    assert cli_engine.ok("pull", "-q", pushed).strip() == pushed
    res = cli_engine.cli("run", "--rm", pushed, "echo", "pulled-runs")
    assert res.stdout == b"pulled-runs\n", explain(res, ["run"])


def test_run_pulls_a_missing_image(cli_engine: CliEngine, tags: list[str], reference_registry: str) -> None:
    ref = f"{reference_registry}/library/pulled:1"
    tags.append(ref)
    cli_engine.docker("rmi", "-f", ref)
    res = cli_engine.cli("run", "--rm", ref, "echo", "after-pull")
    assert res.returncode == 0, explain(res, ["run"])
    assert res.stdout == b"after-pull\n"
    err = res.stderr.decode().splitlines()
    assert err[0] == f"Unable to find image '{ref}' locally"
    assert "1: Pulling from library/pulled" in err


def test_login_logout_store_credentials(cli_engine: CliEngine, reference_registry: str) -> None:
    """login checks with the daemon (POST /auth) and keeps docker's config.json shape."""
    config = cli_engine.config_dir / "config.json"
    res = cli_engine.cli("login", "-u", "tester", "--password-stdin", reference_registry, input=b"s3cret\n")
    try:
        assert res.returncode == 0, explain(res, ["login"])
        assert res.stdout.decode().strip() == "Login Succeeded"
        stored = json.loads(config.read_text())["auths"][reference_registry]["auth"]
        assert base64.b64decode(stored) == b"tester:s3cret"
        assert config.stat().st_mode & 0o077 == 0
    finally:
        out = cli_engine.ok("logout", reference_registry)
    assert out.strip() == f"Removing login credentials for {reference_registry}"
    assert reference_registry not in json.loads(config.read_text()).get("auths", {})
    assert cli_engine.ok("logout", reference_registry).strip() == f"Not logged in to {reference_registry}"
