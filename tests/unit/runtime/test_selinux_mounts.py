"""linux.mountLabel as the runtime applies it: ``context="..."`` on the filesystems it creates
(runc's label.FormatMountLabel), never on binds, proc, sysfs or cgroup; mqueue by xattr.

This host has no SELinux, where a context= option is an unknown tmpfs parameter: the options
are checked as computed, and the runtime's refusal of labels on such a host as it is.
"""

from __future__ import annotations

import pytest

from dockyard.engine import spec
from dockyard.engine.container import MountPoint
from dockyard.errors import Unsupported
from dockyard.runtime import mounts as mopts
from dockyard.runtime import selinux
from dockyard.runtime.process import check_lsm
from dockyard.util import syscalls as sc
from tests.unit.engine.test_engine_spec import container, ctx

LABEL = "system_u:object_r:container_file_t:s0:c1,c2"


def test_format_mount_label_quotes_the_categories() -> None:
    assert selinux.format_mount_label("", LABEL) == f'context="{LABEL}"'
    assert (
        selinux.format_mount_label("mode=755,size=65536k", LABEL) == f'mode=755,size=65536k,context="{LABEL}"'
    )
    assert selinux.format_mount_label("mode=755", "") == "mode=755"


def test_the_default_mounts_of_a_labeled_container() -> None:
    c = container({"HostConfig": {"Tmpfs": {"/t": "size=1m"}}})
    c.mounts = [MountPoint(type="bind", source="/srv/data", destination="/data", propagation="rprivate")]
    c.mount_label = LABEL
    doc = spec.build(c, ctx())
    got: dict[str, str] = {}
    after = set()
    for m in doc["mounts"]:
        opts = mopts.parse(m.get("options") or [])
        is_bind = m.get("type") == "bind" or bool(opts.flags & sc.MS_BIND)
        got[m["destination"]] = selinux.mount_data(m.get("type") or "", opts.data, doc["linux"]["mountLabel"],
                                                   bind=is_bind)  # fmt: skip
        if selinux.labels_after_mount(m.get("type") or "", doc["linux"]["mountLabel"]):
            after.add(m["destination"])
    ctx_opt = f'context="{LABEL}"'
    assert got["/dev"] == f"mode=755,size=65536k,{ctx_opt}"
    assert got["/dev/shm"].endswith(ctx_opt) and got["/dev/shm"].startswith("mode=1777,size=")
    assert got["/dev/pts"].endswith(ctx_opt)
    assert got["/t"].endswith(ctx_opt)
    for plain in ("/proc", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/data", "/etc/hosts"):
        assert "context=" not in got[plain], plain
    assert after == {"/dev/mqueue"}  # mqueue refuses context=: its root is labeled by xattr


def test_labels_refused_without_selinux_accepted_with_it() -> None:
    proc = {"selinuxLabel": "system_u:system_r:container_t:s0:c1,c2"}
    with pytest.raises(Unsupported, match=r"process\.selinuxLabel: SELinux is not enabled on this host"):
        check_lsm(proc, {}, selinux_on=False)
    with pytest.raises(Unsupported, match=r"linux\.mountLabel: SELinux is not enabled"):
        check_lsm({}, {"mountLabel": LABEL}, selinux_on=False)
    check_lsm(proc, {"mountLabel": LABEL}, selinux_on=True)
    check_lsm({}, {}, selinux_on=False)  # nothing asked: nothing to refuse
