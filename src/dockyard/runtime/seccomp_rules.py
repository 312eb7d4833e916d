"""The OCI ``linux.seccomp`` profile without libseccomp: its vocabulary, its validation, and the
installation of a compiled program with seccomp(2).

Split from seccomp.py (libseccomp, through ctypes, compiles profiles) so that a container whose
program comes from seccomp_cache.py starts without loading ctypes or libseccomp.
"""

from __future__ import annotations

import _ctypes
import sys

from dockyard.errors import ConfigError, SystemFailure, Unsupported
from dockyard.util import syscalls

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

FIELD = "linux.seccomp"

EPERM = 1
ENOSYS = 38

# Actions, with libseccomp's values (seccomp.h); the low 16 bits carry ERRNO's and TRACE's data.
ACTIONS: dict[str, int] = {
    "SCMP_ACT_KILL": 0x00000000,  # = SCMP_ACT_KILL_THREAD
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
    "SCMP_ACT_NOTIFY": 0x7FC00000,
}
_WITH_ERRNO = frozenset({"SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"})
# Default actions that let unknown syscalls run: no ENOSYS stub for them (runc's isAllowAction;
# TRACE counts because a tracer should handle new syscalls itself).
_LETS_THROUGH = frozenset({"SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"})

# enum scmp_compare
OPERATORS: dict[str, int] = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}

# OCI architecture names -> libseccomp's names (seccomp_arch_resolve_name).
ARCHS: dict[str, str] = {
    "SCMP_ARCH_X86": "x86",
    "SCMP_ARCH_X86_64": "x86_64",
    "SCMP_ARCH_X32": "x32",
    "SCMP_ARCH_ARM": "arm",
    "SCMP_ARCH_AARCH64": "aarch64",
    "SCMP_ARCH_MIPS": "mips",
    "SCMP_ARCH_MIPS64": "mips64",
    "SCMP_ARCH_MIPS64N32": "mips64n32",
    "SCMP_ARCH_MIPSEL": "mipsel",
    "SCMP_ARCH_MIPSEL64": "mipsel64",
    "SCMP_ARCH_MIPSEL64N32": "mipsel64n32",
    "SCMP_ARCH_PPC": "ppc",
    "SCMP_ARCH_PPC64": "ppc64",
    "SCMP_ARCH_PPC64LE": "ppc64le",
    "SCMP_ARCH_S390": "s390",
    "SCMP_ARCH_S390X": "s390x",
    "SCMP_ARCH_PARISC": "parisc",
    "SCMP_ARCH_PARISC64": "parisc64",
    "SCMP_ARCH_RISCV64": "riscv64",
    "SCMP_ARCH_LOONGARCH64": "loongarch64",
}

# seccomp(2) filter flags. TSYNC, LOG and SPEC_ALLOW are what runc 1.1 knows (its order, as
# `runc features` prints it); WAIT_KILLABLE_RECV only matters for SCMP_ACT_NOTIFY.
FLAGS: dict[str, int] = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1 << 0,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 1 << 2,
    "SECCOMP_FILTER_FLAG_LOG": 1 << 1,
}
_NOTIFY_FLAGS = frozenset({"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"})

_MAX_ARGS = 6  # syscalls take at most six arguments
_MAX_ERRNO = 4095  # the kernel clamps SECCOMP_RET_ERRNO data to MAX_ERRNO


_SECCOMP_SET_MODE_FILTER = 1


def _bad(field: str, problem: str) -> ConfigError:
    return ConfigError(field, problem)


def _is_uint(value: Any, limit: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= limit


def enabled(cfg: Mapping[str, Any]) -> bool:
    # runc's specconv: no default action and no syscalls means "seccomp disabled".
    return bool(cfg.get("defaultAction") or cfg.get("syscalls"))


def _check_action(field: str, action: Any, errno_field: str, errno_ret: Any) -> None:
    if not isinstance(action, str) or action not in ACTIONS:
        raise _bad(field, f"unknown action {action!r}; use one of {', '.join(sorted(ACTIONS))}")
    if action == "SCMP_ACT_NOTIFY":
        raise Unsupported(
            f"config.json: {field}: SCMP_ACT_NOTIFY (seccomp user notification with a listenerPath "
            "agent) is not supported by dockyard-runtime; use SCMP_ACT_ERRNO or run with runc"
        )
    if errno_ret is None:
        return
    if action not in _WITH_ERRNO:
        raise _bad(errno_field, f"{action} takes no errno; only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do")
    if not _is_uint(errno_ret, _MAX_ERRNO):
        raise _bad(errno_field, f"{errno_ret!r} is not an errno number (0-{_MAX_ERRNO})")


def validate(cfg: Mapping[str, Any], field: str = FIELD) -> None:
    """Check ``linux.seccomp`` without loading anything; errors name the field and the fix."""
    if not isinstance(cfg, dict):
        raise _bad(field, f"must be an object, not {cfg!r}")
    syscalls_list = cfg.get("syscalls")
    if syscalls_list is not None and not isinstance(syscalls_list, list):
        raise _bad(f"{field}.syscalls", "must be a list of objects")
    if not enabled(cfg):
        return
    if "defaultAction" not in cfg:
        raise _bad(f"{field}.defaultAction", "required when syscalls are listed, e.g. SCMP_ACT_ERRNO")
    _check_action(
        f"{field}.defaultAction", cfg["defaultAction"], f"{field}.defaultErrnoRet", cfg.get("defaultErrnoRet")
    )
    archs = cfg.get("architectures")
    if archs is not None:
        if not isinstance(archs, list):
            raise _bad(f"{field}.architectures", "must be a list of SCMP_ARCH_* names")
        for i, arch in enumerate(archs):
            if not isinstance(arch, str) or arch not in ARCHS:
                raise _bad(
                    f"{field}.architectures[{i}]",
                    f"unknown architecture {arch!r}; use one of {', '.join(sorted(ARCHS))}",
                )
    flags = cfg.get("flags")
    if flags is not None:
        if not isinstance(flags, list):
            raise _bad(f"{field}.flags", "must be a list of SECCOMP_FILTER_FLAG_* names")
        for i, flag in enumerate(flags):
            if flag in _NOTIFY_FLAGS:
                raise Unsupported(
                    f"config.json: {field}.flags[{i}]: {flag} only applies to SCMP_ACT_NOTIFY, "
                    "which dockyard-runtime does not support"
                )
            if not isinstance(flag, str) or flag not in FLAGS:
                raise _bad(f"{field}.flags[{i}]", f"unknown flag {flag!r}; use one of {', '.join(FLAGS)}")
    if cfg.get("listenerMetadata") and not cfg.get("listenerPath"):
        raise _bad(f"{field}.listenerMetadata", "must not be set without listenerPath")
    for key in ("listenerPath", "listenerMetadata"):
        if cfg.get(key) is not None and not isinstance(cfg[key], str):
            raise _bad(f"{field}.{key}", "must be a string")
    for i, rule in enumerate(syscalls_list or []):
        where = f"{field}.syscalls[{i}]"
        if not isinstance(rule, dict):
            raise _bad(where, f"must be an object with names and action, not {rule!r}")
        names = rule.get("names")
        if not isinstance(names, list) or not names:
            raise _bad(f"{where}.names", "must be a non-empty list of syscall names")
        for j, name in enumerate(names):
            if not isinstance(name, str) or not name:
                raise _bad(f"{where}.names[{j}]", f"must be a syscall name, not {name!r}")
        if "action" not in rule:
            raise _bad(f"{where}.action", "required, e.g. SCMP_ACT_ALLOW")
        _check_action(f"{where}.action", rule["action"], f"{where}.errnoRet", rule.get("errnoRet"))
        args = rule.get("args")
        if args is None:
            continue
        if not isinstance(args, list):
            raise _bad(f"{where}.args", "must be a list of objects")
        for j, arg in enumerate(args):
            at = f"{where}.args[{j}]"
            if not isinstance(arg, dict):
                raise _bad(at, f"must be an object with index, value and op, not {arg!r}")
            if not _is_uint(arg.get("index"), _MAX_ARGS - 1):
                raise _bad(f"{at}.index", f"{arg.get('index')!r} is not an argument index (0-5)")
            if not _is_uint(arg.get("value"), 2**64 - 1):
                raise _bad(f"{at}.value", f"{arg.get('value')!r} is not an unsigned 64-bit number")
            if arg.get("valueTwo") is not None and not _is_uint(arg["valueTwo"], 2**64 - 1):
                raise _bad(f"{at}.valueTwo", f"{arg['valueTwo']!r} is not an unsigned 64-bit number")
            op = arg.get("op")
            if not isinstance(op, str) or op not in OPERATORS:
                raise _bad(f"{at}.op", f"unknown operator {op!r}; use one of {', '.join(sorted(OPERATORS))}")


def action_value(action: str, errno_ret: int | None = None) -> int:
    """The 32-bit libseccomp action for an OCI action name (errno defaults to EPERM)."""
    value = ACTIONS[action]
    if action in _WITH_ERRNO:
        value |= (EPERM if errno_ret is None else errno_ret) & 0xFFFF
    return value


def filter_flags(cfg: Mapping[str, Any]) -> int:
    flags = 0
    for name in cfg.get("flags") or []:
        flags |= FLAGS[name]
    return flags


class _Char(_ctypes._SimpleCData):  # type: ignore[type-arg]  # ctypes.c_char
    _type_ = "c"


def install(program: bytes, flags: int) -> None:
    """Install a compiled program (seccomp.export_bpf, seccomp_cache.program): seccomp(2) with a
    struct sock_fprog {unsigned short len; struct sock_filter *filter;} built by hand."""
    count = len(program) // 8
    buf = (_Char * len(program)).from_buffer_copy(program)
    fprog = count.to_bytes(8, sys.byteorder) + _ctypes.addressof(buf).to_bytes(8, sys.byteorder)
    try:
        rc = syscalls.syscall("seccomp", _SECCOMP_SET_MODE_FILTER, flags, fprog)
    except OSError as e:
        hint = ""
        if e.errno == 13:  # EACCES
            hint = (
                " (without no_new_privs, installing a filter needs CAP_SYS_ADMIN: load it before "
                "dropping capabilities, or set process.noNewPrivileges)"
            )
        raise SystemFailure(f"cannot load the seccomp filter: {e.strerror}{hint}", e.errno or 0) from e
    finally:
        del buf
    if rc > 0 and flags & FLAGS["SECCOMP_FILTER_FLAG_TSYNC"]:
        raise SystemFailure(f"cannot load the seccomp filter: thread {rc} could not be synchronised (TSYNC)")
