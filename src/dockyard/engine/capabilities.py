"""The container's capabilities from CapAdd/CapDrop/Privileged, as dockerd's TweakCapabilities.

Docker's default set is 14 capabilities. Names are accepted in any case, with or without the
``CAP_`` prefix, and ``ALL``: CapAdd ALL gives every capability the kernel knows minus CapDrop;
CapDrop ALL keeps only CapAdd. An unknown name is refused at create (dockerd's message).
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument
from dockyard.runtime.capabilities import CAPS, last_cap

DEFAULT_CAPS = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
]


def all_caps() -> list[str]:
    """Every capability the kernel knows and this daemon may hand on: a daemon started with a
    reduced bounding set (some VMs and container hosts withhold CAP_SYS_RESOURCE, say) cannot
    give its containers more, and the runtime refuses a config that asks for it."""
    top = last_cap()
    bounding = _own_bounding_set()
    return [
        name
        for name, number in sorted(CAPS.items(), key=lambda kv: kv[1])
        if number <= top and (bounding is None or bounding >> number & 1)
    ]


def _own_bounding_set() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return None


def normalise(names: list[str] | None) -> list[str]:
    out: list[str] = []
    for raw in names or []:
        if not isinstance(raw, str):
            raise InvalidArgument(f"unknown capability: {raw!r}")
        name = raw.upper()
        if name != "ALL" and not name.startswith("CAP_"):
            name = "CAP_" + name
        if name != "ALL" and name not in CAPS:
            raise InvalidArgument(f'unknown capability: "{name}"')
        if name not in out:
            out.append(name)
    return out


def effective(cap_add: list[str] | None, cap_drop: list[str] | None, privileged: bool) -> list[str]:
    if privileged:
        return all_caps()
    adds, drops = normalise(cap_add), normalise(cap_drop)
    if not adds and not drops:
        return list(DEFAULT_CAPS)
    if "ALL" in adds:
        return [c for c in all_caps() if c not in drops]
    if "ALL" in drops:
        return [c for c in adds if c != "ALL"]
    caps = [c for c in DEFAULT_CAPS if c not in drops]
    return caps + [c for c in adds if c not in caps]
