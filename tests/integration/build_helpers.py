"""Helpers of the build tests: contexts in temp folders, unique tags removed afterwards."""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_harness import DOCKYARD

_COUNTER = itertools.count()


def unique(prefix: str = "dyb") -> str:
    return f"{prefix}{os.getpid()}x{next(_COUNTER)}"


class Contexts:
    def __init__(self, root: Path) -> None:
        self.root = root

    def make(self, files: dict[str, str | bytes]) -> Path:
        folder = self.root / unique("ctx")
        folder.mkdir(parents=True)
        for name, content in files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        return folder


@pytest.fixture(name="contexts")
def contexts_fixture(tmp_path: Path) -> Contexts:
    return Contexts(tmp_path)


class Tags:
    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon
        self.made: list[str] = []

    def new(self, repo: str = "dybuild") -> str:
        ref = f"{repo}{unique('')}:t"
        self.made.append(ref)
        return ref


@pytest.fixture(name="tags")
def tags_fixture(dockyard_daemon: Any) -> Iterator[Tags]:
    t = Tags(dockyard_daemon)
    try:
        yield t
    finally:
        if t.made:
            dockyard_daemon.dockyard("rmi", "-f", *t.made, check=False)


def build(
    d: Any, *args: str, check: bool = True, input: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """``dockyard build --progress plain ...``: progress on stderr."""
    res: subprocess.CompletedProcess[str] = d.dockyard(
        "build", "--progress", "plain", *args, check=check, input=input
    )
    return res


def build_bytes(d: Any, *args: str, input: bytes) -> subprocess.CompletedProcess[bytes]:
    """``dockyard build`` with binary stdin (a context tar)."""
    res = subprocess.run(
        [DOCKYARD, "build", "--progress", "plain", *args],
        env=d.env(), input=input, capture_output=True, timeout=120,
    )  # fmt: skip
    if res.returncode != 0:
        raise AssertionError(f"dockyard build failed {res.returncode}\n{res.stderr.decode()}\n{d.log()}")
    return res


def docker_build(d: Any, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The real docker CLI's classic builder against the daemon."""
    env = d.env()
    env["DOCKER_BUILDKIT"] = "0"
    res = subprocess.run(
        ["/usr/local/bin/docker", "build", *args], env=env, capture_output=True, text=True, timeout=120
    )
    if check and res.returncode != 0:
        raise AssertionError(f"docker build failed {res.returncode}\n{res.stdout}\n{res.stderr}\n{d.log()}")
    return res


def run_out(d: Any, image: str, *cmd: str) -> str:
    return str(d.dockyard("run", "--rm", image, *cmd).stdout)


def image_id(d: Any, ref: str) -> str:
    return str(d.dockyard("image", "inspect", "-f", "{{.Id}}", ref).stdout.strip())


def inspect(d: Any, ref: str) -> dict[str, Any]:
    import json

    data = json.loads(d.dockyard("image", "inspect", ref).stdout)
    assert isinstance(data, list)
    result: dict[str, Any] = data[0]
    return result
