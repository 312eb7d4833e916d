"""Linux capabilities of the container process: names <-> numbers, bounding drop, capset, ambient.

The init process runs, in this order (runc's order, and the only one the kernel accepts)::

    sets = parse(config["process"].get("capabilities"))      # in the parent, before fork
    check_against_bounding(sets)
    drop_bounding(sets)            # PR_CAPBSET_DROP needs CAP_SETPCAP in the effective set
    prctl(PR_SET_KEEPCAPS, 1)      # setuid(0 -> non-zero) would otherwise clear permitted
    setgroups / setgid / setuid
    prctl(PR_SET_KEEPCAPS, 0)
    apply(sets)                    # capset(2) e/p/i, then the ambient set
    (seccomp)  execve

What the process holds after execve(2) is the kernel's rule (capabilities(7), "Transformation of
capabilities during execve()"), not the configured effective/permitted sets:

* uid 0 (no SECBIT_NOROOT): permitted = effective = bounding | inheritable, cut down to the
  permitted set before exec when no_new_privs is set (the runc default spec sets it);
* any other uid, file without file capabilities: permitted = effective = ambient.

So a non-root process keeps a capability only through the ambient set, and the kernel raises an
ambient capability only if it is in both permitted and inheritable (PR_CAP_AMBIENT_RAISE fails
with EPERM otherwise). runc 1.1 ignores that failure (its capability library discards the error),
which is why ``runc spec``'s ambient list, with no inheritable list, has no effect; we skip such
capabilities the same way and report them through ``parse``'s warnings.
"""

from __future__ import annotations

from dockyard.errors import ConfigError, SystemFailure
from dockyard.util import syscalls

# typing, collections.abc and dataclasses cost milliseconds on the start path; annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

#: Every capability name the runtime recognises (linux/capability.h up to Linux 5.9), by number.
CAPS: dict[str, int] = {
    "CAP_CHOWN": 0,
    "CAP_DAC_OVERRIDE": 1,
    "CAP_DAC_READ_SEARCH": 2,
    "CAP_FOWNER": 3,
    "CAP_FSETID": 4,
    "CAP_KILL": 5,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12,
    "CAP_NET_RAW": 13,
    "CAP_IPC_LOCK": 14,
    "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16,
    "CAP_SYS_RAWIO": 17,
    "CAP_SYS_CHROOT": 18,
    "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20,
    "CAP_SYS_ADMIN": 21,
    "CAP_SYS_BOOT": 22,
    "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24,
    "CAP_SYS_TIME": 25,
    "CAP_SYS_TTY_CONFIG": 26,
    "CAP_MKNOD": 27,
    "CAP_LEASE": 28,
    "CAP_AUDIT_WRITE": 29,
    "CAP_AUDIT_CONTROL": 30,
    "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32,
    "CAP_MAC_ADMIN": 33,
    "CAP_SYSLOG": 34,
    "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36,
    "CAP_AUDIT_READ": 37,
    "CAP_PERFMON": 38,
    "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}
_NAMES: dict[int, str] = {number: name for name, number in CAPS.items()}

#: The five sets of ``process.capabilities``, in the order the spec lists them.
SET_NAMES = ("bounding", "effective", "permitted", "inheritable", "ambient")

_last_cap: int | None = None


def last_cap() -> int:
    """The highest capability number the running kernel knows (``/proc/sys/kernel/cap_last_cap``)."""
    global _last_cap
    if _last_cap is None:
        try:
            with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
                _last_cap = int(f.read())
        except (OSError, ValueError):
            _last_cap = _probe_last_cap()
    return _last_cap


def _probe_last_cap() -> int:
    # Without /proc (or with a masked one): PR_CAPBSET_READ fails with EINVAL for numbers the
    # kernel does not know, and the numbers are dense.
    last = -1
    for cap in range(64):
        try:
            syscalls.prctl(syscalls.PR_CAPBSET_READ, cap)
        except OSError:
            break
        last = cap
    return last


class CapSets:
    """The five capability sets to give the container process, as capability numbers.

    ``warnings`` holds what :func:`parse` ignored (as runc does) and why; the caller logs them. It
    takes no part in comparisons. (A plain class: dataclasses would import inspect and re.)
    """

    __slots__ = ("ambient", "bounding", "effective", "inheritable", "permitted", "warnings")

    def __init__(
        self,
        bounding: Iterable[int] = (),
        effective: Iterable[int] = (),
        permitted: Iterable[int] = (),
        inheritable: Iterable[int] = (),
        ambient: Iterable[int] = (),
        warnings: tuple[str, ...] = (),
    ) -> None:
        self.bounding = frozenset(bounding)
        self.effective = frozenset(effective)
        self.permitted = frozenset(permitted)
        self.inheritable = frozenset(inheritable)
        self.ambient = frozenset(ambient)
        self.warnings = tuple(warnings)

    def _key(self) -> tuple[frozenset[int], ...]:
        return (self.bounding, self.effective, self.permitted, self.inheritable, self.ambient)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CapSets):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        parts = ", ".join(f"{name}={names(self.mask(name))}" for name in SET_NAMES)
        return f"CapSets({parts})"

    def mask(self, set_name: str) -> int:
        """One set as a bit mask, as /proc/PID/status and capset(2) show it."""
        return to_mask(getattr(self, set_name))


def to_mask(caps: Iterable[int]) -> int:
    mask = 0
    for cap in caps:
        mask |= 1 << cap
    return mask


def names(mask: int) -> list[str]:
    """Decode a mask (e.g. ``int(CapEff, 16)`` from /proc/PID/status) into sorted-by-number names.

    Numbers this module has no name for come out as ``CAP_<number>``.
    """
    out = []
    bit = 0
    while mask >> bit:
        if mask >> bit & 1:
            out.append(_NAMES.get(bit, f"CAP_{bit}"))
        bit += 1
    return out


def parse(
    caps: Mapping[str, Any] | None,
    field: str = "process.capabilities",
    warn: Callable[[str], None] | None = None,
) -> CapSets:
    """Turn ``process.capabilities`` into numbers; every error names the offending element.

    A missing object means no capabilities at all (runc converts it to five empty sets). Names the
    running kernel does not know (above ``cap_last_cap``) are ignored with a warning, as runc does;
    names no kernel knows are an error. Requests the kernel would refuse with a bare EPERM are
    errors here, with the rule that was broken: effective must be a subset of permitted, and
    inheritable a subset of bounding. Ambient capabilities outside permitted ∩ inheritable cannot
    be raised; they are dropped with a warning (runc drops them silently).
    """
    if caps is None:
        return CapSets()
    if not isinstance(caps, dict):
        raise ConfigError(field, f"must be an object with lists {', '.join(SET_NAMES)}, not {caps!r}")
    for key in caps:
        if key not in SET_NAMES:
            raise ConfigError(f"{field}.{key}", f"unknown capability set; use one of {', '.join(SET_NAMES)}")
    top = last_cap()
    warnings: list[str] = []
    unavailable: list[str] = []
    sets: dict[str, frozenset[int]] = {}
    for set_name in SET_NAMES:
        where = f"{field}.{set_name}"
        items = caps.get(set_name)
        if items is None:
            sets[set_name] = frozenset()
            continue
        if not isinstance(items, list):
            raise ConfigError(where, f"must be a list of capability names, not {items!r}")
        numbers = set()
        for i, name in enumerate(items):
            if not isinstance(name, str):
                raise ConfigError(f"{where}[{i}]", f"must be a capability name string, not {name!r}")
            number = CAPS.get(name)
            if number is None:
                raise ConfigError(f"{where}[{i}]", f"unknown capability {name!r}; {_suggest(name)}")
            if number > top:
                if name not in unavailable:
                    unavailable.append(name)
                continue
            numbers.add(number)
        sets[set_name] = frozenset(numbers)
    if unavailable:
        warnings.append(
            f"{field}: ignoring capabilities this kernel does not know (cap_last_cap is {top}): "
            + ", ".join(unavailable)
        )
    extra = sets["effective"] - sets["permitted"]
    if extra:
        raise ConfigError(
            f"{field}.effective",
            f"{', '.join(names(to_mask(extra)))} not in the permitted set; the kernel only lets a "
            "process make permitted capabilities effective: add them to permitted too",
        )
    extra = sets["inheritable"] - sets["bounding"]
    if extra:
        raise ConfigError(
            f"{field}.inheritable",
            f"{', '.join(names(to_mask(extra)))} not in the bounding set; the kernel refuses "
            "inheritable capabilities outside the bounding set: add them to bounding too",
        )
    lost = sets["ambient"] - (sets["permitted"] & sets["inheritable"])
    if lost:
        warnings.append(
            f"{field}.ambient: ignoring {', '.join(names(to_mask(lost)))}: the kernel raises an "
            "ambient capability only if it is in both permitted and inheritable"
        )
        sets["ambient"] = sets["ambient"] - lost
    if warn is not None:
        for message in warnings:
            warn(message)
    return CapSets(warnings=tuple(warnings), **sets)


def _suggest(name: str) -> str:
    upper = name.upper()
    if not upper.startswith("CAP_"):
        upper = "CAP_" + upper
    if upper in CAPS:
        return f"did you mean {upper!r}? (names are upper case with the CAP_ prefix)"
    return "see `dockyard-runtime features` (linux.capabilities) for the names"


def current_bounding() -> frozenset[int]:
    """The calling thread's bounding set (PR_CAPBSET_READ for each known number)."""
    return frozenset(
        cap for cap in range(last_cap() + 1) if syscalls.prctl(syscalls.PR_CAPBSET_READ, cap) == 1
    )


def check_against_bounding(
    sets: CapSets,
    field: str = "process.capabilities",
    warn: Callable[[str], None] | None = None,
    bounding: frozenset[int] | None = None,
) -> list[str]:
    """Refuse capabilities the runtime itself cannot hold; return (and ``warn``) what is ignored.

    No process gains a capability outside its bounding set, so asking for one in effective,
    permitted, inheritable or ambient can only end in capset(2)'s bare EPERM: that is an error here
    naming the capability (on this host root lacks CAP_SYS_RESOURCE). One only in the configured
    bounding set just leaves the bounding set smaller, which is harmless: runc accepts it silently,
    we accept it with a warning. ``bounding`` overrides the set read from this process (tests).
    """
    have = current_bounding() if bounding is None else bounding
    for set_name in ("effective", "permitted", "inheritable", "ambient"):
        missing = getattr(sets, set_name) - have
        if missing:
            raise ConfigError(
                f"{field}.{set_name}",
                f"{', '.join(names(to_mask(missing)))} not in the runtime's own bounding set, so no "
                "process it starts can hold them (the host withholds them from this runtime): "
                "remove them from the configuration",
            )
    messages = []
    missing = sets.bounding - have
    if missing:
        messages.append(
            f"{field}.bounding: ignoring {', '.join(names(to_mask(missing)))}: not in the runtime's "
            "own bounding set"
        )
    if warn is not None:
        for message in messages:
            warn(message)
    return messages


def drop_bounding(sets: CapSets) -> None:
    """Drop every capability not in ``sets.bounding`` from the calling thread's bounding set.

    Needs CAP_SETPCAP in the effective set, so it runs before setuid and capset. Capabilities
    already absent are not dropped again, so a process without CAP_SETPCAP whose bounding set is
    already small enough succeeds.
    """
    for cap in range(last_cap() + 1):
        if cap in sets.bounding:
            continue
        try:
            if syscalls.prctl(syscalls.PR_CAPBSET_READ, cap) == 1:
                syscalls.prctl(syscalls.PR_CAPBSET_DROP, cap)
        except OSError as e:
            raise SystemFailure(
                f"cannot drop {_NAMES.get(cap, cap)} from the bounding set: {e.strerror} "
                "(PR_CAPBSET_DROP needs CAP_SETPCAP; drop the bounding set before setuid/capset)",
                e.errno or 0,
            ) from e


def apply(sets: CapSets) -> None:
    """capset(2) the effective, permitted and inheritable sets, then set the ambient set exactly.

    Runs after setuid (with PR_SET_KEEPCAPS, so permitted survived the uid change): the kernel lets
    a process keep any subset of its permitted set and make any of those effective. Ambient
    capabilities must be in permitted and inheritable; :func:`parse` already dropped the others.
    """
    try:
        syscalls.capset(sets.mask("effective"), sets.mask("permitted"), sets.mask("inheritable"))
    except OSError as e:
        raise SystemFailure(
            f"cannot set capabilities (effective {_hex(sets.effective)}, permitted "
            f"{_hex(sets.permitted)}, inheritable {_hex(sets.inheritable)}): {e.strerror}; "
            f"the process holds {_hex_mask(syscalls.capget()[1])} permitted",
            e.errno or 0,
        ) from e
    try:
        syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError as e:
        if sets.ambient:
            raise SystemFailure(f"cannot clear the ambient set: {e.strerror}", e.errno or 0) from e
        return  # EINVAL: a kernel before 4.3 has no ambient set, and none was asked for.
    for cap in sorted(sets.ambient):
        if cap not in sets.permitted or cap not in sets.inheritable:
            continue  # the kernel would refuse it; parse() warned
        try:
            syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_RAISE, cap)
        except OSError as e:
            raise SystemFailure(
                f"cannot raise ambient capability {_NAMES.get(cap, cap)}: {e.strerror}", e.errno or 0
            ) from e


def _hex(caps: frozenset[int]) -> str:
    return _hex_mask(to_mask(caps))


def _hex_mask(mask: int) -> str:
    return f"{mask:016x}"


def read_status(pid: int | str = "self") -> dict[str, int]:
    """The Cap* lines of /proc/PID/status as masks: {"CapInh": ..., "CapPrm": ..., ...}."""
    out = {}
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
        for line in f:
            if line.startswith("Cap"):
                key, _, value = line.partition(":")
                out[key] = int(value.strip(), 16)
    return out
