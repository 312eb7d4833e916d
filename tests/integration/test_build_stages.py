"""Stages and bases: parallel stages with output in file order, COPY --from an image, FROM
pulled from a registry on loopback, --platform, the docker CLI's network and rm flags."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.integration.build_helpers import (  # noqa: F401
    Contexts,
    Tags,
    build,
    contexts_fixture,
    docker_build,
    run_out,
    tags_fixture,
)

pytestmark = [pytest.mark.root]

PARALLEL = """\
FROM busybox AS slow
RUN sleep 0.5; echo slow-stage-output > /slow.txt; cat /slow.txt
FROM busybox AS fast
RUN echo fast-stage-output > /fast.txt; cat /fast.txt
FROM busybox
COPY --from=slow /slow.txt /
COPY --from=fast /fast.txt /
COPY --from=busybox /bin/busybox /from-image/busybox
"""


def test_independent_stages_output_in_file_order(
    dockyard_daemon: Any, contexts: Contexts, tags: Tags
) -> None:
    ctx = contexts.make({"Dockerfile": PARALLEL})
    tag = tags.new()
    res = build(dockyard_daemon, "--no-cache", "-t", tag, str(ctx))
    steps = [int(n) for n in re.findall(r"^#(\d+) \[", res.stderr, re.M)]
    assert steps == sorted(steps) == list(range(1, 9))  # the fast stage's lines wait for the slow one
    assert res.stderr.index("slow-stage-output") < res.stderr.index("fast-stage-output")
    out = run_out(
        dockyard_daemon, tag, "sh", "-c", "cat /slow.txt /fast.txt; /from-image/busybox true && echo ok"
    )
    assert out == "slow-stage-output\nfast-stage-output\nok\n"


def test_from_pulls_from_a_registry_on_loopback(
    dockyard_daemon: Any, contexts: Contexts, tags: Tags, reference_registry: str
) -> None:
    base = f"{reference_registry}/library/pulled:1"
    ctx = contexts.make({"Dockerfile": f"ARG BASE={base}\nFROM $BASE\nRUN echo on-pulled > /p\n"})
    tag = tags.new()
    try:
        res = build(dockyard_daemon, "-t", tag, str(ctx))
        assert "Pulling from library/pulled" in res.stderr
        assert run_out(dockyard_daemon, tag, "cat", "/p") == "on-pulled\n"
    finally:
        dockyard_daemon.dockyard("rmi", "-f", base, check=False)


def test_platform_checked(dockyard_daemon: Any, contexts: Contexts) -> None:
    ctx = contexts.make({"Dockerfile": "FROM --platform=linux/s390x busybox\n"})
    res = build(dockyard_daemon, str(ctx), check=False)
    assert res.returncode == 1 and "platform linux/s390x is not supported here" in res.stderr
    res = build(dockyard_daemon, "--platform", "windows/amd64", str(ctx), check=False)
    assert res.returncode == 1 and "platform windows/amd64 is not supported here" in res.stderr


def test_docker_cli_network_none_rm_false_and_parse_error(
    dockyard_daemon: Any, contexts: Contexts, tags: Tags
) -> None:
    ctx = contexts.make({"Dockerfile": "FROM busybox\nRUN ls /sys/class/net > /nets\n"})
    tag = tags.new()
    before = set(dockyard_daemon.dockyard("ps", "-aq", "--no-trunc").stdout.split())
    res = docker_build(dockyard_daemon, "--network", "none", "--rm=false", "--no-cache", "-t", tag, str(ctx))
    kept = set(dockyard_daemon.dockyard("ps", "-aq", "--no-trunc").stdout.split()) - before
    try:
        assert run_out(dockyard_daemon, tag, "cat", "/nets") == "lo\n"
        assert "Removing intermediate container" not in res.stdout
        assert len(kept) == 1  # --rm=false keeps the step's container, as dockerd does
    finally:
        if kept:
            dockyard_daemon.dockyard("rm", "-f", *kept)
    bad = contexts.make({"Dockerfile": "FROM busybox\nCOPPY a b\n"})
    res = docker_build(dockyard_daemon, str(bad), check=False)
    assert res.returncode != 0 and 'Dockerfile:2: unknown instruction "COPPY"' in res.stderr
