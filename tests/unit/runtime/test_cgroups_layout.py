"""Layout detection from sample mountinfo texts, cgroupsPath resolution, and the manager factory."""

from __future__ import annotations

import os

import pytest

from dockyard.errors import ConfigError, Unsupported
from dockyard.runtime import cgroups
from dockyard.runtime.cgroups import layout as layout_mod
from dockyard.runtime.cgroups.hybrid import HybridManager
from dockyard.runtime.cgroups.layout import (
    CgroupLayout,
    cgroup_dir,
    clean_path,
    expand_slice,
    own_cgroups,
    parse_mountinfo,
    systemd_path,
)
from dockyard.runtime.cgroups.v1 import V1Manager
from dockyard.runtime.cgroups.v2 import V2Manager

# A systemd host booted with systemd.unified_cgroup_hierarchy=0 and cpu,cpuacct co-mounted.
PURE_V1 = """\
22 27 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
25 22 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup \
rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup \
rw,cpu,cpuacct
30 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
31 25 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup \
rw,net_cls,net_prio
32 25 0:30 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup \
rw,cpuset,clone_children
33 25 0:31 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,devices
34 25 0:32 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,freezer
35 25 0:33 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,pids
"""

# A pure v2 host (Debian 12's default): one cgroup2 mount at /sys/fs/cgroup.
PURE_V2 = """\
22 27 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 22 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 \
rw,nsdelegate,memory_recursiveprot
"""

# This project's CI host: v1 controllers, hugetlb alone on cgroup2 at /sys/fs/cgroup/unified.
HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""


def test_pure_v1_with_comounted_controllers() -> None:
    lay = parse_mountinfo(PURE_V1)
    assert lay.mode == "v1"
    assert lay.unified is None
    assert lay.v1["cpu"] == lay.v1["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct"
    assert lay.v1["net_prio"] == "/sys/fs/cgroup/net_cls,net_prio"
    assert lay.v1["name=systemd"] == "/sys/fs/cgroup/systemd"
    # Mount flags are not controllers.
    for flag in ("rw", "xattr", "clone_children"):
        assert flag not in lay.v1
    assert not any(k.startswith("release_agent") for k in lay.v1)
    assert sorted(lay.v1) == sorted(
        [
            "name=systemd",
            "cpu",
            "cpuacct",
            "memory",
            "net_cls",
            "net_prio",
            "cpuset",
            "devices",
            "freezer",
            "pids",
        ]
    )


def test_pure_v2() -> None:
    lay = parse_mountinfo(PURE_V2)
    assert lay == CgroupLayout("v2", {}, "/sys/fs/cgroup", {"/sys/fs/cgroup": "/"})


def test_hybrid() -> None:
    lay = parse_mountinfo(HYBRID)
    assert lay.mode == "hybrid"
    assert lay.unified == "/sys/fs/cgroup/unified"
    assert lay.v1 == {
        "cpu": "/sys/fs/cgroup/cpu",
        "cpuacct": "/sys/fs/cgroup/cpuacct",
        "memory": "/sys/fs/cgroup/memory",
        "name=systemd": "/sys/fs/cgroup/systemd",
    }


def test_detect_layout_reads_the_given_file(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(os.fspath(tmp_path), "mountinfo")
    with open(path, "w") as f:
        f.write(PURE_V2)
    assert cgroups.detect_layout(path).mode == "v2"


def test_named_v1_hierarchy_alone_with_cgroup2_is_v2() -> None:
    text = PURE_V2 + "40 26 0:37 / /run/legacy rw,relatime - cgroup cgroup rw,name=systemd\n"
    lay = parse_mountinfo(text)
    assert lay.mode == "v2"
    assert lay.v1 == {}


def test_mount_below_root_wins_and_escapes_are_decoded() -> None:
    text = (
        "50 1 0:40 / /var/lib/x\\040y/memory rw - cgroup cgroup rw,memory\n"
        "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "51 1 0:41 /docker/abc /mnt/other\\040mem rw - cgroup cgroup rw,pids\n"
    )
    lay = parse_mountinfo(text)
    assert lay.v1["memory"] == "/sys/fs/cgroup/memory"
    assert lay.v1["pids"] == "/mnt/other mem"
    assert lay.roots["/mnt/other mem"] == "/docker/abc"


def test_no_cgroups_at_all() -> None:
    lay = parse_mountinfo("22 27 0:20 / /sys rw - sysfs sysfs rw\n")
    assert lay.mode == "v1" and lay.v1 == {} and lay.unified is None
    with pytest.raises(Unsupported, match="no cgroup hierarchy"):
        cgroups.new_manager("/x", "x", layout=lay)


def test_own_cgroups(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(os.fspath(tmp_path), "cgroup")
    with open(path, "w") as f:
        f.write("9:name=systemd:/user.slice\n2:cpu,cpuacct:/a:b\n1:memory:/m\n0::/u\n")
    assert own_cgroups(path) == {
        "name=systemd": "/user.slice",
        "cpu": "/a:b",
        "cpuacct": "/a:b",
        "memory": "/m",
        "": "/u",
    }


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("", ""),
        ("/a/b", "/a/b"),
        ("/a/../../b", "/b"),
        ("a/b/", "a/b"),
        ("../../up", "up"),
        ("a/../../b", "b"),
        ("//a//b", "/a/b"),
    ],
)
def test_clean_path_is_runcs(raw: str, clean: str) -> None:
    assert clean_path(raw) == clean


def test_cgroup_dir() -> None:
    assert (
        cgroup_dir("/sys/fs/cgroup/memory", "/", "/user/1", "/docker/x") == "/sys/fs/cgroup/memory/docker/x"
    )
    assert cgroup_dir("/sys/fs/cgroup/memory", "/", "/user/1", "x") == "/sys/fs/cgroup/memory/user/1/x"
    assert cgroup_dir("/sys/fs/cgroup/memory", "/", "/", "x") == "/sys/fs/cgroup/memory/x"
    # Inside a container the mount shows only /docker/abc of the hierarchy.
    assert (
        cgroup_dir("/sys/fs/cgroup/memory", "/docker/abc", "/docker/abc/sub", "x")
        == "/sys/fs/cgroup/memory/sub/x"
    )
    assert cgroup_dir("/sys/fs/cgroup/memory", "/docker/abc", "/elsewhere", "x") == "/sys/fs/cgroup/memory/x"
    assert cgroup_dir("/sys/fs/cgroup", "/", None, "/") == "/sys/fs/cgroup"


def test_systemd_paths() -> None:
    assert expand_slice("system.slice") == "/system.slice"
    assert expand_slice("a-b-c.slice") == "/a.slice/a-b.slice/a-b-c.slice"
    assert expand_slice("-.slice") == "/"
    assert systemd_path("system.slice:docker:abc", "id") == "/system.slice/docker-abc.scope"
    assert systemd_path("", "id") == "/system.slice/runc-id.scope"
    assert systemd_path("user.slice::my.slice", "id") == "/user.slice/my.slice"
    with pytest.raises(ConfigError, match="slice:prefix:name"):
        systemd_path("/docker/abc", "id")
    with pytest.raises(ConfigError):
        expand_slice("a--b.slice")


def test_systemd_without_systemd_is_unsupported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    monkeypatch.setattr(layout_mod, "SYSTEMD_RUN_DIR", os.path.join(os.fspath(tmp_path), "nope"))
    with pytest.raises(Unsupported, match="systemd-cgroup"):
        cgroups.new_manager("system.slice:docker:x", "x", systemd=True, layout=parse_mountinfo(PURE_V2))


def test_systemd_with_systemd_uses_the_scope_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    monkeypatch.setattr(layout_mod, "SYSTEMD_RUN_DIR", os.fspath(tmp_path))
    mgr = cgroups.new_manager("system.slice:docker:x", "x", systemd=True, layout=parse_mountinfo(PURE_V2))
    assert mgr.paths() == {"unified": "/sys/fs/cgroup/system.slice/docker-x.scope"}


def test_factory_per_layout() -> None:
    v1 = cgroups.new_manager("/docker/c1", "c1", layout=parse_mountinfo(PURE_V1))
    assert isinstance(v1, V1Manager)
    paths = v1.paths()
    assert paths["cpu"] == paths["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct/docker/c1"
    assert paths["name=systemd"] == "/sys/fs/cgroup/systemd/docker/c1"
    assert "unified" not in paths

    v2 = cgroups.new_manager("/docker/c1", "c1", layout=parse_mountinfo(PURE_V2))
    assert isinstance(v2, V2Manager)
    assert v2.paths() == {"unified": "/sys/fs/cgroup/docker/c1"}

    hy = cgroups.new_manager("/docker/c1", "c1", layout=parse_mountinfo(HYBRID))
    assert isinstance(hy, HybridManager)
    assert hy.paths() == {
        "cpu": "/sys/fs/cgroup/cpu/docker/c1",
        "cpuacct": "/sys/fs/cgroup/cpuacct/docker/c1",
        "memory": "/sys/fs/cgroup/memory/docker/c1",
        "name=systemd": "/sys/fs/cgroup/systemd/docker/c1",
        "unified": "/sys/fs/cgroup/unified/docker/c1",
    }


def test_relative_and_empty_paths_are_below_our_own_cgroup(monkeypatch: pytest.MonkeyPatch) -> None:
    import dockyard.runtime.cgroups as pkg

    monkeypatch.setattr(pkg, "own_cgroups", lambda: {"": "/user.slice/session-1.scope", "memory": "/m"})
    lay = parse_mountinfo(PURE_V2)
    assert pkg.new_manager("", "c1", layout=lay).paths() == {
        "unified": "/sys/fs/cgroup/user.slice/session-1.scope/c1"
    }
    assert pkg.new_manager(None, "c1", layout=lay).paths() == {
        "unified": "/sys/fs/cgroup/user.slice/session-1.scope/c1"
    }
    assert pkg.new_manager("../../a", "c1", layout=lay).paths() == {
        "unified": "/sys/fs/cgroup/user.slice/session-1.scope/a"
    }
    hy = pkg.new_manager("k", "c1", layout=parse_mountinfo(HYBRID)).paths()
    assert hy["memory"] == "/sys/fs/cgroup/memory/m/k"
    assert hy["cpu"] == "/sys/fs/cgroup/cpu/k"  # no line for cpu: the hierarchy's root


def test_manager_from_paths_round_trip() -> None:
    for text in (PURE_V1, PURE_V2, HYBRID):
        mgr = cgroups.new_manager("/docker/c1", "c1", layout=parse_mountinfo(text))
        again = cgroups.manager_from_paths(mgr.paths())
        assert type(again) is type(mgr)
        assert again.paths() == mgr.paths()
    # runc's own key for the unified hierarchy is "".
    assert isinstance(cgroups.manager_from_paths({"": "/sys/fs/cgroup/x"}), V2Manager)
