"""Fixtures every test suite of dockyard shares: busybox bundles and the OCI runtimes to compare.

    busybox_rootfs   session; path of a read-only busybox root filesystem (the template)
    bundle           function; factory ``bundle(args=["true"], *, terminal=False, **overrides)``
                     -> path of a fresh OCI bundle (rootfs/ copied from the template + config.json)
    runtime          function; a :class:`Runtime` (name, path, private ``--root``), parametrized
                     over :data:`RUNTIMES`: every test using it runs once per runtime

One behaviour suite, many implementations: a test that takes ``runtime`` runs against
dockyard-runtime and runc alike. To pick runtimes, parametrize indirectly::

    @pytest.mark.parametrize("runtime", ["dockyard"], indirect=True)

Test modules import the types for annotations with ``from tests.conftest import Runtime,
BundleFactory`` (pytest imports this file as ``tests.conftest``: see ``--import-mode`` in
pyproject.toml). Every fixture cleans up in ``finally``: containers are force-deleted, mounts
left under its folders are detached, folders removed.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest

from dockyard.oci.runtime_config import default_spec
from dockyard.util import busybox

_VENV_RUNTIME = os.path.join(os.path.dirname(sys.executable), "dockyard-runtime")

#: name -> executable of each OCI runtime the behaviour suite compares (None: not installed).
#: crun is left out: Debian's crun 1.8.1 refuses this host's hybrid cgroup layout outright.
RUNTIMES: dict[str, str | None] = {
    "dockyard": _VENV_RUNTIME if os.path.exists(_VENV_RUNTIME) else shutil.which("dockyard-runtime"),
    "runc": shutil.which("runc"),
}

_APT_HINT = {
    "runc": "apt-get install -y runc (./scripts/test.sh installs it)",
    "dockyard": "pip install -e . in the virtual environment (./scripts/test.sh does)",
}


# ---------------------------------------------------------------- mounts and folders


_OCTAL = re.compile(r"\\([0-7]{3})")


def mounts_under(folder: str) -> list[str]:
    """Mount points at or below ``folder`` in this mount namespace, deepest first."""
    real = os.path.realpath(folder)
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            # Field 5 is the mount point, with space, tab, newline and backslash octal-escaped.
            point = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), line.split(" ")[4])
            if point == real or point.startswith(real + "/"):
                found.append(point)
    return sorted(found, key=lambda p: p.count("/"), reverse=True)


def remove_tree(folder: str) -> None:
    """Detach every mount left below ``folder``, then remove it; no error if already gone."""
    if not os.path.lexists(folder):
        return  # already removed by the test itself
    from dockyard.util import syscalls

    for point in mounts_under(folder):
        try:
            syscalls.umount2(point, syscalls.MNT_DETACH)
        except OSError:
            pass  # EINVAL: detached already as part of a parent's lazy unmount
    shutil.rmtree(folder)


# ---------------------------------------------------------------- busybox bundles


@functools.cache
def base_spec() -> dict[str, Any]:
    """The config.json every bundle starts from: the runtime's default spec (runc's)."""
    return default_spec()


@pytest.fixture(scope="session")
def busybox_rootfs() -> Iterator[str]:
    """A busybox root filesystem built once per session; read-only (a ro bind mount when root)."""
    top = tempfile.mkdtemp(prefix="dockyard-busybox-")
    rootfs = os.path.join(top, "rootfs")
    try:
        busybox.make_rootfs(rootfs)
        if os.geteuid() == 0:
            from dockyard.util import syscalls

            # A bind mount can only be made read-only by a second, remounting call (mount(2)).
            syscalls.mount(rootfs, rootfs, None, syscalls.MS_BIND)
            syscalls.mount(None, rootfs, None, syscalls.MS_BIND | syscalls.MS_REMOUNT | syscalls.MS_RDONLY)
        yield rootfs
    finally:
        remove_tree(top)


class BundleFactory(Protocol):
    def __call__(
        self,
        args: Sequence[str] = ("true",),
        *,
        terminal: bool = False,
        readonly_rootfs: bool = False,
        spec: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> str: ...


@pytest.fixture
def bundle(busybox_rootfs: str) -> Iterator[BundleFactory]:
    """Factory of OCI bundles; each call returns a new bundle folder.

    ``args`` become ``process.args``; ``terminal`` sets ``process.terminal``; the root is
    writable unless ``readonly_rootfs``; keyword ``overrides`` are deep-merged into the config
    (dicts merge, lists and scalars replace, ``busybox.REMOVE`` deletes a key), e.g.
    ``bundle(["sh", "-c", "hostname"], hostname="box", linux={"seccomp": REMOVE})``.
    ``spec`` replaces the base config (default: :func:`base_spec`).
    """
    top = tempfile.mkdtemp(prefix="dockyard-bundle-")
    count = 0

    def make(
        args: Sequence[str] = ("true",),
        *,
        terminal: bool = False,
        readonly_rootfs: bool = False,
        spec: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        nonlocal count
        count += 1
        return busybox.make_bundle(
            os.path.join(top, f"bundle{count}"),
            args,
            terminal=terminal,
            spec=base_spec() if spec is None else spec,
            rootfs_template=busybox_rootfs,
            readonly_rootfs=readonly_rootfs,
            overrides=overrides,
        )

    try:
        yield make
    finally:
        remove_tree(top)


# ---------------------------------------------------------------- OCI runtimes


@dataclass
class Runtime:
    """One OCI runtime under test, with a private state folder (``--root``)."""

    name: str
    path: str
    root: str
    ids: list[str] = field(default_factory=list)

    def new_id(self) -> str:
        """A container id unique to this test run; remembered for cleanup."""
        cid = f"dy-{uuid.uuid4().hex[:12]}"
        self.ids.append(cid)
        return cid

    def cmd(self, *args: str) -> list[str]:
        return [self.path, "--root", self.root, *args]

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        timeout: float = 60,
        check: bool = False,
        cwd: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``RUNTIME --root ROOT ARGS...``; capture text output; no stdin unless ``input``.

        For ``create`` and ``run --detach`` use :meth:`cmd` with files or DEVNULL instead: the
        container inherits the runtime's stdio, so captured pipes would not close until it exits.
        """
        return subprocess.run(
            self.cmd(*args),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
            cwd=cwd,
        )

    def cleanup(self) -> None:
        """Force-delete every container this test made or left in ``root``."""
        ids = list(self.ids)
        if os.path.isdir(self.root):
            ids += [e for e in os.listdir(self.root) if e not in ids]
        for cid in ids:
            try:
                # delete --force kills and removes; a container already gone makes it fail: fine.
                self("delete", "--force", cid, timeout=30)
            except subprocess.TimeoutExpired:
                pass
            _kill_recorded_pid(os.path.join(self.root, cid, "state.json"))


def _kill_recorded_pid(state_file: str) -> None:
    """Last resort when ``delete --force`` failed: SIGKILL the init pid the state records."""
    try:
        with open(state_file, encoding="utf-8") as f:
            state = json.load(f)
    except (OSError, ValueError):
        return
    pid = state.get("init_process_pid") or state.get("pid")
    if isinstance(pid, int) and pid > 1:
        try:
            os.kill(pid, 9)
        except (ProcessLookupError, PermissionError):
            pass


@pytest.fixture(params=sorted(RUNTIMES))
def runtime(request: pytest.FixtureRequest) -> Iterator[Runtime]:
    """An OCI runtime with a temp ``--root``; every container it knows is deleted afterwards."""
    name: str = request.param
    if name not in RUNTIMES:
        raise ValueError(f"unknown runtime {name!r}: choose from {sorted(RUNTIMES)}")
    path = RUNTIMES[name]
    if path is None:
        pytest.skip(f"{name} is not installed: {_APT_HINT.get(name, 'install it')}")
    if os.geteuid() != 0:
        pytest.skip("OCI runtimes need root here (CI runs as root)")
    rt = Runtime(name=name, path=path, root=tempfile.mkdtemp(prefix=f"dockyard-{name}-root-"))
    try:
        yield rt
    finally:
        try:
            rt.cleanup()
        finally:
            remove_tree(rt.root)


# ---------------------------------------------------------------- the daemon


@pytest.fixture(scope="session")
def dockyard_daemon() -> Iterator[Any]:
    """One `dockyard daemon` for the whole session (tests/daemon_harness.py), with the built-in
    busybox image made by `dockyard image bootstrap`-equivalent API call at start."""
    from tests.daemon_harness import DockyardDaemon

    daemon = DockyardDaemon()
    with daemon:
        daemon.bootstrap()
        yield daemon


@pytest.fixture
def client(dockyard_daemon: Any) -> Iterator[Any]:
    """An Engine API client (dockyard.client.api.APIClient) on the session's daemon; a test module
    with a client of another kind defines its own."""
    from dockyard.client.api import APIClient

    c = APIClient(dockyard_daemon.host)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="session")
def reference_registry() -> Iterator[str]:
    """The reference registry on loopback for the session (tests/reference_registry.py), holding
    ``library/pulled:1`` (busybox); yields its address ``127.0.0.1:PORT``."""
    from tests.reference_registry import ReferenceRegistry

    registry = ReferenceRegistry()
    try:
        registry.start()
        registry.push_busybox("library/pulled:1")
        yield registry.address
    finally:
        registry.stop()
