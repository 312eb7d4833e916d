"""HostConfig: checked and normalised as dockerd does at create (and update) time.

``normalise(raw, host)`` returns the HostConfig inspect shows (every field present, dockerd's
defaults filled in: ShmSize 64 MiB, MemorySwap twice Memory, RestartPolicy "no", LogConfig
json-file, NetworkMode "default") and the warnings the create response carries. Bad input raises
InvalidArgument with dockerd's wording where clients know it ("Minimum memory limit allowed is
6MB"), and a message naming the field and the fix otherwise.

Limits the host cannot apply are warned about and dropped, as dockerd's verifyPlatformContainer-
Resources does: swap without swap accounting (cgroup v1 memory.memsw.*), an OOM-killer switch on
cgroup v2 (the memory controller there has none).
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from typing import Any

from dockyard.engine import blkio
from dockyard.engine.blkio import BlkioFeatures
from dockyard.errors import InvalidArgument

MIN_MEMORY = 6 * 1024 * 1024
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
MAX_CPU_SHARES = 262144
MIN_CPU_SHARES = 2

#: Docker's default masked paths (moby oci/defaults.go, 25+ with powercap, 28 with interrupts).
MASKED_PATHS = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")
LOG_DRIVERS = ("json-file", "local", "none")
_JSON_FILE_OPTS = frozenset(
    {"max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag"}
)
ULIMIT_NAMES = (
    "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
    "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
)  # fmt: skip


@dataclass
class HostFeatures:
    """What this host's cgroups can enforce (dockerd's sysinfo)."""

    cgroup_v2: bool = False
    swap_limit: bool = True
    oom_kill_disable: bool = True
    ncpu: int = 1
    cpus: set[int] = field(default_factory=set)
    blkio: BlkioFeatures = field(default_factory=BlkioFeatures)

    @classmethod
    def detect(cls) -> HostFeatures:
        v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        if v2:
            swap = any(
                os.path.exists(os.path.join("/sys/fs/cgroup", d, "memory.swap.max"))
                for d in _subdirs("/sys/fs/cgroup")
            )
        else:
            swap = os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
        cpus = sorted(os.sched_getaffinity(0))
        return cls(
            cgroup_v2=v2,
            swap_limit=swap,
            oom_kill_disable=not v2,
            ncpu=len(cpus),
            cpus=set(cpus),
            blkio=BlkioFeatures.detect(v2),
        )


def _subdirs(path: str) -> list[str]:
    try:
        return [e.name for e in os.scandir(path) if e.is_dir()]
    except OSError:
        return []


def defaults(features: HostFeatures) -> dict[str, Any]:
    """Every HostConfig field inspect shows, with dockerd's (API 1.44) values for "not set"."""
    return {
        "Binds": None,
        "ContainerIDFile": "",
        "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": "default",
        "PortBindings": {},
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": False,
        "VolumeDriver": "",
        "VolumesFrom": None,
        "ConsoleSize": [0, 0],
        "CapAdd": None,
        "CapDrop": None,
        "CgroupnsMode": "private" if features.cgroup_v2 else "host",
        "Dns": [],
        "DnsOptions": [],
        "DnsSearch": [],
        "ExtraHosts": None,
        "GroupAdd": None,
        "IpcMode": "private",
        "Cgroup": "",
        "Links": None,
        "OomScoreAdj": 0,
        "PidMode": "",
        "Privileged": False,
        "PublishAllPorts": False,
        "ReadonlyRootfs": False,
        "SecurityOpt": None,
        "UTSMode": "",
        "UsernsMode": "",
        "ShmSize": DEFAULT_SHM_SIZE,
        "Runtime": "runc",
        "Isolation": "",
        "CpuShares": 0,
        "Memory": 0,
        "NanoCpus": 0,
        "CgroupParent": "",
        "BlkioWeight": 0,
        "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": [],
        "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [],
        "BlkioDeviceWriteIOps": [],
        "CpuPeriod": 0,
        "CpuQuota": 0,
        "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0,
        "CpusetCpus": "",
        "CpusetMems": "",
        "Devices": [],
        "DeviceCgroupRules": None,
        "DeviceRequests": None,
        "MemoryReservation": 0,
        "MemorySwap": 0,
        "MemorySwappiness": None,
        "OomKillDisable": None if features.cgroup_v2 else False,
        "PidsLimit": None,
        "Ulimits": [],
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "MaskedPaths": list(MASKED_PATHS),
        "ReadonlyPaths": list(READONLY_PATHS),
    }


# Fields inspect shows only when set (omitempty in dockerd's structs).
_OPTIONAL = ("Mounts", "Tmpfs", "Sysctls", "Init", "StorageOpt", "Annotations")

_INT_FIELDS = (
    "Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpuPeriod", "CpuQuota",
    "CpuRealtimePeriod", "CpuRealtimeRuntime", "ShmSize", "OomScoreAdj", "BlkioWeight",
    "CpuCount", "CpuPercent", "IOMaximumIOps", "IOMaximumBandwidth",
)  # fmt: skip
_NULLABLE_INT_FIELDS = ("PidsLimit", "MemorySwappiness")
_BOOL_FIELDS = ("AutoRemove", "Privileged", "PublishAllPorts", "ReadonlyRootfs")
_STR_FIELDS = (
    "NetworkMode",
    "CpusetCpus",
    "CpusetMems",
    "IpcMode",
    "PidMode",
    "UTSMode",
    "Runtime",
    "CgroupParent",
)
_LIST_FIELDS = (
    "Binds", "VolumesFrom", "CapAdd", "CapDrop", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts",
    "GroupAdd", "SecurityOpt", "Ulimits", "Mounts", "Links", "Devices", "DeviceCgroupRules",
)  # fmt: skip


def _check_types(raw: dict[str, Any]) -> None:
    for key in _INT_FIELDS + _NULLABLE_INT_FIELDS:
        value = raw.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                raw[key] = int(value)
                continue
            raise InvalidArgument(f"invalid HostConfig.{key} {json.dumps(value)}: use an integer")
    for key in _BOOL_FIELDS:
        value = raw.get(key)
        if value is not None and not isinstance(value, bool):
            raise InvalidArgument(f"invalid HostConfig.{key} {json.dumps(value)}: use true or false")
    for key in _STR_FIELDS:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidArgument(f"invalid HostConfig.{key} {json.dumps(value)}: use a string")
    for key in _LIST_FIELDS:
        value = raw.get(key)
        if value is not None and not isinstance(value, list):
            raise InvalidArgument(f"invalid HostConfig.{key} {json.dumps(value)}: use a JSON array")
    for key in ("Tmpfs", "Sysctls", "StorageOpt", "PortBindings", "Annotations"):
        value = raw.get(key)
        if value is not None and not isinstance(value, dict):
            raise InvalidArgument(f"invalid HostConfig.{key} {json.dumps(value)}: use a JSON object")


def normalise(
    raw: dict[str, Any] | None,
    features: HostFeatures,
    runtimes: tuple[str, ...] = ("runc",),
    default_runtime: str = "runc",
    update: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """(the HostConfig to store, warnings) for a create request's HostConfig."""
    raw = copy.deepcopy(raw or {})
    if not isinstance(raw, dict):
        raise InvalidArgument("invalid HostConfig: use a JSON object")
    _check_types(raw)
    out = defaults(features)
    for key, value in raw.items():
        if key in out or key in _OPTIONAL:
            if value is None and key in out and out[key] is not None and key not in _NULLABLE_INT_FIELDS:
                continue  # null for a field with a non-null default keeps the default (as Go)
            out[key] = value
    out["Runtime"] = raw.get("Runtime") or default_runtime
    if out["Runtime"] not in runtimes:
        raise InvalidArgument(f"Unknown runtime specified {out['Runtime']}")
    out["NetworkMode"] = out.get("NetworkMode") or "default"
    if not out.get("MaskedPaths") and "MaskedPaths" not in raw:
        out["MaskedPaths"] = list(MASKED_PATHS)
    warnings = check_resources(out, features, update=update)
    out["RestartPolicy"] = restart_policy(out.get("RestartPolicy"))
    if out["AutoRemove"] and out["RestartPolicy"]["Name"] != "no":
        raise InvalidArgument("conflicting options: cannot specify both --restart and --rm")
    out["LogConfig"] = log_config(out.get("LogConfig"))
    if out["ShmSize"] < 0:
        raise InvalidArgument("SHM size can not be less than 0")
    if out["ShmSize"] == 0:
        out["ShmSize"] = DEFAULT_SHM_SIZE
    for key in ("Dns", "DnsOptions", "DnsSearch"):
        if out[key] is None:
            out[key] = []
    _check_ulimits(out.get("Ulimits") or [])
    _check_extra_hosts(out.get("ExtraHosts") or [])
    parse_security_opts(out.get("SecurityOpt") or [])
    if out["Privileged"] or "systempaths=unconfined" in (out.get("SecurityOpt") or []):
        out["MaskedPaths"] = None
        out["ReadonlyPaths"] = None
    return out, warnings


def check_resources(hc: dict[str, Any], features: HostFeatures, update: bool = False) -> list[str]:
    """dockerd's verifyPlatformContainerResources + adaptContainerSettings, in place."""
    warnings: list[str] = []
    memory = hc.get("Memory") or 0
    swap = hc.get("MemorySwap") or 0
    if memory < 0:
        raise InvalidArgument(
            f"invalid memory limit {memory}: use a positive number of bytes (or 0 for none)"
        )
    if memory and memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if memory > 0 and swap == 0 and not update:
        swap = hc["MemorySwap"] = memory * 2
    if memory > 0 and swap != -1 and not features.swap_limit:
        warnings.append(
            "Your kernel does not support swap limit capabilities or the cgroup is not mounted. "
            "Memory limited without swap."
        )
        swap = hc["MemorySwap"] = -1
    if memory > 0 and swap > 0 and swap < memory:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage")
    if memory == 0 and swap > 0 and not update:
        raise InvalidArgument("You should always set the Memory limit when using Memoryswap limit, see usage")
    swappiness = hc.get("MemorySwappiness")
    if swappiness is not None and swappiness != -1 and not 0 <= swappiness <= 100:
        raise InvalidArgument(f"Invalid value: {swappiness}, valid memory swappiness range is 0-100")
    reservation = hc.get("MemoryReservation") or 0
    if reservation and reservation < MIN_MEMORY:
        raise InvalidArgument("Minimum memory reservation allowed is 6MB")
    if memory > 0 and reservation > 0 and memory < reservation:
        raise InvalidArgument("Minimum memory limit can not be less than memory reservation limit, see usage")
    if hc.get("OomKillDisable"):
        if not features.oom_kill_disable:
            warnings.append("Your kernel does not support OomKillDisable. OomKillDisable discarded.")
            hc["OomKillDisable"] = None
        elif memory == 0:
            warnings.append(
                "OOM killer is disabled for the container, but no memory limit is set, this can result in "
                "the system running out of resources."
            )
    pids = hc.get("PidsLimit")
    if pids is not None and pids <= 0:
        hc["PidsLimit"] = None if not update else pids  # 0 and -1 mean unlimited
    nano = hc.get("NanoCpus") or 0
    if nano > 0 and (hc.get("CpuPeriod") or 0) > 0:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano > 0 and (hc.get("CpuQuota") or 0) > 0:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if nano < 0 or nano > features.ncpu * 10**9:
        raise InvalidArgument(
            f"Range of CPUs is from 0.01 to {features.ncpu}.00, as there are only {features.ncpu} CPUs "
            "available"
        )
    period = hc.get("CpuPeriod") or 0
    if period and not 1000 <= period <= 1_000_000:
        raise InvalidArgument(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
        )
    quota = hc.get("CpuQuota") or 0
    if 0 < quota < 1000:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    shares = hc.get("CpuShares") or 0
    if shares < 0:
        hc["CpuShares"] = MIN_CPU_SHARES
    elif shares > MAX_CPU_SHARES:
        hc["CpuShares"] = MAX_CPU_SHARES
    cpuset = hc.get("CpusetCpus") or ""
    if cpuset:
        wanted = parse_cpuset(cpuset)
        if not wanted <= features.cpus:
            available = format_cpuset(features.cpus)
            raise InvalidArgument(
                f"Requested CPUs are not available - requested {cpuset}, available: {available}"
            )
    warnings += blkio.check(hc, features.blkio)
    weight = hc.get("BlkioWeight") or 0
    if weight and not 10 <= weight <= 1000:
        raise InvalidArgument("Range of blkio weight is from 10 to 1000")
    return warnings


def parse_cpuset(text: str) -> set[int]:
    """ "0-2,4" -> {0, 1, 2, 4}; InvalidArgument naming the value otherwise."""
    cpus: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                low, high = part.split("-", 1)
                first, last = int(low), int(high)
                if first > last or first < 0:
                    raise ValueError
                cpus.update(range(first, last + 1))
            else:
                value = int(part)
                if value < 0:
                    raise ValueError
                cpus.add(value)
    except ValueError:
        raise InvalidArgument(f"Invalid value {text} for cpuset cpus: use a list such as 0-2,4") from None
    return cpus


def format_cpuset(cpus: set[int]) -> str:
    out: list[str] = []
    ordered = sorted(cpus)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)


def restart_policy(raw: Any) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidArgument('invalid HostConfig.RestartPolicy: use {"Name": ..., "MaximumRetryCount": n}')
    name = raw.get("Name") or "no"
    count = raw.get("MaximumRetryCount") or 0
    if not isinstance(count, int) or isinstance(count, bool):
        raise InvalidArgument(f"invalid restart policy: maximum retry count {count!r} is not an integer")
    if name not in RESTART_POLICIES:
        raise InvalidArgument(
            f"invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', 'on-failure', "
            "or 'unless-stopped'"
        )
    if name == "on-failure" and count < 0:
        raise InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    if name != "on-failure" and count != 0:
        raise InvalidArgument(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'"
        )
    return {"Name": name, "MaximumRetryCount": count}


def log_config(raw: Any) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidArgument('invalid HostConfig.LogConfig: use {"Type": ..., "Config": {...}}')
    kind = raw.get("Type") or "json-file"
    config = raw.get("Config") or {}
    if kind not in LOG_DRIVERS:
        raise InvalidArgument(
            f"logger: no log driver named '{kind}' is registered: use json-file, local or none"
        )
    if not isinstance(config, dict) or not all(isinstance(v, str) for v in config.values()):
        raise InvalidArgument("invalid HostConfig.LogConfig.Config: use an object of strings")
    if kind == "none" and config:
        raise InvalidArgument(f"unknown log opt '{next(iter(config))}' for none log driver")
    for key in config:
        if kind != "none" and key not in _JSON_FILE_OPTS and not key.startswith("max-"):
            raise InvalidArgument(f"unknown log opt '{key}' for {kind} log driver")
    log_limits(config)
    return {"Type": kind, "Config": config}


def log_limits(config: dict[str, str]) -> tuple[int | None, int]:
    """(max-size in bytes or None, max-file) of a json-file LogConfig.Config."""
    size: int | None = None
    if config.get("max-size") not in (None, "", "-1"):
        size = parse_size(config["max-size"], "max-size")
        if size <= 0:
            raise InvalidArgument(f"invalid max-size {config['max-size']!r}: use a positive size such as 10m")
    files = 1
    if config.get("max-file"):
        try:
            files = int(config["max-file"])
        except ValueError:
            raise InvalidArgument(f"invalid max-file {config['max-file']!r}: use a whole number") from None
        if files < 1:
            raise InvalidArgument("max-file cannot be less than 1")
        if files > 1 and size is None:
            raise InvalidArgument("max-file is set but max-size is not: set max-size too (e.g. 10m)")
    return size, files


_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def parse_size(text: str, what: str = "size") -> int:
    """Docker's RAMInBytes: "10m", "1.5g", "512k", "100" (bytes); binary units, optional "b"/"ib"."""
    value = text.strip().lower()
    for suffix in ("ib", "b"):
        if value.endswith(suffix) and len(value) > len(suffix) and value[-len(suffix) - 1].isalpha():
            value = value[: -len(suffix)]
            break
    unit = value[-1:] if value[-1:].isalpha() else ""
    number = value[:-1] if unit else value
    try:
        amount = float(number)
    except ValueError:
        raise InvalidArgument(
            f"invalid {what} {text!r}: use a number with an optional b, k, m or g suffix"
        ) from None
    if unit not in _UNITS or amount < 0:
        raise InvalidArgument(f"invalid {what} {text!r}: use a number with an optional b, k, m or g suffix")
    return int(amount * _UNITS[unit])


def _check_ulimits(ulimits: list[Any]) -> None:
    for item in ulimits:
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            raise InvalidArgument(f'invalid ulimit {item!r}: use {{"Name": "nofile", "Soft": n, "Hard": n}}')
        if item["Name"] not in ULIMIT_NAMES:
            raise InvalidArgument(f"invalid ulimit type: {item['Name']}")
        soft, hard = item.get("Soft", 0), item.get("Hard", 0)
        if not isinstance(soft, int) or not isinstance(hard, int):
            raise InvalidArgument(f"invalid ulimit {item['Name']}: Soft and Hard must be integers")
        if soft > hard and hard != -1:
            raise InvalidArgument(
                f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )


def _check_extra_hosts(hosts: list[Any]) -> None:
    import ipaddress

    for entry in hosts:
        if not isinstance(entry, str):
            raise InvalidArgument(f'invalid ExtraHosts entry {entry!r}: use "name:ip"')
        sep = "=" if "=" in entry else ":"
        name, found, address = entry.partition(sep)
        if not found or not name:
            raise InvalidArgument(f'bad format for add-host: {entry!r}: use "name:ip"')
        if address == "host-gateway":
            continue
        try:
            ipaddress.ip_address(address.strip("[]"))
        except ValueError:
            raise InvalidArgument(f"invalid IP address in add-host: {address!r}") from None


@dataclass
class SecurityOptions:
    no_new_privileges: bool = False
    seccomp: str = ""  # "" (default profile), "unconfined", or a JSON profile
    unconfined_paths: bool = False
    writable_cgroups: bool = False
    apparmor: str = ""
    labels: list[str] = field(default_factory=list)


def parse_security_opts(options: list[Any]) -> SecurityOptions:
    out = SecurityOptions()
    for opt in options:
        if not isinstance(opt, str):
            raise InvalidArgument(f"Invalid --security-opt: {opt!r}")
        if opt == "no-new-privileges":
            out.no_new_privileges = True
            continue
        key, sep, value = opt.partition("=")
        if not sep:
            key, sep, value = opt.partition(":")
        if not sep:
            raise InvalidArgument(
                f"Invalid --security-opt: {opt!r}: use key=value, e.g. no-new-privileges=true"
            )
        if key == "no-new-privileges":
            if value not in ("true", "false"):
                raise InvalidArgument(
                    f"invalid --security-opt 2: {opt!r}: no-new-privileges takes true or false"
                )
            out.no_new_privileges = value == "true"
        elif key == "seccomp":
            if value != "unconfined":
                try:
                    profile = json.loads(value)
                except json.JSONDecodeError as exc:
                    raise InvalidArgument(f"Decoding seccomp profile failed: {exc}") from None
                if not isinstance(profile, dict):
                    raise InvalidArgument(
                        "Decoding seccomp profile failed: the profile must be a JSON object"
                    )
            out.seccomp = value
        elif key == "apparmor":
            out.apparmor = value
        elif key == "label":
            out.labels.append(value)
        elif key == "systempaths":
            if value != "unconfined":
                raise InvalidArgument(f"Invalid --security-opt: {opt!r}: systempaths takes only unconfined")
            out.unconfined_paths = True
        elif key == "writable-cgroups":
            if value not in ("true", "false"):
                raise InvalidArgument(
                    f"Invalid --security-opt: {opt!r}: writable-cgroups takes true or false"
                )
            out.writable_cgroups = value == "true"
        else:
            raise InvalidArgument(f"Invalid --security-opt: {opt!r}")
    return out


def check_network_mode(mode: str) -> str:
    """The network mode kind: default, bridge, none, host, container, or "network" for any other
    name (a user-defined network, which the engine looks up)."""
    if mode in ("default", "bridge", "none", "host"):
        return mode
    if mode.startswith("container:"):
        if not mode.partition(":")[2]:
            raise InvalidArgument('invalid NetworkMode "container:": name the container, container:<name|id>')
        return "container"
    return "network"
