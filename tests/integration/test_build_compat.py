"""Must show 1: a multi-stage busybox build with `dockyard build`, with the real docker CLI's
classic builder (DOCKER_BUILDKIT=0) and with docker-py, all against dockyard; the results run."""

from __future__ import annotations

import io
import tarfile
from typing import Any

import pytest

from tests.integration.build_helpers import (  # noqa: F401
    Contexts,
    Tags,
    build,
    contexts_fixture,
    docker_build,
    image_id,
    inspect,
    run_out,
    tags_fixture,
)

pytestmark = [pytest.mark.root]

MULTISTAGE = """\
FROM busybox AS maker
RUN echo "made in stage one" > /made.txt && wc -c /made.txt > /count.txt
FROM busybox AS unused
RUN exit 9
FROM busybox
COPY --from=maker /made.txt /count.txt /out/
COPY greeting.txt /out/
CMD ["sh", "-c", "cat /out/made.txt /out/count.txt /out/greeting.txt"]
"""


def test_multistage_with_dockyard_cli(dockyard_daemon: Any, contexts: Contexts, tags: Tags) -> None:
    ctx = contexts.make({"Dockerfile": MULTISTAGE, "greeting.txt": "hello from the context\n"})
    tag = tags.new()
    res = build(dockyard_daemon, "-t", tag, str(ctx))
    assert "#3 [3/6] FROM busybox" in res.stderr  # the unused stage is counted out, never run
    assert "exit 9" not in res.stderr
    out = run_out(dockyard_daemon, tag)
    assert out == "made in stage one\n18 /made.txt\nhello from the context\n"


def test_multistage_with_real_docker_cli(dockyard_daemon: Any, contexts: Contexts, tags: Tags) -> None:
    ctx = contexts.make({"Dockerfile": MULTISTAGE, "greeting.txt": "via docker\n"})
    tag = tags.new()
    res = docker_build(dockyard_daemon, "--no-cache", "-t", tag, str(ctx))
    assert "Step 1/6 : FROM busybox AS maker" in res.stdout
    assert f"Successfully tagged {tag}" in res.stdout
    built = res.stdout.split("Successfully built ")[1].split()[0]
    assert image_id(dockyard_daemon, tag).startswith(f"sha256:{built}")
    run = dockyard_daemon.docker("run", "--rm", tag)
    assert run.stdout == "made in stage one\n18 /made.txt\nvia docker\n"


def test_docker_cli_build_args_target_and_failure(
    dockyard_daemon: Any, contexts: Contexts, tags: Tags
) -> None:
    ctx = contexts.make(
        {
            "Dockerfile": 'ARG BASE=busybox\nFROM ${BASE} AS a\nARG MSG\nRUN echo "msg=$MSG" > /m\n'
            "FROM a AS b\nRUN echo bad-output; exit 7\n",
        }
    )
    tag = tags.new()
    res = docker_build(
        dockyard_daemon,
        "--build-arg",
        "MSG=hi there",
        "--build-arg",
        "UNUSED=1",
        "--target",
        "a",
        "-t",
        tag,
        str(ctx),
    )
    assert "Successfully tagged" in res.stdout
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in res.stdout
    assert run_out(dockyard_daemon, tag, "cat", "/m") == "msg=hi there\n"
    failed_tag = tags.new()
    bad = docker_build(dockyard_daemon, "-t", failed_tag, str(ctx), check=False)
    assert bad.returncode == 7  # the CLI exits with errorDetail.code, as with dockerd
    assert "bad-output" in bad.stdout
    assert "The command '/bin/sh -c echo bad-output; exit 7' returned a non-zero code: 7" in bad.stderr
    missing = dockyard_daemon.dockyard("image", "inspect", failed_tag, check=False)
    assert missing.returncode != 0  # nothing half-tagged


def test_docker_py_images_build(dockyard_daemon: Any, contexts: Contexts, tags: Tags) -> None:
    tag = tags.new()
    buf = io.BytesIO()
    dockerfile = b"FROM busybox\nLABEL made.by=docker-py\nRUN echo py > /py.txt\n"
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    buf.seek(0)
    client = dockyard_daemon.client()
    try:
        image, logs = client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True)
        assert tag in image.tags
        assert image.labels["made.by"] == "docker-py"
        assert any("Successfully built" in (entry.get("stream") or "") for entry in logs)
    finally:
        client.close()
    assert run_out(dockyard_daemon, tag, "cat", "/py.txt") == "py\n"
    assert inspect(dockyard_daemon, tag)["Config"]["Labels"] == {"made.by": "docker-py"}
