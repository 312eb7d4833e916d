"""Device rules: the kernel's v1 semantics, runc's defaults, and the generated v2 BPF program."""

from __future__ import annotations

import itertools
import struct

import pytest

from dockyard.runtime.cgroups import devices_bpf, runc_device_rules
from dockyard.runtime.cgroups.devices import DEFAULT_ALLOWED_DEVICES, WILDCARD, Rule, emulate, from_oci
from dockyard.runtime.cgroups.v1 import device_state

DENY_ALL = Rule(False, "a", WILDCARD, WILDCARD, "rwm")
ALLOW_ALL = Rule(True, "a", WILDCARD, WILDCARD, "rwm")


def test_from_oci_defaults() -> None:
    assert from_oci({"allow": False}) == Rule(False, "a", -1, -1, "rwm")
    assert from_oci({"allow": True, "type": "c", "major": 1, "minor": 3, "access": "wr"}) == Rule(
        True, "c", 1, 3, "rw"
    )
    assert Rule(True, "c", 136, WILDCARD, "mwr").cgroup_string() == "c 136:* rwm"
    assert Rule(False, "a", 1, 2, "r").cgroup_string() == "a"


def test_whitelist() -> None:
    st = emulate([DENY_ALL, Rule(True, "c", 1, 3, "rw"), Rule(True, "c", 136, WILDCARD, "rwm")])
    assert not st.default_allow
    assert st.allowed("c", 1, 3, "rw")
    assert not st.allowed("c", 1, 3, "m")  # mknod not granted
    assert not st.allowed("c", 1, 3, "rwm")  # one exception must cover every bit asked
    assert st.allowed("c", 136, 7, "w")
    assert not st.allowed("b", 1, 3, "r")
    assert not st.allowed("c", 1, 5, "r")


def test_blacklist_and_literal_removal() -> None:
    st = emulate([ALLOW_ALL, Rule(False, "c", 1, 3, "rwm")])
    assert st.default_allow
    assert not st.allowed("c", 1, 3, "r")
    assert st.allowed("c", 1, 5, "rwm")
    # Allowing c *:* removes only an exception spelled c *:*: the c 1:3 deny stays (kernel).
    st.apply(Rule(True, "c", WILDCARD, WILDCARD, "rwm"))
    assert not st.allowed("c", 1, 3, "r")
    # Allowing exactly c 1:3 r removes that bit only.
    st.apply(Rule(True, "c", 1, 3, "r"))
    assert st.allowed("c", 1, 3, "r")
    assert not st.allowed("c", 1, 3, "w")


def test_access_bits_merge_and_reset() -> None:
    st = emulate([DENY_ALL, Rule(True, "c", 1, 3, "r"), Rule(True, "c", 1, 3, "w")])
    assert len(st.exceptions) == 1 and st.exceptions[0].access == "rw"
    st.apply(Rule(False, "c", 1, 3, "rw"))
    assert st.exceptions == []
    st.apply(Rule(True, "c", 1, 3, "m"))
    st.apply(ALLOW_ALL)
    assert st.default_allow and st.exceptions == []


def test_rules_without_a_reset_start_from_deny_all_like_runc() -> None:
    st = emulate([Rule(True, "c", 1, 3, "rwm")])
    assert not st.default_allow
    assert not st.allowed("c", 1, 5, "r")


def test_v1_writes() -> None:
    st = emulate([DENY_ALL, Rule(True, "c", 1, 3, "rwm"), Rule(True, "b", WILDCARD, WILDCARD, "m")])
    assert st.v1_writes() == [
        ("devices.deny", "a"),
        ("devices.allow", "c 1:3 rwm"),
        ("devices.allow", "b *:* m"),
    ]
    st = emulate([ALLOW_ALL, Rule(False, "c", 10, 200, "rw")])
    assert st.v1_writes() == [("devices.allow", "a"), ("devices.deny", "c 10:200 rw")]


def test_runc_default_rules() -> None:
    rules = runc_device_rules([{"allow": False, "access": "rwm"}])
    assert rules[0] == {"allow": False, "access": "rwm"}
    assert len(rules) == 1 + len(DEFAULT_ALLOWED_DEVICES)
    assert {"allow": True, "type": "c", "major": 136, "access": "rwm"} in rules
    st = device_state([{"allow": False, "access": "rwm"}])
    for major, minor in ((1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 2), (10, 200), (136, 4)):
        assert st.allowed("c", major, minor, "rwm"), (major, minor)
    assert st.allowed("b", 8, 0, "m") and not st.allowed("b", 8, 0, "r")
    assert not st.allowed("c", 1, 11, "r")  # /dev/kmsg
    # A config device at a default's path replaces that default (runc createDevices dedup).
    rules = runc_device_rules([], [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3}])
    assert not any(r.get("major") == 1 and r.get("minor") == 3 for r in rules)


def test_bpf_instruction_encoding() -> None:
    program = devices_bpf.build_program(emulate([DENY_ALL]))
    assert len(program) % 8 == 0
    code, regs, off, imm = struct.unpack_from("<BBhi", program, 0)
    assert (code, regs & 0xF, regs >> 4, off, imm) == (0x61, 2, 1, 0, 0)  # r2 = *(u32 *)(r1 + 0)
    # Deny-all with no exception: the program is the preamble then "r0 = 0; exit".
    assert program[-16:] == struct.pack("<BBhi", 0xB4, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)


CASES = [
    [DENY_ALL],
    [ALLOW_ALL],
    [
        DENY_ALL,
        Rule(True, "c", 1, 3, "rwm"),
        Rule(True, "c", 136, WILDCARD, "rw"),
        Rule(True, "b", WILDCARD, 0, "m"),
    ],
    [ALLOW_ALL, Rule(False, "c", 1, 3, "rwm"), Rule(False, "b", 8, WILDCARD, "w")],
    [from_oci(r) for r in runc_device_rules([{"allow": False, "access": "rwm"}])],
]


@pytest.mark.parametrize("rules", CASES)
def test_bpf_program_agrees_with_the_emulation(rules: list[Rule]) -> None:
    state = emulate(rules)
    program = devices_bpf.build_program(state)
    for kind, major, minor, n in itertools.product("cb", (1, 5, 8, 136, 0), (0, 3, 4, 200), range(1, 4)):
        for access in itertools.combinations("rwm", n):
            acc = "".join(access)
            want = state.allowed(kind, major, minor, acc)
            got = devices_bpf.run_program(program, kind, major, minor, acc)
            assert got == int(want), (kind, major, minor, acc)
