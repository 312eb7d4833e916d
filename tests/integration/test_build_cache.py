"""Must show 3, 4 and 5: reproducible digests, the cache (content, not mtimes; late changes
rebuild only from there; survives a daemon restart; pruned), and bad input."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_harness import DockyardDaemon
from tests.integration.build_helpers import (  # noqa: F401
    Contexts,
    Tags,
    build,
    contexts_fixture,
    image_id,
    inspect,
    tags_fixture,
)

pytestmark = [pytest.mark.root]

FIVE_STEPS = """\
FROM busybox
RUN echo step-one > /one.txt
COPY data.txt /data.txt
ENV MODE=test
RUN wc -c /data.txt > /count.txt
"""


def _cached_steps(stderr: str) -> list[int]:
    return [int(n) for n in re.findall(r"^#(\d+) CACHED$", stderr, re.M)]


def _done_steps(stderr: str) -> list[int]:
    return [int(n) for n in re.findall(r"^#(\d+) DONE", stderr, re.M)]


def test_no_cache_builds_are_reproducible(dockyard_daemon: Any, contexts: Contexts, tags: Tags) -> None:
    ctx = contexts.make({"Dockerfile": FIVE_STEPS, "data.txt": "x" * 5500})
    a, b, c = tags.new(), tags.new(), tags.new()
    build(dockyard_daemon, "--no-cache", "-t", a, str(ctx))
    os.utime(ctx / "data.txt", (2_000_000_000, 2_000_000_000))  # a later build, newer files
    build(dockyard_daemon, "--no-cache", "-t", b, str(ctx))
    assert image_id(dockyard_daemon, a) == image_id(dockyard_daemon, b)
    data = inspect(dockyard_daemon, a)
    assert data["Created"] == inspect(dockyard_daemon, "busybox")["Created"]  # T: the base image's
    (ctx / "data.txt").write_text("x" * 5499 + "y")  # one byte changed
    build(dockyard_daemon, "--no-cache", "-t", c, str(ctx))
    assert image_id(dockyard_daemon, c) != image_id(dockyard_daemon, a)


def test_source_date_epoch_and_docker_timestamps(
    dockyard_daemon: Any, contexts: Contexts, tags: Tags
) -> None:
    ctx = contexts.make({"Dockerfile": "FROM busybox\nARG SOURCE_DATE_EPOCH\nRUN echo x > /x\n"})
    a, b = tags.new(), tags.new()
    build(dockyard_daemon, "--no-cache", "--build-arg", "SOURCE_DATE_EPOCH=1700000000", "-t", a, str(ctx))
    data = inspect(dockyard_daemon, a)
    assert data["Created"].startswith("2023-11-14T22:13:20")
    build(dockyard_daemon, "--no-cache", "--reproducible=false", "-t", b, str(ctx))
    assert not inspect(dockyard_daemon, b)["Created"].startswith("19")  # Docker's "now"


def test_cache_from_the_changed_step_on(dockyard_daemon: Any, contexts: Contexts, tags: Tags) -> None:
    ctx = contexts.make({"Dockerfile": FIVE_STEPS, "data.txt": f"cache-{os.getpid()}-{contexts.root.name}"})
    first = build(dockyard_daemon, str(ctx))
    assert _cached_steps(first.stderr) == []
    again = build(dockyard_daemon, str(ctx))
    assert _cached_steps(again.stderr) == [2, 3, 4, 5]
    os.utime(ctx / "data.txt", (1_900_000_000, 1_900_000_000))  # touched, not changed
    touched = build(dockyard_daemon, str(ctx))
    assert _cached_steps(touched.stderr) == [2, 3, 4, 5]
    (ctx / "Dockerfile").write_text(FIVE_STEPS.replace("ENV MODE=test", "ENV MODE=prod"))
    late = build(dockyard_daemon, str(ctx))
    assert _cached_steps(late.stderr) == [2, 3]
    assert 4 in _done_steps(late.stderr) and 5 in _done_steps(late.stderr)
    nocache = build(dockyard_daemon, "--no-cache", str(ctx))
    assert _cached_steps(nocache.stderr) == []
    live = dockyard_daemon.dockyard("build", "--progress", "tty", str(ctx))  # the live view, drawn
    assert "[3/5] COPY data.txt /data.txt" in live.stderr and "CACHED" in live.stderr


def test_cache_from_image_and_pull_fallback(dockyard_daemon: Any, contexts: Contexts, tags: Tags) -> None:
    ctx = contexts.make({"Dockerfile": f"FROM busybox\nRUN echo {os.getpid()}-cache-from > /f\n"})
    src = tags.new()
    build(dockyard_daemon, "-t", src, str(ctx))
    again = build(dockyard_daemon, "--cache-from", src, str(ctx))
    assert _cached_steps(again.stderr) == [2]
    pulled = build(dockyard_daemon, "--pull", str(ctx))  # docker.io is offline here: local busybox
    assert "pull of busybox failed" in pulled.stderr and _cached_steps(pulled.stderr) == [2]


def test_bad_input(dockyard_daemon: Any, contexts: Contexts, tags: Tags) -> None:
    unknown = contexts.make({"Dockerfile": "FROM busybox\n# comment\n\nRUN true\nRUNN echo\n"})
    res = build(dockyard_daemon, str(unknown), check=False)
    assert res.returncode == 1 and 'Dockerfile:5: unknown instruction "RUNN"' in res.stderr
    missing = contexts.make({"Dockerfile": "FROM busybox\nCOPY nothere.txt /x\n"})
    res = build(dockyard_daemon, str(missing), check=False)
    assert res.returncode == 1
    assert (
        "COPY failed: file not found in build context or excluded by .dockerignore: stat nothere.txt"
        in res.stderr
    )
    outside = contexts.make({"Dockerfile": "FROM busybox\nCOPY ../secret /x\n"})
    res = build(dockyard_daemon, str(outside), check=False)
    assert res.returncode == 1 and "forbidden path outside the build context: ../secret" in res.stderr
    subst = contexts.make({"Dockerfile": 'FROM busybox\nENV A="${B:?B must be set}"\n'})
    res = build(dockyard_daemon, str(subst), check=False)
    assert res.returncode == 1 and "Dockerfile:2:" in res.stderr and "B must be set" in res.stderr
    target = contexts.make({"Dockerfile": "FROM busybox AS a\n"})
    res = build(dockyard_daemon, "--target", "nope", str(target), check=False)
    assert res.returncode == 1 and "failed to reach build target nope" in res.stderr
    before = set(dockyard_daemon.dockyard("ps", "-aq", "--no-trunc").stdout.split())
    failing = contexts.make(
        {
            "Dockerfile": "FROM busybox\n"
            "RUN for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line$i; done; exit 42\n"
        }
    )
    tag = tags.new()
    res = build(dockyard_daemon, "-t", tag, str(failing), check=False)
    assert res.returncode == 1
    assert "returned a non-zero code: 42" in res.stderr
    shown = res.stderr.split("------")[1]
    assert "line3" in shown and "line12" in shown and "line2\n" not in shown  # the last 10 lines
    assert dockyard_daemon.dockyard("image", "inspect", tag, check=False).returncode != 0
    after = set(dockyard_daemon.dockyard("ps", "-aq", "--no-trunc").stdout.split())
    assert after <= before  # the step's container is gone


def test_cache_survives_restart_and_prune(contexts: Contexts, tmp_path: Path) -> None:
    ctx = contexts.make({"Dockerfile": "FROM busybox\nRUN echo persisted > /p\nLABEL x=y\n"})
    root = tmp_path / "daemon"
    d = DockyardDaemon(root=str(root))
    try:
        d.start()
        d.bootstrap()
        build(d, str(ctx))
        d.stop()
        d.start()
        again = build(d, str(ctx))
        assert _cached_steps(again.stderr) == [2, 3]
        pruned = d.dockyard("builder", "prune", "-f")
        assert "Total reclaimed space:" in pruned.stdout
        assert pruned.stdout.count("sha256:") == 2  # the RUN's and the LABEL's images
        assert d.dockyard("images", "-aq").stdout.split() == [
            d.dockyard("images", "-q", "busybox").stdout.strip()
        ]
        after = build(d, str(ctx))
        assert _cached_steps(after.stderr) == []
    finally:
        d.cleanup()
