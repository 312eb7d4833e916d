"""Checks of OCI ``linux.resources`` (runtime-spec config-linux.md) made before any cgroup exists.

Only what is wrong on every host is refused here: a wrong type, a negative size, a value outside
the range the kernel accepts, two values that contradict each other, a cgroup v2-only key on a
v1-only host. What depends on the machine (a missing controller or file) is found when the
values are written, and reported naming the same field.
"""

from __future__ import annotations

from dockyard.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.runtime.cgroups.layout import CgroupLayout

P = "linux.resources"

_INT64 = (-(1 << 63), (1 << 63) - 1)
_UINT64 = (0, (1 << 64) - 1)
_UINT32 = (0, (1 << 32) - 1)
_UINT16 = (0, (1 << 16) - 1)

# Kernel ranges (kernel/sched/core.c, block/blk-cgroup.c, mm/memcontrol-v1.c).
SHARES_MIN, SHARES_MAX = 2, 262144
CFS_PERIOD_MIN, CFS_PERIOD_MAX = 1000, 1000000
CFS_QUOTA_MIN = 1000
BLKIO_WEIGHT_MIN, BLKIO_WEIGHT_MAX = 10, 1000


def _int(value: Any, field: str, lo_hi: tuple[int, int], what: str = "an integer") -> int:
    # bool is an int subclass in Python, never in JSON's eyes.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(field, f"{value!r} is not {what}")
    lo, hi = lo_hi
    if not lo <= value <= hi:
        raise ConfigError(field, f"{value} is out of range: use {what} from {lo} to {hi}")
    return value


def _opt_int(section: dict[str, Any], key: str, field: str, lo_hi: tuple[int, int], what: str) -> int | None:
    value = section.get(key)
    if value is None:
        return None
    return _int(value, f"{field}.{key}", lo_hi, what)


def _obj(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(field, f"must be a JSON object, got {type(value).__name__}")
    return value


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(field, f"must be a JSON array, got {type(value).__name__}")
    return value


def _bool(section: dict[str, Any], key: str, field: str) -> None:
    value = section.get(key)
    if value is not None and not isinstance(value, bool):
        raise ConfigError(f"{field}.{key}", f"{value!r} is not true or false")


def validate_cpu_list(text: Any, field: str) -> None:
    """``0-3,8`` style lists (cpuset.cpus / cpuset.mems); "" means unset."""
    if not isinstance(text, str):
        raise ConfigError(field, f'{text!r} is not a string such as "0-3,8"')
    if text == "":
        return
    for part in text.split(","):
        lo, sep, hi = part.strip().partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()) or (sep and int(hi) < int(lo)):
            raise ConfigError(field, f'invalid list {text!r}: use numbers and ranges such as "0-3,8"')


def valid_page_size(size: Any) -> bool:
    """A hugetlb page size as cgroup files name it: digits then KB, MB or GB ("2MB")."""
    if not isinstance(size, str) or len(size) < 3:
        return False
    digits, unit = size[:-2], size[-2:]
    return unit in ("KB", "MB", "GB") and digits.isdigit() and not digits.startswith("0")


def validate_resources(resources: dict[str, Any], layout: CgroupLayout) -> None:
    """Raise ConfigError naming the first wrong field of ``resources``; pure, touches nothing."""
    res = _obj(resources, P)
    if res.get("memory") is not None:
        _memory(_obj(res["memory"], f"{P}.memory"))
    if res.get("cpu") is not None:
        _cpu(_obj(res["cpu"], f"{P}.cpu"))
    if res.get("pids") is not None:
        pids = _obj(res["pids"], f"{P}.pids")
        if "limit" not in pids:
            raise ConfigError(f"{P}.pids.limit", "is required in a pids object: use -1 for no limit")
        _int(pids["limit"], f"{P}.pids.limit", _INT64)
    if res.get("blockIO") is not None:
        _block_io(_obj(res["blockIO"], f"{P}.blockIO"))
    if res.get("hugepageLimits") is not None:
        for i, h in enumerate(_list(res["hugepageLimits"], f"{P}.hugepageLimits")):
            f = f"{P}.hugepageLimits[{i}]"
            h = _obj(h, f)
            if not valid_page_size(h.get("pageSize")):
                raise ConfigError(
                    f"{f}.pageSize", f'{h.get("pageSize")!r} is not a huge page size such as "2MB" or "1GB"'
                )
            _int(h.get("limit"), f"{f}.limit", _UINT64, "a byte count")
    if res.get("devices") is not None:
        for i, d in enumerate(_list(res["devices"], f"{P}.devices")):
            _device(_obj(d, f"{P}.devices[{i}]"), f"{P}.devices[{i}]")
    if res.get("network") is not None:
        net = _obj(res["network"], f"{P}.network")
        _opt_int(net, "classID", f"{P}.network", _UINT32, "a 32-bit class id")
        for i, p in enumerate(_list(net.get("priorities") or [], f"{P}.network.priorities")):
            f = f"{P}.network.priorities[{i}]"
            p = _obj(p, f)
            name = p.get("name")
            if not isinstance(name, str) or not name or any(c in name for c in " \t\n/"):
                raise ConfigError(f"{f}.name", f"{name!r} is not a network interface name")
            _int(p.get("priority"), f"{f}.priority", _UINT32, "a priority")
    if res.get("rdma") is not None:
        for name, limit in _obj(res["rdma"], f"{P}.rdma").items():
            f = f"{P}.rdma.{name}"
            limit = _obj(limit, f)
            if not name or any(c in name for c in " \t\n/="):
                raise ConfigError(f, f"{name!r} is not an RDMA device name")
            _opt_int(limit, "hcaHandles", f, _UINT32, "a count")
            _opt_int(limit, "hcaObjects", f, _UINT32, "a count")
    if res.get("unified") is not None:
        unified = _obj(res["unified"], f"{P}.unified")
        if unified and layout.unified is None:
            raise ConfigError(
                f"{P}.unified",
                "needs cgroup v2 but this host mounts only cgroup v1 hierarchies "
                "(runc: cannot use unified on cgroup v1): move the settings to the v1 fields",
            )
        for key, value in unified.items():
            f = f"{P}.unified.{key}"
            if "/" in key or key in (".", "..") or "." not in key.strip("."):
                raise ConfigError(f, f"{key!r} must be a cgroup file name of the form CONTROLLER.PARAMETER")
            if not isinstance(value, str):
                raise ConfigError(f, f"{value!r} is not a string: unified values are written as given")


def _memory(mem: dict[str, Any]) -> None:
    f = f"{P}.memory"
    what = "a byte count (-1 for no limit)"
    limit = _opt_int(mem, "limit", f, (-1, _INT64[1]), what)
    _opt_int(mem, "reservation", f, (-1, _INT64[1]), what)
    swap = _opt_int(mem, "swap", f, (-1, _INT64[1]), what)
    # Deprecated, ignored like runc 1.1 ("Kernel memory settings are ignored"), but still typed.
    _opt_int(mem, "kernel", f, _INT64, what)
    _opt_int(mem, "kernelTCP", f, _INT64, what)
    _opt_int(mem, "swappiness", f, (0, 100), "a swappiness from 0 to 100")
    for key in ("disableOOMKiller", "useHierarchy", "checkBeforeUpdate"):
        _bool(mem, key, f)
    if swap is not None and swap > 0 and limit is not None:
        # memory.swap is memory+swap (the v1 meaning, which v2 converts): it cannot be below the
        # memory limit, and a finite one needs a finite memory limit (runc's conversion rules).
        if limit == -1:
            raise ConfigError(
                f"{f}.swap", f"a memory+swap limit ({swap}) needs a memory limit: set memory.limit too"
            )
        if 0 < swap < limit:
            raise ConfigError(
                f"{f}.swap",
                f"memory+swap limit {swap} is below the memory limit {limit}: "
                "swap counts memory plus swap, so use a value >= memory.limit (or -1)",
            )


def _cpu(cpu: dict[str, Any]) -> None:
    f = f"{P}.cpu"
    shares = _opt_int(cpu, "shares", f, _UINT64, "a number of shares")
    if shares not in (None, 0) and not SHARES_MIN <= shares <= SHARES_MAX:
        raise ConfigError(f"{f}.shares", f"{shares} is out of range: use {SHARES_MIN} to {SHARES_MAX}")
    quota = _opt_int(cpu, "quota", f, _INT64, "microseconds (-1 for no limit)")
    if quota is not None and 0 < quota < CFS_QUOTA_MIN:
        raise ConfigError(
            f"{f}.quota", f"{quota} is below the kernel's minimum of {CFS_QUOTA_MIN} microseconds"
        )
    period = _opt_int(cpu, "period", f, _UINT64, "microseconds")
    if period not in (None, 0) and not CFS_PERIOD_MIN <= period <= CFS_PERIOD_MAX:
        raise ConfigError(
            f"{f}.period", f"{period} is out of range: use {CFS_PERIOD_MIN} to {CFS_PERIOD_MAX} microseconds"
        )
    _opt_int(cpu, "burst", f, _UINT64, "microseconds")
    _opt_int(cpu, "realtimeRuntime", f, _INT64, "microseconds")
    _opt_int(cpu, "realtimePeriod", f, _UINT64, "microseconds")
    _opt_int(cpu, "idle", f, (0, 1), "0 or 1")
    for key in ("cpus", "mems"):
        if cpu.get(key) is not None:
            validate_cpu_list(cpu[key], f"{f}.{key}")


def _block_io(bio: dict[str, Any]) -> None:
    f = f"{P}.blockIO"
    weights = (0, BLKIO_WEIGHT_MAX)
    what = f"a weight from {BLKIO_WEIGHT_MIN} to {BLKIO_WEIGHT_MAX}"
    for key in ("weight", "leafWeight"):
        w = _opt_int(bio, key, f, weights, what)
        if w not in (None, 0) and w < BLKIO_WEIGHT_MIN:
            raise ConfigError(f"{f}.{key}", f"{w} is out of range: use {what}")
    for i, d in enumerate(_list(bio.get("weightDevice") or [], f"{f}.weightDevice")):
        g = f"{f}.weightDevice[{i}]"
        d = _obj(d, g)
        _major_minor(d, g)
        for key in ("weight", "leafWeight"):
            w = _opt_int(d, key, g, weights, what)
            if w not in (None, 0) and w < BLKIO_WEIGHT_MIN:
                raise ConfigError(f"{g}.{key}", f"{w} is out of range: use {what}")
    for key in (
        "throttleReadBpsDevice",
        "throttleWriteBpsDevice",
        "throttleReadIOPSDevice",
        "throttleWriteIOPSDevice",
    ):
        for i, d in enumerate(_list(bio.get(key) or [], f"{f}.{key}")):
            g = f"{f}.{key}[{i}]"
            d = _obj(d, g)
            _major_minor(d, g)
            _int(d.get("rate"), f"{g}.rate", _UINT64, "a rate")


def _major_minor(d: dict[str, Any], field: str) -> None:
    for key in ("major", "minor"):
        _int(d.get(key), f"{field}.{key}", (0, (1 << 32) - 1), "a device number")


def _device(d: dict[str, Any], f: str) -> None:
    if not isinstance(d.get("allow"), bool):
        raise ConfigError(f"{f}.allow", f"{d.get('allow')!r} is not true or false (allow is required)")
    kind = d.get("type")
    if kind is not None and kind not in ("a", "b", "c"):
        raise ConfigError(f"{f}.type", f"{kind!r} is not a device type: use a (all), b (block) or c (char)")
    for key in ("major", "minor"):
        # -1 is how runc's own configs spell "any" (Go's devices.Wildcard).
        _opt_int(d, key, f, (-1, (1 << 32) - 1), "a device number (-1 or absent for any)")
    access = d.get("access")
    if access is not None and (not isinstance(access, str) or any(c not in "rwm" for c in access)):
        raise ConfigError(f"{f}.access", f"{access!r} is not a combination of r, w and m")
