"""What the host can enforce, checked at create: SELinux labels and AppArmor profiles, block I/O
limits, --storage-opt; and the label computation a host with SELinux would use."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from dockyard.engine import blkio, hostconfig, labels, spec, storage_opt
from dockyard.engine.create import CreateSettings, new_container
from dockyard.errors import InvalidArgument, Unsupported

FEATURES = hostconfig.HostFeatures(cgroup_v2=False, swap_limit=True, ncpu=2, cpus={0, 1})


def create(host: dict[str, object], settings: CreateSettings | None = None) -> list[str]:
    settings = settings or CreateSettings(FEATURES, ("runc",), "runc", "/")
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": host}
    _, warnings = new_container(body, "/c", "sha256:" + "a" * 64, {}, settings)
    return warnings


# ---------------------------------------------------------------- SELinux and AppArmor


def test_labels_refused_without_selinux() -> None:
    with pytest.raises(InvalidArgument, match="label=type:spc_t: SELinux is not enabled on this host"):
        labels.check_host(["type:spc_t"], "", selinux=False)
    labels.check_host(["disable"], "", selinux=False)  # asks for nothing
    labels.check_host(["type:spc_t", "level:s0:c1,c2"], "", selinux=True)


@pytest.mark.skipif(labels.selinux_enabled(), reason="this checks a host without SELinux")
def test_create_with_label_on_this_host_is_a_clear_error() -> None:
    with pytest.raises(InvalidArgument, match="SELinux is not enabled on this host"):
        create({"SecurityOpt": ["label=level:s0:c100,c200"]})
    create({"SecurityOpt": ["label=disable"]})


def test_apparmor_profile_refused_without_apparmor() -> None:
    with pytest.raises(InvalidArgument, match="apparmor=docker-default: AppArmor is not enabled"):
        labels.check_host([], "docker-default", apparmor_on=False)
    labels.check_host([], "unconfined", apparmor_on=False)
    labels.check_host([], "docker-default", apparmor_on=True)


def test_label_options_parsed_strictly() -> None:
    assert labels.parse(["user:u", "role:r", "type:t", "level:s0:c1,c2", "filetype:f", "disable"]) == {
        "user": "u", "role": "r", "type": "t", "level": "s0:c1,c2", "filetype": "f", "disable": "",
    }  # fmt: skip
    for bad in ("type", "type:", "colour:red", "disable:yes"):
        with pytest.raises(InvalidArgument, match="invalid --security-opt label="):
            labels.parse([bad])


def test_each_container_gets_its_own_mcs_level() -> None:
    rng = random.Random(8)
    first = labels.container_labels([], set(), rng)
    assert first.process.startswith("system_u:system_r:container_t:s0:c")
    assert first.mount.startswith("system_u:object_r:container_file_t:s0:c")
    assert first.process.split(":", 3)[3] == first.mount.split(":", 3)[3] == first.level
    second = labels.container_labels([], {first.level}, random.Random(8))  # same draws: must skip it
    assert second.level != first.level
    a, b = first.level.removeprefix("s0:").split(",")
    assert a != b and int(a[1:]) < int(b[1:]) < labels.MCS_CATEGORIES


def test_label_options_replace_parts() -> None:
    got = labels.container_labels(["type:spc_t", "level:s0:c7,c9", "filetype:my_file_t"], set())
    assert got == labels.Labels("system_u:system_r:spc_t:s0:c7,c9", "system_u:object_r:my_file_t:s0:c7,c9")
    assert labels.shared_label(got) == "system_u:object_r:my_file_t:s0"
    assert labels.container_labels(["disable"], set()) == labels.Labels("", "")


def test_relabel_sets_the_xattr_on_the_tree(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x")
    os.symlink("/etc/passwd", tmp_path / "d" / "link")  # relabeled itself, never its target
    try:
        labels.relabel(str(tmp_path / "d"), "system_u:object_r:container_file_t:s0:c1,c2")
    except OSError as exc:  # a filesystem that refuses security.* xattrs without an LSM
        pytest.fail(f"security.selinux xattr refused on {tmp_path}: {exc}")
    for p in ("d", "d/f"):
        value = os.getxattr(tmp_path / p, labels.XATTR)
        assert value == b"system_u:object_r:container_file_t:s0:c1,c2\0"


# ---------------------------------------------------------------- block I/O


def test_blkio_throttle_resolved_to_device_numbers() -> None:
    device = _a_block_device()
    st = os.stat(device)
    numbers = {"major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev)}
    hc = {
        "BlkioDeviceWriteBps": [{"Path": device, "Rate": 1048576}],
        "BlkioDeviceReadIOps": [{"Path": device, "Rate": 50}],
    }
    assert blkio.check(hc, blkio.BlkioFeatures()) == []
    assert blkio.oci_block_io(hc) == {
        "throttleWriteBpsDevice": [{**numbers, "rate": 1048576}],
        "throttleReadIOPSDevice": [{**numbers, "rate": 50}],
    }
    assert spec.resources(hc)["blockIO"] == blkio.oci_block_io(hc)


def test_blkio_limits_the_host_cannot_apply_are_warned_and_dropped() -> None:
    device = _a_block_device()
    hc = {"BlkioWeight": 300, "BlkioDeviceWriteBps": [{"Path": device, "Rate": 1}]}
    warnings = blkio.check(hc, blkio.BlkioFeatures(weight=False, weight_device=False, throttle=False))
    assert warnings == [blkio.WEIGHT_WARNING, blkio.THROTTLES["BlkioDeviceWriteBps"][1]]
    assert hc["BlkioWeight"] == 0 and hc["BlkioDeviceWriteBps"] == []
    assert blkio.oci_block_io(hc) == {}


def test_blkio_bad_devices_named() -> None:
    with pytest.raises(InvalidArgument, match=r"invalid --device-write-bps device '/dev/nope'.*e\.g\. /dev/"):
        blkio.check({"BlkioDeviceWriteBps": [{"Path": "/dev/nope", "Rate": 1}]}, blkio.BlkioFeatures())
    with pytest.raises(InvalidArgument, match="'/dev/null': not a block device"):
        blkio.check({"BlkioDeviceReadBps": [{"Path": "/dev/null", "Rate": 1}]}, blkio.BlkioFeatures())
    with pytest.raises(InvalidArgument, match="use a rate"):
        blkio.check({"BlkioDeviceReadBps": [{"Path": _a_block_device(), "Rate": -1}]}, blkio.BlkioFeatures())


def test_blkio_warning_reaches_the_create_response() -> None:
    no_weight = hostconfig.HostFeatures(ncpu=2, cpus={0, 1}, blkio=blkio.BlkioFeatures(weight=False))
    warnings = create({"BlkioWeight": 500}, CreateSettings(no_weight, ("runc",), "runc", "/"))
    assert blkio.WEIGHT_WARNING in warnings


def test_this_hosts_blkio_features_match_its_cgroup_files() -> None:
    got = blkio.BlkioFeatures.detect(v2=False)
    root = blkio.V1_BLKIO
    assert got.throttle == os.path.exists(f"{root}/blkio.throttle.write_bps_device")
    assert got.weight == (
        os.path.exists(f"{root}/blkio.weight") or os.path.exists(f"{root}/blkio.bfq.weight")
    )


def _a_block_device() -> str:
    for name in sorted(os.listdir("/sys/block")):
        path = f"/dev/{name}"
        if os.path.exists(path) and not name.startswith(("loop", "ram")):
            return path
    pytest.fail("no block device under /dev for /sys/block entries")


# ---------------------------------------------------------------- --storage-opt


def test_storage_opt_size_refused_on_ext4(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
        "30 22 0:40 / /data rw,relatime shared:9 - xfs /dev/vdb rw,attr2,inode64,prjquota\n"
    )
    assert storage_opt.backing_filesystem("/var/lib/x", str(mountinfo)) == ("ext4", "/dev/vda", ["rw"])
    fstype, _, options = storage_opt.backing_filesystem("/data/dockyard", str(mountinfo))
    assert storage_opt.has_project_quota(fstype, options)
    assert not storage_opt.has_project_quota("ext4", ["rw", "prjquota"])


def test_storage_opt_on_this_host() -> None:
    fstype, _, options = storage_opt.backing_filesystem("/")
    if storage_opt.has_project_quota(fstype, options):
        with pytest.raises(Unsupported, match="does not set per-container project quotas"):
            create({"StorageOpt": {"size": "1G"}})
    else:
        with pytest.raises(
            InvalidArgument, match=f"--storage-opt size=1G is not supported .* is on {fstype}"
        ):
            create({"StorageOpt": {"size": "1G"}})
    with pytest.raises(InvalidArgument, match=r"Unknown option dm\.basesize"):
        create({"StorageOpt": {"dm.basesize": "1G"}})
