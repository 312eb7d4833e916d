"""Fixtures of the OCI runtime behaviour suite: one runtime per parameter, bundles, cleanup.

Every test that takes ``oci_runtime`` runs once per usable entry of ``RUNTIMES``. dockyard-runtime
is always in the matrix (a failure there is our gap). A peer that refuses this host -- crun 1.8.1
rejects hybrid cgroup v1 + v2 hosts -- is tried once at collection and left out of the matrix
instead of skipping every check; ``test_peer_runtimes_on_this_host`` states why, in the peer's own
words, and fails if a peer refuses for any other reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.compat import runtime_harness as h

_probe_results: dict[str, str | None] = {}


def _probe(name: str, path: str) -> str | None:
    """Run /bin/true once with the runtime; None if it works, else why not (its own words)."""
    if name in _probe_results:
        return _probe_results[name]
    work = h.make_tempdir("dockyard-probe-")
    rt = h.Runtime(name, path, work / "state")
    reason = None
    try:
        bundle = h.make_bundle(work, ["true"])
        res = rt.run(bundle, timeout=15)
        if res.returncode != 0:
            msg = " ".join(res.output.split())[:300] or f"exit {res.returncode}"
            reason = f"{name} cannot run containers on this host: {msg}"
    except Exception as exc:
        reason = f"{name} cannot run containers on this host: {exc}"
    finally:
        rt.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    _probe_results[name] = reason
    return reason


@pytest.fixture(scope="session")
def runtime_probe() -> Callable[[str, str], str | None]:
    return _probe


def usable_runtimes() -> list[str]:
    """dockyard, plus each installed peer that can run a container on this host."""
    out = []
    for name in h.RUNTIMES:
        path = h.runtime_path(name)
        if name == "dockyard" or (path is not None and os.geteuid() == 0 and _probe(name, path) is None):
            out.append(name)
    return out


@pytest.fixture(params=usable_runtimes())
def oci_runtime(
    request: pytest.FixtureRequest,
    compat_dir: Path,
    mark: str,
    runtime_probe: Callable[[str, str], str | None],
) -> Iterator[h.Runtime]:
    if os.geteuid() != 0:
        pytest.skip("the runtime behaviour suite needs root (namespaces, cgroups, mounts)")
    name: str = request.param
    path = h.runtime_path(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    rt = h.Runtime(name, path, compat_dir / "state", mark=mark)
    try:
        yield rt
    finally:
        rt.cleanup()


@pytest.fixture
def compat_dir() -> Iterator[Path]:
    """A world-searchable temp folder for bundles and runtime state; removed at the end."""
    path = h.make_tempdir()
    try:
        yield path
    finally:
        h.unmount_under(path)
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def mark() -> Iterator[str]:
    """A token put into the environment of the runtime and the container; leftovers are killed."""
    token = h.unique_id("mark")
    try:
        yield token
    finally:
        h.kill_marked(token)


@pytest.fixture
def bundle_maker(compat_dir: Path, mark: str) -> Callable[..., h.Bundle]:
    def make(args: Any = ("true",), mutate: Callable[[dict[str, Any]], None] | None = None) -> h.Bundle:
        return h.make_bundle(compat_dir, args, mutate, mark=mark)

    return make


@pytest.fixture
def cgroup_path() -> Iterator[Callable[[], str]]:
    """Hands out unique cgroupsPath values; each one is removed (in every hierarchy) at the end."""
    made: list[str] = []

    def new() -> str:
        p = "/" + h.unique_id("dockyard-compat")
        made.append(p)
        return p

    try:
        yield new
    finally:
        for p in made:
            with contextlib.suppress(Exception):
                h.remove_cgroup(p)
