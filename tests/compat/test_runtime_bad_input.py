"""Bad input: malformed or contradictory config.json files, against every OCI runtime.

Each case must give a non-zero exit and leave nothing behind: no entry under ``--root``, no cgroup
at the configured cgroupsPath, no mount under the bundle or the state folder, no process. For
dockyard-runtime the error must also name the field (issue 2, "Must show" item 4); runc's wording
is its own, so for runc only the exit code and the clean host are checked.

Every bundle asks for a memory and a pids limit at a unique cgroupsPath, so a runtime that makes
cgroups before it validates the rest would be caught.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.compat import runtime_harness as h

pytestmark = pytest.mark.compat


@dataclass
class Case:
    # Edits the config dict before it is written.
    mutate: Callable[[dict[str, Any]], None]
    # dockyard's error must contain each of these (the field, spelled as in the spec).
    fields: tuple[str, ...]
    # Changes the bundle on disk after the config is written (e.g. removes the rootfs).
    after: Callable[[h.Bundle], None] | None = None
    # Why runc accepts this input, if it does (the check then expects runc to fail: xfail).
    runc_accepts: str | None = None


def _nothing(cfg: dict[str, Any]) -> None:
    pass


def _unknown_namespace(cfg: dict[str, Any]) -> None:
    cfg["linux"]["namespaces"].append({"type": "bogus"})


def _mount_without_destination(cfg: dict[str, Any]) -> None:
    cfg["mounts"].append({"type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]})


def _empty_args(cfg: dict[str, Any]) -> None:
    cfg["process"]["args"] = []


def _relative_missing_root(cfg: dict[str, Any]) -> None:
    cfg["root"]["path"] = "does-not-exist"


def _uid_mappings_without_userns(cfg: dict[str, Any]) -> None:
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def _write_invalid_json(bundle: h.Bundle) -> None:
    bundle.config_path.write_text('{"ociVersion": "1.0.2", "process": {"args": ["true"]')


def _remove_rootfs(bundle: h.Bundle) -> None:
    shutil.rmtree(bundle.rootfs)


CASES: dict[str, Case] = {
    "invalid-json": Case(_nothing, ("config.json",), _write_invalid_json),
    "unknown-namespace-type": Case(_unknown_namespace, ("linux.namespaces", "bogus")),
    "mount-without-destination": Case(_mount_without_destination, ("mounts", "destination")),
    "missing-rootfs": Case(_nothing, ("root.path",), _remove_rootfs),
    "empty-args": Case(_empty_args, ("process.args",)),
    "relative-root-missing": Case(_relative_missing_root, ("root.path", "does-not-exist")),
    "uid-mappings-without-userns": Case(
        _uid_mappings_without_userns,
        ("uidMappings", "user"),
        runc_accepts="runc 1.1.5 ignores uidMappings/gidMappings when linux.namespaces has no user namespace",
    ),
}


@pytest.mark.parametrize("verb", ["create", "run"])
@pytest.mark.parametrize("case", list(CASES))
def test_bad_config_is_refused_cleanly(
    oci_runtime: h.Runtime,
    bundle_maker: Callable[..., h.Bundle],
    cgroup_path: Callable[[], str],
    mark: str,
    case: str,
    verb: str,
) -> None:
    spec = CASES[case]
    path = cgroup_path()

    def mutate(cfg: dict[str, Any]) -> None:
        cfg["linux"]["cgroupsPath"] = path
        cfg["linux"]["resources"]["memory"] = {"limit": 64 * 1024 * 1024}
        cfg["linux"]["resources"]["pids"] = {"limit": 50}
        spec.mutate(cfg)

    bundle = bundle_maker(["sh", "-c", "echo started"], mutate)
    if spec.after:
        spec.after(bundle)
    oci_runtime.root.mkdir(exist_ok=True)
    mounts_before = h.mounts_under(bundle.path, oci_runtime.root)
    cid = h.unique_id()
    if verb == "create":
        res = oci_runtime.create(bundle, cid, mark=mark, timeout=15)
    else:
        res = oci_runtime.run(bundle, cid, mark=mark, timeout=15)

    if res.returncode == 0 and oci_runtime.name == "runc" and spec.runc_accepts:
        pytest.xfail(spec.runc_accepts)
    assert res.returncode != 0, f"{case}: {verb} succeeded\n{res.output}"
    assert "started" not in res.stdout
    assert res.stderr.strip(), "a refused config needs an error message"
    if oci_runtime.name == "dockyard":
        missing = [f for f in spec.fields if f not in res.stderr]
        assert not missing, f"the error does not name {missing}: {res.stderr!r}"
    # Nothing left behind.
    assert not oci_runtime.has_state(cid), os.listdir(oci_runtime.root)
    assert os.listdir(oci_runtime.root) == []
    assert h.cgroup_dirs(path) == []
    assert h.mounts_under(bundle.path, oci_runtime.root) == mounts_before
    assert h.marked_processes(mark) == []
