"""seccomp.py: validation, action values, the ENOSYS stub and the programs libseccomp builds.

Nothing is loaded into a process here (see tests/integration/test_seccomp_caps_real.py); programs
are checked with seccomp.evaluate, a cBPF interpreter.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dockyard.errors import ConfigError, Unsupported
from dockyard.runtime import seccomp

X86_64 = 0xC000003E
I386 = 0x40000003
X32_BIT = 0x40000000

ALLOW = 0x7FFF0000
KILL_THREAD = 0
KILL_PROCESS = 0x80000000


def errno_ret(n: int) -> int:
    return 0x00050000 | n


needs_lib = pytest.mark.skipif(not seccomp.available(), reason="libseccomp2 is not installed")

MKDIR_ENOSYS: dict[str, Any] = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}],
}


# --- validate ------------------------------------------------------------------------------------


def test_validate_accepts_a_full_profile() -> None:
    seccomp.validate(
        {
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "flags": [
                "SECCOMP_FILTER_FLAG_LOG",
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                "SECCOMP_FILTER_FLAG_TSYNC",
            ],
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {
                    "names": ["personality"],
                    "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}],
                },
                {
                    "names": ["clone"],
                    "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
                },
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["ptrace"], "action": "SCMP_ACT_TRACE", "errnoRet": 1},
            ],
        }
    )


def test_validate_empty_profile_means_no_filter() -> None:
    seccomp.validate({})
    seccomp.validate({"syscalls": []})
    assert seccomp.export_bpf({}) == b""


def _profile(**changes: Any) -> dict[str, Any]:
    cfg = copy.deepcopy(MKDIR_ENOSYS)
    cfg["syscalls"].append({"names": ["getcwd"], "action": "SCMP_ACT_ALLOW"})
    cfg["syscalls"].append(
        {
            "names": ["personality"],
            "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}],
        }
    )
    cfg.update(changes)
    return cfg


def _with_rule(i: int, **changes: Any) -> dict[str, Any]:
    cfg = _profile()
    cfg["syscalls"][i].update(changes)
    return cfg


def _with_arg(**changes: Any) -> dict[str, Any]:
    cfg = _profile()
    cfg["syscalls"][2]["args"][0].update(changes)
    return cfg


@pytest.mark.parametrize(
    ("cfg", "field"),
    [
        ({"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}, "linux.seccomp.defaultAction"),
        (_profile(defaultAction="SCMP_ACT_DENY"), "linux.seccomp.defaultAction"),
        (_profile(defaultErrnoRet=1), "linux.seccomp.defaultErrnoRet"),  # ALLOW takes no errno
        (_profile(defaultAction="SCMP_ACT_ERRNO", defaultErrnoRet=-1), "linux.seccomp.defaultErrnoRet"),
        (_profile(architectures=["SCMP_ARCH_X86_64", "amd64"]), "linux.seccomp.architectures[1]"),
        (_profile(architectures="SCMP_ARCH_X86_64"), "linux.seccomp.architectures"),
        (_profile(flags=["SECCOMP_FILTER_FLAG_LOG", "LOG"]), "linux.seccomp.flags[1]"),
        (_profile(syscalls={"names": ["read"]}), "linux.seccomp.syscalls"),
        (_profile(listenerMetadata="x"), "linux.seccomp.listenerMetadata"),
        (_with_rule(0, names=[]), "linux.seccomp.syscalls[0].names"),
        (_with_rule(1, names=["getcwd", ""]), "linux.seccomp.syscalls[1].names[1]"),
        (_with_rule(2, action="SCMP_ACT_DENY"), "linux.seccomp.syscalls[2].action"),
        (_with_rule(1, errnoRet=1), "linux.seccomp.syscalls[1].errnoRet"),  # ALLOW takes no errno
        (_with_rule(0, errnoRet=70000), "linux.seccomp.syscalls[0].errnoRet"),
        (_with_rule(0, errnoRet=True), "linux.seccomp.syscalls[0].errnoRet"),
        (_with_rule(2, args={"index": 0}), "linux.seccomp.syscalls[2].args"),
        (_with_arg(index=6), "linux.seccomp.syscalls[2].args[0].index"),
        (_with_arg(value=-1), "linux.seccomp.syscalls[2].args[0].value"),
        (_with_arg(value=2**64), "linux.seccomp.syscalls[2].args[0].value"),
        (_with_arg(valueTwo="0"), "linux.seccomp.syscalls[2].args[0].valueTwo"),
        (_with_arg(op="SCMP_CMP_MASKED"), "linux.seccomp.syscalls[2].args[0].op"),
    ],
)
def test_validate_errors_name_the_field(cfg: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        seccomp.validate(cfg)
    assert info.value.field == field
    assert str(info.value).startswith(f"config.json: {field}: ")


def test_rule_without_action() -> None:
    cfg = _profile()
    del cfg["syscalls"][1]["action"]
    with pytest.raises(ConfigError, match=r"linux\.seccomp\.syscalls\[1\]\.action: required"):
        seccomp.validate(cfg)


@pytest.mark.parametrize(
    "cfg",
    [
        _with_rule(0, action="SCMP_ACT_NOTIFY"),
        _profile(defaultAction="SCMP_ACT_NOTIFY"),
        _profile(flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]),
    ],
)
def test_notify_is_unsupported(cfg: dict[str, Any]) -> None:
    with pytest.raises(Unsupported, match="NOTIFY"):
        seccomp.validate(cfg)


def test_listener_path_without_notify_is_ignored() -> None:
    # config-linux.md: "If the SCMP_ACT_NOTIFY action is not used this value is ignored."
    seccomp.validate(_profile(listenerPath="/run/agent.sock", listenerMetadata="x"))


def test_action_values() -> None:
    assert seccomp.action_value("SCMP_ACT_ERRNO") == errno_ret(1)  # EPERM by default
    assert seccomp.action_value("SCMP_ACT_ERRNO", 38) == errno_ret(38)
    assert seccomp.action_value("SCMP_ACT_ERRNO", 0) == errno_ret(0)
    assert seccomp.action_value("SCMP_ACT_TRACE") == 0x7FF00001
    assert seccomp.action_value("SCMP_ACT_KILL") == seccomp.action_value("SCMP_ACT_KILL_THREAD") == 0
    assert seccomp.action_value("SCMP_ACT_KILL_PROCESS") == KILL_PROCESS
    assert seccomp.action_value("SCMP_ACT_ALLOW") == ALLOW


# --- the ENOSYS stub (pure) -----------------------------------------------------------------------


def _ret(value: int) -> bytes:
    return seccomp._insn(0x06, 0, 0, value)


def test_enosys_stub_single_arch() -> None:
    program = seccomp._enosys_stub({X86_64: {X86_64: 300}}) + _ret(ALLOW)
    assert seccomp.evaluate(program, 0) == ALLOW
    assert seccomp.evaluate(program, 300) == ALLOW
    assert seccomp.evaluate(program, 301) == errno_ret(38)
    assert seccomp.evaluate(program, 301 | X32_BIT) == ALLOW  # x32: left to the filter
    assert seccomp.evaluate(program, 999, arch=I386) == ALLOW  # not listed: left to the filter


def test_enosys_stub_x86_64_x32_and_i386() -> None:
    last = {X86_64: {X86_64: 300, 0x4000003E: X32_BIT | 500}, I386: {I386: 400}}
    program = seccomp._enosys_stub(last) + _ret(ALLOW)
    assert seccomp.evaluate(program, 300) == ALLOW
    assert seccomp.evaluate(program, 301) == errno_ret(38)
    assert seccomp.evaluate(program, X32_BIT | 500) == ALLOW
    assert seccomp.evaluate(program, X32_BIT | 501) == errno_ret(38)
    assert seccomp.evaluate(program, 400, arch=I386) == ALLOW
    assert seccomp.evaluate(program, 401, arch=I386) == errno_ret(38)
    assert seccomp.evaluate(program, 401, arch=0xC00000B7) == ALLOW


def test_enosys_stub_x32_only() -> None:
    program = seccomp._enosys_stub({X86_64: {0x4000003E: X32_BIT | 500}}) + _ret(ALLOW)
    assert seccomp.evaluate(program, 9999) == ALLOW  # x86_64 calls go to the filter
    assert seccomp.evaluate(program, X32_BIT | 501) == errno_ret(38)


def test_enosys_stub_s390x_multiplexer() -> None:
    s390x = 0x80000016
    program = seccomp._enosys_stub({s390x: {s390x: 400}}) + _ret(ALLOW)
    assert seccomp.evaluate(program, 0, arch=s390x) == errno_ret(38)
    assert seccomp.evaluate(program, 1, arch=s390x) == ALLOW


def test_enosys_stub_empty() -> None:
    assert seccomp._enosys_stub({}) == b""


def test_evaluate_covers_alu_memory_and_return_a() -> None:
    i = seccomp._insn
    program = b"".join(
        [
            i(0x20, 0, 0, 16),  # A = args[0] low word
            i(0x54, 0, 0, 0xFF),  # A &= 0xff
            i(0x02, 0, 0, 3),  # M[3] = A
            i(0x00, 0, 0, 5),  # A = 5
            i(0x61, 0, 0, 3),  # X = M[3]
            i(0x0C, 0, 0, 0),  # A += X
            i(0x16, 0, 0, 0),  # ret A
        ]
    )
    assert seccomp.evaluate(program, 0, args=(0x1234,)) == 0x34 + 5


# --- programs from libseccomp ---------------------------------------------------------------------


@needs_lib
def test_library_facts() -> None:
    major, minor, _ = (int(p) for p in seccomp.library_version().split("."))
    assert (major, minor) >= (2, 5)
    assert seccomp.api_level() >= 3
    archs = seccomp.known_archs()
    assert {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"} <= set(archs)
    assert seccomp.syscall_number("mkdir") == 83
    assert seccomp.syscall_number("mkdir", "SCMP_ARCH_X86") == 39
    assert seccomp.syscall_number("no_such_syscall") is None
    assert seccomp.syscall_name(83) == "mkdir"
    assert seccomp.syscall_name(100000) is None


@needs_lib
def test_supported_flags_on_this_kernel() -> None:
    assert seccomp.supported_flags() == list(seccomp.FLAGS)  # kernel 4.17+ knows all three


@needs_lib
def test_program_denies_mkdir_with_errno_ret() -> None:
    program = seccomp.export_bpf(MKDIR_ENOSYS)
    # libseccomp's program starts by loading seccomp_data.arch; the ENOSYS stub relies on that.
    assert program[:8] == seccomp._insn(0x20, 0, 0, 4)
    assert seccomp.evaluate(program, 83) == errno_ret(38)
    assert seccomp.evaluate(program, 258) == errno_ret(38)  # mkdirat
    assert seccomp.evaluate(program, 39) == ALLOW  # getpid
    assert seccomp.evaluate(program, 39, arch=I386) == KILL_THREAD  # arch not in the filter


@needs_lib
def test_unknown_and_redundant_syscalls_are_skipped() -> None:
    cfg = copy.deepcopy(MKDIR_ENOSYS)
    cfg["syscalls"].append({"names": ["no_such_syscall", "getpid"], "action": "SCMP_ACT_ALLOW"})
    assert seccomp.export_bpf(cfg) == seccomp.export_bpf(MKDIR_ENOSYS)


def _personality(*args: dict[str, Any], action: str = "SCMP_ACT_ERRNO") -> dict[str, Any]:
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["personality"], "action": action, "args": list(args)}],
    }


@needs_lib
def test_same_argument_twice_means_or() -> None:
    # runc: two conditions on one argument cannot be ANDed by libseccomp; each becomes a rule.
    program = seccomp.export_bpf(
        _personality(
            {"index": 0, "value": 0xFFFFFFFF, "op": "SCMP_CMP_EQ"},
            {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
        )
    )
    assert seccomp.evaluate(program, 135, args=(0xFFFFFFFF,)) == errno_ret(1)
    assert seccomp.evaluate(program, 135, args=(8,)) == errno_ret(1)
    assert seccomp.evaluate(program, 135, args=(0,)) == ALLOW


@needs_lib
def test_different_arguments_mean_and() -> None:
    socket_raw = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {
                "names": ["socket"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": 97,
                "args": [
                    {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"},  # AF_INET
                    {"index": 1, "value": 3, "op": "SCMP_CMP_EQ"},  # SOCK_RAW
                ],
            }
        ],
    }
    program = seccomp.export_bpf(socket_raw)
    assert seccomp.evaluate(program, 41, args=(2, 3)) == errno_ret(97)
    assert seccomp.evaluate(program, 41, args=(2, 1)) == ALLOW
    assert seccomp.evaluate(program, 41, args=(10, 3)) == ALLOW


@needs_lib
def test_masked_eq_takes_mask_then_value() -> None:
    # Docker's clone rule: allow only when (flags & namespace bits) == 0.
    program = seccomp.export_bpf(
        {
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [
                {
                    "names": ["clone"],
                    "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
                }
            ],
        }
    )
    assert seccomp.evaluate(program, 56, args=(0x01200011,)) == ALLOW
    assert seccomp.evaluate(program, 56, args=(0x10000000,)) == errno_ret(1)  # CLONE_NEWUSER


@needs_lib
def test_default_errno_ret_and_enosys_stub() -> None:
    cfg = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 13,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["read", "write", "getpid", "openat"], "action": "SCMP_ACT_ALLOW"}],
    }
    program = seccomp.export_bpf(cfg)
    assert seccomp.evaluate(program, 39) == ALLOW
    assert seccomp.evaluate(program, 83) == errno_ret(13)  # mkdir: below openat (257), default
    assert seccomp.evaluate(program, 258) == errno_ret(38)  # above the highest listed: ENOSYS
    assert seccomp.evaluate(program, 20, arch=I386) == ALLOW  # getpid on i386
    assert seccomp.evaluate(program, 294, arch=I386) == errno_ret(13)  # i386 openat is 295
    assert seccomp.evaluate(program, 296, arch=I386) == errno_ret(38)
    assert seccomp.evaluate(program, 450, arch=I386) == errno_ret(38)


@needs_lib
def test_no_stub_when_default_lets_calls_through_or_no_architectures() -> None:
    allow = seccomp.export_bpf(MKDIR_ENOSYS | {"architectures": ["SCMP_ARCH_X86_64"]})
    assert seccomp.evaluate(allow, 1000) == ALLOW
    # runc patches only the architectures listed; without any, the default action applies.
    deny = seccomp.export_bpf(
        {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}
    )
    assert seccomp.evaluate(deny, 1000) == errno_ret(1)


@needs_lib
def test_unknown_arch_for_this_libseccomp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(seccomp.ARCHS, "SCMP_ARCH_LOONGARCH64", "loongarch64")
    if "SCMP_ARCH_LOONGARCH64" in seccomp.known_archs():
        pytest.skip("this libseccomp knows loongarch64")
    with pytest.raises(Unsupported, match=r"architectures\[0\].*LOONGARCH64"):
        seccomp.export_bpf(MKDIR_ENOSYS | {"architectures": ["SCMP_ARCH_LOONGARCH64"]})


def test_missing_library_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seccomp, "_lib", None)
    monkeypatch.setattr(seccomp, "_lib_error", "libseccomp.so.2: cannot open shared object file")
    assert not seccomp.available()
    with pytest.raises(Unsupported, match="install libseccomp2"):
        seccomp.load(MKDIR_ENOSYS)
    seccomp.load({})  # no filter asked for: no library needed
