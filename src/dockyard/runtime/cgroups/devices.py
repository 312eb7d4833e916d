"""Device access rules: the OCI list, the kernel's semantics of it, and runc's default rules.

The cgroup v1 ``devices`` controller (security/device_cgroup.c) keeps a default behaviour (allow
or deny everything) plus a list of exceptions; writing a rule to devices.allow or devices.deny:

- type ``a`` resets: the default becomes allow (devices.allow) or deny (devices.deny) and the
  exceptions are dropped, whatever major, minor and access follow;
- otherwise, when the rule's verdict differs from the default it is added as an exception (the
  access bits are OR-ed into an exception with the same type, major and minor); when it agrees
  with the default it *removes* those access bits from an exception with exactly the same type,
  major and minor (wildcards compare literally, so allowing ``c *:*`` does not undo a deny of
  ``c 1:3``).

A device access is an exception when one exception of the device's type, matching major and
minor (-1 matches any), covers every requested access bit. cgroup v2 has no such controller: the
same state is compiled into a BPF program (devices_bpf.py), so both versions enforce one meaning.

runc starts that emulation from "deny everything" (libcontainer/cgroups/devices/v1.go
buildEmulator) and appends its own allow-list to every container's rules
(libcontainer/specconv AllowedDevices); :func:`runc_device_rules` reproduces that list.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

WILDCARD = -1
_ACCESS_ORDER = "rwm"

#: runc 1.1's AllowedDevices, in its order: mknod of any device, the six standard nodes (path
#: given so a linux.devices entry for the same path replaces it), /dev/pts/*, /dev/ptmx, tun.
#: Read back from devices.list of a container runc 1.1.5 created on this host.
DEFAULT_ALLOWED_DEVICES: tuple[tuple[str, str, int, int, str], ...] = (
    ("", "c", WILDCARD, WILDCARD, "m"),
    ("", "b", WILDCARD, WILDCARD, "m"),
    ("/dev/null", "c", 1, 3, "rwm"),
    ("/dev/random", "c", 1, 8, "rwm"),
    ("/dev/full", "c", 1, 7, "rwm"),
    ("/dev/tty", "c", 5, 0, "rwm"),
    ("/dev/zero", "c", 1, 5, "rwm"),
    ("/dev/urandom", "c", 1, 9, "rwm"),
    ("", "c", 136, WILDCARD, "rwm"),
    ("", "c", 5, 2, "rwm"),
    ("", "c", 10, 200, "rwm"),
)


class Rule:
    """One normalized rule: verdict, type a/b/c, major and minor (-1: any), access in r,w,m order."""

    __slots__ = ("access", "allow", "major", "minor", "type")

    def __init__(self, allow: bool, type: str, major: int, minor: int, access: str) -> None:
        self.allow = allow
        self.type = type
        self.major = major
        self.minor = minor
        self.access = "".join(c for c in _ACCESS_ORDER if c in access)

    def __repr__(self) -> str:
        return f"Rule({'allow' if self.allow else 'deny'} {self.cgroup_string()})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rule):
            return NotImplemented
        return (self.allow, self.type, self.major, self.minor, self.access) == (
            other.allow,
            other.type,
            other.major,
            other.minor,
            other.access,
        )

    def cgroup_string(self) -> str:
        """The line the v1 kernel parses: ``c 1:3 rwm``, ``b *:* m``, or ``a`` for every device."""
        if self.type == "a":
            return "a"
        major = "*" if self.major == WILDCARD else str(self.major)
        minor = "*" if self.minor == WILDCARD else str(self.minor)
        return f"{self.type} {major}:{minor} {self.access}"


def from_oci(entry: dict[str, Any]) -> Rule:
    """An OCI ``linux.resources.devices`` entry (already validated) as a Rule.

    Absent type means ``a``; absent major/minor mean any; absent access means ``rwm``.
    """
    major = entry.get("major")
    minor = entry.get("minor")
    return Rule(
        bool(entry.get("allow")),
        entry.get("type") or "a",
        WILDCARD if major is None else int(major),
        WILDCARD if minor is None else int(minor),
        entry.get("access") or "rwm",
    )


class Entry:
    __slots__ = ("access", "major", "minor", "type")

    def __init__(self, type: str, major: int, minor: int, access: str) -> None:
        self.type = type
        self.major = major
        self.minor = minor
        self.access = access


class DeviceState:
    """The kernel's view after a sequence of rules: default verdict plus exceptions, in order."""

    def __init__(self, default_allow: bool = False) -> None:
        self.default_allow = default_allow
        self.exceptions: list[Entry] = []

    def apply(self, rule: Rule) -> None:
        if rule.type == "a":
            self.default_allow = rule.allow
            self.exceptions = []
            return
        if rule.allow == self.default_allow:
            self._remove(rule)
        else:
            self._add(rule)

    def _add(self, rule: Rule) -> None:
        for ex in self.exceptions:
            if (ex.type, ex.major, ex.minor) == (rule.type, rule.major, rule.minor):
                ex.access = "".join(c for c in _ACCESS_ORDER if c in ex.access + rule.access)
                return
        self.exceptions.append(Entry(rule.type, rule.major, rule.minor, rule.access))

    def _remove(self, rule: Rule) -> None:
        kept: list[Entry] = []
        for ex in self.exceptions:
            if (ex.type, ex.major, ex.minor) == (rule.type, rule.major, rule.minor):
                ex.access = "".join(c for c in ex.access if c not in rule.access)
                if not ex.access:
                    continue
            kept.append(ex)
        self.exceptions = kept

    def allowed(self, type: str, major: int, minor: int, access: str) -> bool:
        """Whether the kernel would let a task of this cgroup do ``access`` on the device."""
        for ex in self.exceptions:
            if (
                ex.type == type
                and ex.major in (WILDCARD, major)
                and ex.minor in (WILDCARD, minor)
                and all(c in ex.access for c in access)
            ):
                return not self.default_allow
        return self.default_allow

    def v1_writes(self) -> list[tuple[str, str]]:
        """(file, line) writes that put a fresh or reused v1 devices cgroup in this state.

        The reset comes first: it clears whatever exceptions an earlier set_resources left.
        """
        reset = "devices.allow" if self.default_allow else "devices.deny"
        exc_file = "devices.deny" if self.default_allow else "devices.allow"
        out = [(reset, "a")]
        for ex in self.exceptions:
            out.append(
                (
                    exc_file,
                    Rule(not self.default_allow, ex.type, ex.major, ex.minor, ex.access).cgroup_string(),
                )
            )
        return out


def emulate(rules: list[Rule], default_allow: bool = False) -> DeviceState:
    """The state after applying ``rules`` in order, starting like runc from deny-all."""
    state = DeviceState(default_allow)
    for rule in rules:
        state.apply(rule)
    return state


def runc_device_rules(
    resources_devices: list[dict[str, Any]] | None, linux_devices: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The rules runc 1.1 enforces for a config: ``linux.resources.devices`` then its defaults.

    A default that names a path also listed in ``linux.devices`` is left out (the config's own
    device takes its place, and needs its own allow rule, as with runc).
    """
    paths = {d.get("path") for d in linux_devices or [] if isinstance(d, dict)}
    out = [dict(d) for d in resources_devices or []]
    for path, kind, major, minor, access in DEFAULT_ALLOWED_DEVICES:
        if path and path in paths:
            continue
        entry: dict[str, Any] = {"allow": True, "type": kind, "access": access}
        if major != WILDCARD:
            entry["major"] = major
        if minor != WILDCARD:
            entry["minor"] = minor
        out.append(entry)
    return out
