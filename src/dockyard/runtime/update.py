"""``update``: change the cgroup limits of a live container (``--resources FILE|-`` or flags)."""

from __future__ import annotations

import sys

from dockyard.errors import Conflict, InvalidArgument
from dockyard.oci import fastjson
from dockyard.runtime.state import StateDir, status

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _size(text: str, flag: str) -> int:
    t = text.strip().lower()
    if t in ("-1", "max"):
        return -1
    mult = 1
    for suffix, m in (("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("t", 1 << 40)):
        if t.endswith(suffix) or t.endswith(suffix + "b"):
            mult = m
            t = t.rstrip("b")[:-1]
            break
    else:
        t = t.removesuffix("b")
    try:
        return int(t) * mult
    except ValueError:
        raise InvalidArgument(f"--{flag} {text!r}: use a number with an optional k, m or g suffix") from None


def _num(text: str, flag: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidArgument(f"--{flag} {text!r}: must be a number") from None


def resources_from_flags(flags: dict[str, Any]) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if "resources" in flags:
        src = flags["resources"]
        try:
            if src == "-":
                data = sys.stdin.read()
            else:
                with open(src) as f:
                    data = f.read()
            loaded: dict[str, Any] = fastjson.loads(data)
        except (OSError, ValueError) as exc:
            raise InvalidArgument(f"--resources {src}: {exc}") from None
        if not isinstance(loaded, dict):
            raise InvalidArgument(f"--resources {src}: must hold a JSON object (OCI linux.resources)")
        res = loaded
    mem = res.setdefault("memory", {})
    for flag, key in (
        ("memory", "limit"),
        ("memory-reservation", "reservation"),
        ("memory-swap", "swap"),
        ("kernel-memory", "kernel"),
        ("kernel-memory-tcp", "kernelTCP"),
    ):
        if flag in flags:
            mem[key] = _size(flags[flag], flag)
    cpu = res.setdefault("cpu", {})
    for flag, key in (
        ("cpu-shares", "shares"),
        ("cpu-quota", "quota"),
        ("cpu-period", "period"),
        ("cpu-rt-period", "realtimePeriod"),
        ("cpu-rt-runtime", "realtimeRuntime"),
    ):
        if flag in flags:
            cpu[key] = _num(flags[flag], flag)
    if "cpuset-cpus" in flags:
        cpu["cpus"] = flags["cpuset-cpus"]
    if "cpuset-mems" in flags:
        cpu["mems"] = flags["cpuset-mems"]
    if "pids-limit" in flags:
        res["pids"] = {"limit": _num(flags["pids-limit"], "pids-limit")}
    if "blkio-weight" in flags:
        res.setdefault("blockIO", {})["weight"] = _num(flags["blkio-weight"], "blkio-weight")
    for flag in ("l3-cache-schema", "mem-bw-schema"):
        if flag in flags:
            from dockyard.errors import Unsupported

            raise Unsupported(f"--{flag}: Intel RDT is not supported by dockyard-runtime")
    return {k: v for k, v in res.items() if v != {}}


def update(root: str, container_id: str, flags: dict[str, Any]) -> None:
    sd = StateDir(root, container_id)
    state = sd.load()
    if status(state, sd) == "stopped":
        raise Conflict(f"cannot update container {container_id!r}: it is stopped")
    res = resources_from_flags(flags)
    # The device list is fixed at create, as runc's update never touches it either.
    res.pop("devices", None)
    from dockyard.runtime import cgroups

    cgroups.validate_resources(res, cgroups.detect_layout())
    cgroups.manager_from_paths(state.cgroup_paths).set_resources(res)
