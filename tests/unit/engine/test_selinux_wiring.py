"""SELinux from create to config.json: labels per container (dockerd's parseSecurityOpt +
InitLabels), ``:z``/``:Z`` relabeling of mount sources, selinuxLabel and mountLabel in the spec.

The host has no SELinux: "enabled" is the engine's setting (CreateSettings.selinux), not the
kernel's; the relabel writes real ``security.selinux`` xattrs, which ext4 and tmpfs store
without an LSM.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from dockyard.engine import labels, spec
from dockyard.engine.create import CreateSettings, new_container
from dockyard.errors import InvalidArgument
from tests.unit.engine.test_engine_spec import FEATURES, container, ctx

PRIVATE = "system_u:object_r:container_file_t:s0:c1,c2"


def labeled(body: dict[str, object], taken: frozenset[str] = frozenset(), share: str = "") -> labels.Labels:
    settings = CreateSettings(
        FEATURES, ("runc",), "runc", selinux=True, mcs_taken=taken, share_label_with=share
    )
    c, _ = new_container({"Image": "busybox", **body}, "/c", "sha256:" + "b" * 64, {"Cmd": ["sh"]}, settings)
    return labels.Labels(c.process_label, c.mount_label)


def test_each_container_gets_its_own_level() -> None:
    first = labeled({})
    assert first.process.startswith("system_u:system_r:container_t:s0:c")
    assert first.mount == "system_u:object_r:container_file_t:" + first.level
    taken = frozenset({first.level})
    for _ in range(20):
        assert labeled({}, taken).level != first.level


def test_options_privileged_host_namespaces_and_sharing() -> None:
    got = labeled({"HostConfig": {"SecurityOpt": ["label=type:spc_t", "label=level:s0:c5,c6"]}})
    assert got == labels.Labels(
        "system_u:system_r:spc_t:s0:c5,c6", "system_u:object_r:container_file_t:s0:c5,c6"
    )
    assert labeled({"HostConfig": {"SecurityOpt": ["label=disable"]}}) == labels.Labels("", "")
    # A confined process could not use the host's ipc or pid namespace: labeling is off.
    assert labeled({"HostConfig": {"Privileged": True}}) == labels.Labels("", "")
    assert labeled({"HostConfig": {"IpcMode": "host"}}) == labels.Labels("", "")
    assert labeled({"HostConfig": {"PidMode": "host"}}) == labels.Labels("", "")
    # Joining another container's namespace: its label, level included (dockerd's DupSecOpt).
    other = "system_u:system_r:container_t:s0:c7,c8"
    joined = labeled({"HostConfig": {"IpcMode": "container:x"}}, share=other)
    assert joined.process == other and joined.level == "s0:c7,c8"


def test_without_selinux_nothing_changes_and_labels_are_refused() -> None:
    c = container({})
    assert (c.process_label, c.mount_label) == ("", "")
    doc = spec.build(c, ctx())
    assert "selinuxLabel" not in doc["process"] and "mountLabel" not in doc["linux"]
    with pytest.raises(InvalidArgument, match="label=type:spc_t: SELinux is not enabled on this host"):
        container({"HostConfig": {"SecurityOpt": ["label=type:spc_t"]}})
    assert container({"HostConfig": {"SecurityOpt": ["label=disable"]}}).process_label == ""


def test_spec_carries_both_labels() -> None:
    c = container({})
    c.process_label, c.mount_label = "system_u:system_r:container_t:s0:c1,c2", PRIVATE
    doc = spec.build(c, ctx())
    assert doc["process"]["selinuxLabel"] == "system_u:system_r:container_t:s0:c1,c2"
    assert doc["linux"]["mountLabel"] == PRIVATE


def _label_of(path: Path) -> str:
    return os.getxattr(path, labels.XATTR, follow_symlinks=False).rstrip(b"\0").decode()


def test_relabel_mount_z_and_Z(tmp_path: Path) -> None:
    own = labels.container_labels(["level:s0:c1,c2"], set(), random.Random(1))
    private, shared = tmp_path / "private", tmp_path / "shared"
    for folder in (private, shared):
        (folder / "sub").mkdir(parents=True)
        (folder / "sub" / "f").write_text("x")
    assert labels.relabel_mount(str(private), "ro,Z", own) == PRIVATE
    assert labels.relabel_mount(str(shared), "z", own) == "system_u:object_r:container_file_t:s0"
    assert {_label_of(p) for p in (private, private / "sub", private / "sub" / "f")} == {PRIVATE}
    assert _label_of(shared / "sub" / "f") == "system_u:object_r:container_file_t:s0"
    untouched = tmp_path / "plain"
    untouched.mkdir()
    assert labels.relabel_mount(str(untouched), "ro", own) == ""  # no z/Z: left alone
    assert labels.relabel_mount(str(untouched), "Z", labels.Labels("", "")) == ""  # unlabeled container
    assert labels.XATTR not in os.listxattr(untouched)
    with pytest.raises(InvalidArgument, match="relabeling of /usr/ is not allowed"):
        labels.relabel_mount("/usr/", "z", own)
