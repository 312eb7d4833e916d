"""SELinux labeling end to end, on a host without SELinux (issue 8).

An engine told that SELinux is on (EngineOptions.selinux=True, served in this process) labels
what dockerd --selinux-enabled labels: each container its own MCS level in inspect's
ProcessLabel/MountLabel and in config.json (process.selinuxLabel, linux.mountLabel), and its
``:z``/``:Z`` binds and volumes relabeled through ``security.selinux`` before the runtime runs.
The runtime then refuses the labels, as this kernel cannot apply them, and says so. The
daemon of the harness asks the host: nothing is labeled, and a label asked for is an error.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from dockyard.engine import labels
from tests.daemon_harness import DockyardDaemon
from tests.unit.engine.inproc_daemon import InprocDaemon

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


@pytest.fixture(scope="module")
def labeling() -> Iterator[InprocDaemon]:
    with InprocDaemon(selinux=True) as d:
        yield d


@pytest.fixture
def host_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix=f"dockyard-selinux-{os.getpid()}-", dir="/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _label_of(path: Path) -> str:
    return os.getxattr(path, labels.XATTR).rstrip(b"\0").decode()


def test_labels_from_create_to_the_runtime(labeling: InprocDaemon, host_dir: Path) -> None:
    api: Any = labeling.client().api
    private, shared = host_dir / "private", host_dir / "shared"
    for folder in (private, shared):
        folder.mkdir()
        (folder / "file").write_text("x")
    volume = f"selinux-{os.getpid()}"
    made: list[str] = []
    try:
        hc = api.create_host_config(binds=[f"{private}:/p:Z", f"{shared}:/s:z,ro", f"{volume}:/v"])
        made.append(api.create_container("busybox", "true", host_config=hc)["Id"])
        made.append(api.create_container("busybox", "true")["Id"])
        off = api.create_host_config(security_opt=["label=disable"])
        made.append(api.create_container("busybox", "true", host_config=off)["Id"])
        first, second, disabled = (api.inspect_container(cid) for cid in made)
        own = labels.Labels(first["ProcessLabel"], first["MountLabel"])
        assert own.process == "system_u:system_r:container_t:" + own.level
        assert own.mount == "system_u:object_r:container_file_t:" + own.level
        assert own.level.startswith("s0:c") and own.level != labels.Labels("", second["MountLabel"]).level
        assert (disabled["ProcessLabel"], disabled["MountLabel"]) == ("", "")

        with pytest.raises(docker.errors.APIError, match="SELinux is not enabled on this host"):
            api.start(made[0])
        # Before the runtime refused: the sources relabeled, the labels in config.json.
        assert {_label_of(private), _label_of(private / "file")} == {own.mount}
        assert _label_of(shared / "file") == "system_u:object_r:container_file_t:s0"
        data = Path(api.inspect_volume(volume)["Mountpoint"])
        assert _label_of(data) == "system_u:object_r:container_file_t:s0"  # a volume's default mode is z
        config = json.loads((labeling.exec_root / "containers" / made[0] / "config.json").read_text())
        assert config["process"]["selinuxLabel"] == own.process
        assert config["linux"]["mountLabel"] == own.mount
    finally:
        for cid in made:
            api.remove_container(cid, force=True, v=True)
        api.remove_volume(volume, force=True)
        api.close()


def test_a_host_without_selinux_labels_nothing(dockyard_daemon: DockyardDaemon, host_dir: Path) -> None:
    d = dockyard_daemon
    res = d.docker("create", "--security-opt", "label=level:s0:c1,c2", "busybox", "true", check=False)
    assert res.returncode == 1 and "SELinux is not enabled on this host" in res.stderr, res
    name = f"selinux-{os.getpid()}-plain"
    try:
        d.docker("run", "--name", name, "-v", f"{host_dir}:/x:Z", "busybox", "touch", "/x/made")
        out = d.docker("inspect", "-f", "{{.ProcessLabel}}|{{.MountLabel}}", name).stdout.strip()
        assert out == "|"
        assert labels.XATTR not in os.listxattr(host_dir) and (host_dir / "made").exists()
    finally:
        d.docker("rm", "-f", name, check=False)
