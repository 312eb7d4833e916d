"""Block I/O limits of a HostConfig: weights and per-device throttles, as dockerd checks them.

``--device-write-bps /dev/vda:1mb`` arrives as ``BlkioDeviceWriteBps: [{"Path": "/dev/vda",
"Rate": 1048576}]``. dockerd turns the path into the device's major:minor when the container
starts (a device renumbered since create is then followed), and so do we (``oci_block_io``).

What this host cannot enforce is warned about and discarded, with dockerd's words
(verifyPlatformContainerResources), never silently kept: proportional weights need
``blkio.weight`` (CFQ, gone since kernel 5.0) or ``blkio.bfq.weight`` (a disk on the BFQ
scheduler); throttles need ``blkio.throttle.*``. On cgroup v1 a throttle applies to I/O the
container's processes issue to the device themselves: direct I/O and reads. Buffered writes
reach the disk later from the kernel's writeback threads, outside the container's cgroup, so
``--device-write-bps`` does not slow ``dd`` without ``oflag=direct`` there (cgroup v2 with the io
controller charges writeback to the cgroup that dirtied the pages).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidArgument

V1_BLKIO = "/sys/fs/cgroup/blkio"

#: HostConfig field -> (OCI blockIO key, dockerd's warning when the host cannot throttle).
THROTTLES = {
    "BlkioDeviceReadBps": (
        "throttleReadBpsDevice",
        "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. "
        "Block I/O BPS read limit discarded.",
    ),
    "BlkioDeviceWriteBps": (
        "throttleWriteBpsDevice",
        "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted. "
        "Block I/O BPS write limit discarded.",
    ),
    "BlkioDeviceReadIOps": (
        "throttleReadIOPSDevice",
        "Your kernel does not support IOPS Block read limit or the cgroup is not mounted. "
        "Block I/O IOPS read limit discarded.",
    ),
    "BlkioDeviceWriteIOps": (
        "throttleWriteIOPSDevice",
        "Your kernel does not support IOPS Block write limit or the cgroup is not mounted. "
        "Block I/O IOPS write limit discarded.",
    ),
}
_FLAG = {
    "BlkioDeviceReadBps": "--device-read-bps",
    "BlkioDeviceWriteBps": "--device-write-bps",
    "BlkioDeviceReadIOps": "--device-read-iops",
    "BlkioDeviceWriteIOps": "--device-write-iops",
    "BlkioWeightDevice": "--blkio-weight-device",
}
WEIGHT_WARNING = (
    "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
)
WEIGHT_DEVICE_WARNING = (
    "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. "
    "Weight-device discarded."
)


@dataclass(frozen=True)
class BlkioFeatures:
    weight: bool = True
    weight_device: bool = True
    throttle: bool = True

    @classmethod
    def detect(cls, v2: bool, root: str = V1_BLKIO) -> BlkioFeatures:
        if v2:
            # io.weight and io.max live in every non-root cgroup once the io controller is on.
            on = _v2_io_enabled()
            return cls(weight=on, weight_device=on, throttle=on)

        def has(*names: str) -> bool:
            return any(os.path.exists(os.path.join(root, n)) for n in names)

        return cls(
            weight=has("blkio.weight", "blkio.bfq.weight"),
            weight_device=has("blkio.weight_device", "blkio.bfq.weight_device"),
            throttle=has("blkio.throttle.write_bps_device"),
        )


def _v2_io_enabled() -> bool:
    try:
        with open("/sys/fs/cgroup/cgroup.subtree_control", encoding="ascii") as f:
            return "io" in f.read().split()
    except OSError:
        return False


def check(hc: dict[str, Any], features: BlkioFeatures) -> list[str]:
    """Check the block I/O fields in place; drop what the host cannot do; return the warnings."""
    warnings: list[str] = []
    if (hc.get("BlkioWeight") or 0) > 0 and not features.weight:
        warnings.append(WEIGHT_WARNING)
        hc["BlkioWeight"] = 0
    devices = hc.get("BlkioWeightDevice") or []
    for entry in devices:
        _device_path(entry, "BlkioWeightDevice")
        weight = entry.get("Weight")
        if not isinstance(weight, int) or not 10 <= weight <= 1000:
            raise InvalidArgument(
                f"invalid --blkio-weight-device {entry.get('Path')}:{weight}: use a weight from 10 to 1000"
            )
    if devices and not features.weight_device:
        warnings.append(WEIGHT_DEVICE_WARNING)
        hc["BlkioWeightDevice"] = []
    for key, (_, warning) in THROTTLES.items():
        entries = hc.get(key) or []
        if not isinstance(entries, list):
            raise InvalidArgument(f'invalid HostConfig.{key}: use [{{"Path": "/dev/sda", "Rate": n}}]')
        for entry in entries:
            _device_path(entry, key)
            rate = entry.get("Rate")
            if not isinstance(rate, int) or isinstance(rate, bool) or rate < 0:
                raise InvalidArgument(
                    f"invalid {_FLAG[key]} {entry.get('Path')}:{rate!r}: use a rate such as /dev/sda:1mb"
                )
        if entries and not features.throttle:
            warnings.append(warning)
            hc[key] = []
    return warnings


def _device_path(entry: Any, key: str) -> str:
    if not isinstance(entry, dict) or not isinstance(entry.get("Path"), str):
        raise InvalidArgument(f'invalid HostConfig.{key} entry {entry!r}: use {{"Path": "/dev/sda", ...}}')
    path: str = entry["Path"]
    device_numbers(path, _FLAG[key])
    return path


def device_numbers(path: str, flag: str = "--device-write-bps") -> tuple[int, int]:
    """(major, minor) of a block device node; InvalidArgument naming the path otherwise."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InvalidArgument(
            f"invalid {flag} device {path!r}: {exc.strerror.lower() if exc.strerror else exc}: "
            "name a block device of this host, e.g. /dev/vda (see lsblk)"
        ) from None
    if not stat.S_ISBLK(st.st_mode):
        raise InvalidArgument(f"invalid {flag} device {path!r}: not a block device: name one, e.g. /dev/vda")
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def oci_block_io(hc: dict[str, Any]) -> dict[str, Any]:
    """OCI linux.resources.blockIO for the HostConfig; {} when it sets no block I/O limit."""
    out: dict[str, Any] = {}
    if hc.get("BlkioWeight"):
        out["weight"] = int(hc["BlkioWeight"])
    weights = []
    for entry in hc.get("BlkioWeightDevice") or []:
        major, minor = device_numbers(entry["Path"], _FLAG["BlkioWeightDevice"])
        weights.append({"major": major, "minor": minor, "weight": int(entry["Weight"])})
    if weights:
        out["weightDevice"] = weights
    for key, (oci_key, _) in THROTTLES.items():
        rules = []
        for entry in hc.get(key) or []:
            major, minor = device_numbers(entry["Path"], _FLAG[key])
            rules.append({"major": major, "minor": minor, "rate": int(entry["Rate"])})
        if rules:
            out[oci_key] = rules
    return out
