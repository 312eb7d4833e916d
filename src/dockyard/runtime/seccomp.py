"""The OCI ``linux.seccomp`` filter (config-linux.md "Seccomp"), built by libseccomp through ctypes.

    validate(cfg)        pure checks; every error names its field ("linux.seccomp.syscalls[2].action")
    load(cfg)            build the filter and install it on the calling thread (TSYNC: all threads)
    export_bpf(cfg)      the classic-BPF program load() installs, as bytes (debugging, tests)
    available()          libseccomp.so.2 can be loaded
    library_version()    "2.5.4"
    supported_flags()    the SECCOMP_FILTER_FLAG_* names the running kernel accepts

Semantics follow runc 1.1 (libcontainer/seccomp and its patchbpf package):

* a profile with neither ``defaultAction`` nor ``syscalls`` means no filter;
* every name of a ``syscalls[]`` entry becomes one rule; names libseccomp cannot resolve (newer
  than its tables, or of another architecture only) are skipped, not errors;
* a rule whose action equals the default action is skipped (libseccomp refuses it);
* ``errnoRet``/``defaultErrnoRet`` default to EPERM for SCMP_ACT_ERRNO and SCMP_ACT_TRACE; the spec
  makes them an error with any other action;
* conditions go into one rule (libseccomp ANDs them) unless two of them test the same argument:
  libseccomp cannot AND two comparisons of one argument, so runc then adds each condition as a rule
  of its own (an OR), and so do we;
* SCMP_CMP_MASKED_EQ takes ``value`` as the mask and ``valueTwo`` as the value to compare;
* unless the default action lets calls through (ALLOW, LOG, TRACE), syscall numbers above the
  highest one the profile names, per listed architecture, fail with ENOSYS instead of the default
  action: new syscalls (clone3, faccessat2, ...) then look unimplemented, so libc falls back to the
  older ones instead of failing with EPERM. A short cBPF stub in front of libseccomp's program
  does this (runc's "enosys stub"); like runc, only the listed ``architectures`` get it;
* the filter is installed with seccomp(2) ourselves, with the flags from ``flags``, and without
  setting no_new_privs: the runtime sets that itself from ``process.noNewPrivileges``. Without it,
  loading needs CAP_SYS_ADMIN, so the caller loads the filter before dropping capabilities.

The profile's vocabulary, its validation and install() live in seccomp_rules.py (no ctypes) and
are re-exported here; seccomp_cache.py keeps compiled programs between containers.

SCMP_ACT_NOTIFY (and ``listenerPath``, the seccomp agent protocol) is not implemented: such a
profile is refused with :class:`~dockyard.errors.Unsupported` rather than run without its agent.
"""

from __future__ import annotations

import ctypes
import os
import sys

from dockyard.errors import ConfigError, SystemFailure, Unsupported
from dockyard.runtime import seccomp_rules as _rules
from dockyard.util import syscalls

# typing and collections.abc cost milliseconds on the start path; annotations only.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Literal

# The profile's vocabulary and validation are seccomp_rules.py's (no ctypes there); re-exported.
ACTIONS = _rules.ACTIONS
ARCHS = _rules.ARCHS
ENOSYS = _rules.ENOSYS
EPERM = _rules.EPERM
FIELD = _rules.FIELD
FLAGS = _rules.FLAGS
OPERATORS = _rules.OPERATORS
action_value = _rules.action_value
enabled = _rules.enabled
filter_flags = _rules.filter_flags
install = _rules.install
validate = _rules.validate
_LETS_THROUGH = _rules._LETS_THROUGH

# enum scmp_filter_attr
_ATTR_CTL_NNP = 3
_ATTR_CTL_TSYNC = 4
_ATTR_CTL_LOG = 6
_ATTR_CTL_SSB = 7
_ATTR_CTL_OPTIMIZE = 8
_ATTR_API_SYSRAWRC = 9

_NR_SCMP_ERROR = -1  # seccomp_syscall_resolve_name: unknown name
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_SYSCALL_BIT = 0x40000000
_ARCH_X32 = 0x4000003E  # libseccomp's token for x32; the kernel reports x32 as AUDIT_ARCH_X86_64
_S390_ARCHS = frozenset({0x00000016, 0x80000016})  # s390, s390x

_SECCOMP_SET_MODE_FILTER = 1
_BPF_MAXINSNS = 4096


# --- libseccomp, loaded on first use -------------------------------------------------------------


class _ArgCmp(ctypes.Structure):
    # struct scmp_arg_cmp
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


_lib: ctypes.CDLL | None = None
_lib_error: str | None = None


def _load_library() -> ctypes.CDLL | None:
    global _lib, _lib_error
    if _lib is not None or _lib_error is not None:
        return _lib
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError as e:
        _lib_error = str(e)
        return None
    u32, ctx = ctypes.c_uint32, ctypes.c_void_p
    protos: dict[str, tuple[Any, list[Any]]] = {
        "seccomp_init": (ctx, [u32]),
        "seccomp_release": (None, [ctx]),
        "seccomp_arch_add": (ctypes.c_int, [ctx, u32]),
        "seccomp_arch_remove": (ctypes.c_int, [ctx, u32]),
        "seccomp_arch_resolve_name": (u32, [ctypes.c_char_p]),
        "seccomp_arch_native": (u32, []),
        "seccomp_syscall_resolve_name": (ctypes.c_int, [ctypes.c_char_p]),
        "seccomp_syscall_resolve_name_arch": (ctypes.c_int, [u32, ctypes.c_char_p]),
        "seccomp_syscall_resolve_num_arch": (ctypes.c_void_p, [u32, ctypes.c_int]),
        "seccomp_rule_add_array": (ctypes.c_int, [ctx, u32, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]),
        "seccomp_attr_set": (ctypes.c_int, [ctx, ctypes.c_int, u32]),
        "seccomp_load": (ctypes.c_int, [ctx]),
        "seccomp_export_bpf": (ctypes.c_int, [ctx, ctypes.c_int]),
        "seccomp_version": (ctypes.POINTER(_Version), []),
        "seccomp_api_get": (ctypes.c_uint, []),
    }
    try:
        for name, (restype, argtypes) in protos.items():
            fn = getattr(lib, name)
            fn.restype = restype
            fn.argtypes = argtypes
    except AttributeError as e:
        _lib_error = f"libseccomp.so.2 is too old (2.5 or later needed): {e}"
        return None
    _lib = lib
    return lib


def available() -> bool:
    """libseccomp (Debian: libseccomp2) can be loaded."""
    return _load_library() is not None


def _library() -> ctypes.CDLL:
    lib = _load_library()
    if lib is None:
        raise Unsupported(
            f"a seccomp filter was requested but libseccomp cannot be loaded ({_lib_error}); "
            "install libseccomp2 (apt-get install libseccomp2) or remove linux.seccomp"
        )
    return lib


def library_version() -> str:
    """libseccomp's version, e.g. "2.5.4" (raises Unsupported without libseccomp)."""
    v = _library().seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


def api_level() -> int:
    return int(_library().seccomp_api_get())


def arch_token(oci_arch: str) -> int:
    """libseccomp's token (the kernel's AUDIT_ARCH_* value, except x32) for an OCI arch; 0 if unknown."""
    return int(_library().seccomp_arch_resolve_name(ARCHS[oci_arch].encode()))


def known_archs() -> list[str]:
    """The OCI architecture names this libseccomp can build filters for, sorted."""
    return sorted(name for name in ARCHS if arch_token(name))


def syscall_number(name: str, oci_arch: str | None = None) -> int | None:
    """A syscall's number (native architecture by default); None when libseccomp does not know it.

    Numbers below -1 are libseccomp's pseudo-syscalls (a name another architecture has, such as
    socketcall on x86_64); libseccomp translates them per architecture in rules.
    """
    lib = _library()
    if oci_arch is None:
        nr = lib.seccomp_syscall_resolve_name(name.encode())
    else:
        nr = lib.seccomp_syscall_resolve_name_arch(arch_token(oci_arch), name.encode())
    return None if nr == _NR_SCMP_ERROR else int(nr)


def syscall_name(number: int, oci_arch: str = "SCMP_ARCH_X86_64") -> str | None:
    """The name libseccomp gives a syscall number on an architecture (tests, debugging)."""
    lib = _library()
    ptr = lib.seccomp_syscall_resolve_num_arch(arch_token(oci_arch), number)
    if not ptr:
        return None
    try:
        return ctypes.string_at(ptr).decode()
    finally:
        _free(ptr)


def _free(ptr: int) -> None:
    libc = ctypes.CDLL(None)
    libc.free.argtypes = [ctypes.c_void_p]
    libc.free(ptr)


def _fail(what: str, rc: int) -> SystemFailure:
    err = -rc
    return SystemFailure(f"libseccomp: {what}: {os.strerror(err)}", err)


# --- building ------------------------------------------------------------------------------------


def _build(cfg: Mapping[str, Any], field: str) -> bytes:
    """Build the filter with libseccomp and return its cBPF program (before the ENOSYS stub)."""
    lib = _library()
    default = action_value(cfg["defaultAction"], cfg.get("defaultErrnoRet"))
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise SystemFailure(f"libseccomp: seccomp_init({cfg['defaultAction']}) failed")
    try:
        # Raw errnos from the kernel and libseccomp instead of a generic -ECANCELED (libseccomp 2.5+).
        lib.seccomp_attr_set(ctx, _ATTR_API_SYSRAWRC, 1)
        # The runtime sets no_new_privs itself (process.noNewPrivileges); libseccomp must not.
        rc = lib.seccomp_attr_set(ctx, _ATTR_CTL_NNP, 0)
        if rc < 0:
            raise _fail("cannot clear the no_new_privs attribute", rc)
        for i, arch in enumerate(cfg.get("architectures") or []):
            token = arch_token(arch)
            if not token:
                raise Unsupported(
                    f"config.json: {field}.architectures[{i}]: libseccomp {library_version()} does not "
                    f"know {arch}; remove it or install a newer libseccomp"
                )
            rc = lib.seccomp_arch_add(ctx, token)
            if rc < 0 and -rc != 17:  # EEXIST: the native architecture is always in the filter
                raise _fail(f"cannot add architecture {arch}", rc)
        rules = [
            (i, name, rule) for i, rule in enumerate(cfg.get("syscalls") or []) for name in rule["names"]
        ]
        if len(rules) > 32:
            # runc's threshold: a binary tree of syscalls for long profiles (libseccomp <= 2.5.4
            # misbehaves with the tree and no rules). Not fatal where unsupported.
            lib.seccomp_attr_set(ctx, _ATTR_CTL_OPTIMIZE, 2)
        for i, name, rule in rules:
            _add_rule(lib, ctx, default, name, rule, f"{field}.syscalls[{i}]")
        fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        try:
            rc = lib.seccomp_export_bpf(ctx, fd)
            if rc < 0:
                raise _fail("cannot export the filter", rc)
            size = os.lseek(fd, 0, os.SEEK_END)
            return os.pread(fd, size, 0)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)


def _add_rule(
    lib: ctypes.CDLL, ctx: int, default: int, name: str, rule: Mapping[str, Any], where: str
) -> None:
    action = action_value(rule["action"], rule.get("errnoRet"))
    if action == default:
        return  # redundant, and libseccomp refuses a rule that repeats the default action
    nr = lib.seccomp_syscall_resolve_name(name.encode())
    if nr == _NR_SCMP_ERROR:
        return  # unknown to this libseccomp (newer syscall, typo): runc ignores it too
    conds = [
        (arg["index"], OPERATORS[arg["op"]], arg["value"], arg.get("valueTwo") or 0)
        for arg in rule.get("args") or []
    ]
    if not conds:
        groups: list[list[tuple[int, int, int, int]]] = [[]]
    elif len({c[0] for c in conds}) < len(conds):
        # Two comparisons of one argument: libseccomp cannot AND them in one rule (EINVAL). runc
        # falls back to one rule per condition, i.e. the conditions are ORed.
        groups = [[c] for c in conds]
    else:
        groups = [conds]
    for group in groups:
        array = (_ArgCmp * max(len(group), 1))(*[_ArgCmp(*c) for c in group])
        rc = lib.seccomp_rule_add_array(ctx, action, nr, len(group), array)
        if rc < 0:
            raise ConfigError(where, f"libseccomp refused the rule for {name!r}: {os.strerror(-rc)}")


# --- the ENOSYS stub -----------------------------------------------------------------------------

# cBPF opcodes used by the stub (linux/filter.h)
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JMP_JA = 0x05
_JMP_JEQ_K = 0x15
_JMP_JGT_K = 0x25
_JMP_JSET_K = 0x45
_RET_K = 0x06
_OFF_NR = 0  # struct seccomp_data: int nr; __u32 arch; ...
_OFF_ARCH = 4
_FILTER = "filter"  # label: the first instruction of libseccomp's program
_ENOSYS = "enosys"  # label: return -ENOSYS


def _last_syscalls(cfg: Mapping[str, Any]) -> dict[int, dict[int, int]]:
    """Per kernel audit arch, per libseccomp arch token: the highest syscall number the profile names."""
    lib = _library()
    names = {name for rule in cfg.get("syscalls") or [] for name in rule["names"]}
    out: dict[int, dict[int, int]] = {}
    for arch in cfg.get("architectures") or []:
        token = arch_token(arch)
        audit = _AUDIT_ARCH_X86_64 if token == _ARCH_X32 else token
        highest = max((lib.seccomp_syscall_resolve_name_arch(token, n.encode()) for n in names), default=-1)
        if highest > 0:  # negative: pseudo-syscalls and unknown names only; runc skips 0 too
            out.setdefault(audit, {})[token] = highest
    return out


def _enosys_stub(last: dict[int, dict[int, int]]) -> bytes:
    """cBPF that returns ENOSYS for syscall numbers above ``last`` and jumps to the filter otherwise.

    Layout (all jumps forward, all short: the stub is a few dozen instructions)::

        ld [arch]; jeq ARCH1 -> sec1; jeq ARCH2 -> sec2; ...; ja filter
        sec1: ld [nr]; (x86_64: jset X32_BIT -> the x32 test or filter); jgt MAX -> enosys; ja filter
        ...
        enosys: ret ERRNO(ENOSYS)
        filter: <libseccomp's program, which loads [arch] again itself>
    """
    if not last:
        return b""
    # (code, jt, jf, k, label-of-this-insn); jt/jf/k may be labels, resolved below.
    prog: list[tuple[int, int | str, int | str, int | str]] = []
    labels: dict[str, int] = {}
    prog.append((_LD_W_ABS, 0, 0, _OFF_ARCH))
    for audit in last:
        prog.append((_JMP_JEQ_K, f"arch{audit}", 0, audit))
    prog.append((_JMP_JA, 0, 0, _FILTER))
    for audit, per_token in last.items():
        labels[f"arch{audit}"] = len(prog)
        prog.append((_LD_W_ABS, 0, 0, _OFF_NR))
        if audit in _S390_ARCHS:
            # s390 multiplexes large syscall numbers through syscall 0; unknown ones stay 0.
            prog.append((_JMP_JEQ_K, _ENOSYS, 0, 0))
        if audit == _AUDIT_ARCH_X86_64:
            native, x32 = per_token.get(_AUDIT_ARCH_X86_64), per_token.get(_ARCH_X32)
            if native is not None and x32 is not None:
                prog.append((_JMP_JSET_K, f"x32_{audit}", 0, _X32_SYSCALL_BIT))
                prog.append((_JMP_JGT_K, _ENOSYS, _FILTER, native))
                labels[f"x32_{audit}"] = len(prog)
                prog.append((_JMP_JGT_K, _ENOSYS, _FILTER, x32))
            elif native is not None:
                # x32 calls (bit 30 set) go straight to the filter, which rejects the arch.
                prog.append((_JMP_JSET_K, _FILTER, 0, _X32_SYSCALL_BIT))
                prog.append((_JMP_JGT_K, _ENOSYS, _FILTER, native))
            else:
                assert x32 is not None
                prog.append((_JMP_JSET_K, 0, _FILTER, _X32_SYSCALL_BIT))
                prog.append((_JMP_JGT_K, _ENOSYS, _FILTER, x32))
        else:
            (highest,) = per_token.values()
            prog.append((_JMP_JGT_K, _ENOSYS, _FILTER, highest))
    labels[_ENOSYS] = len(prog)
    prog.append((_RET_K, 0, 0, ACTIONS["SCMP_ACT_ERRNO"] | ENOSYS))
    labels[_FILTER] = len(prog)

    out = bytearray()
    for pc, (code, jt, jf, k) in enumerate(prog):

        def rel(target: int | str, pc: int = pc) -> int:
            if isinstance(target, int):
                return target
            off = labels[target] - pc - 1
            assert 0 <= off <= 255, "enosys stub jump out of range"
            return off

        if code == _JMP_JA:
            k = labels[k] - pc - 1 if isinstance(k, str) else k
        assert isinstance(k, int)
        out += _insn(code, rel(jt), rel(jf), k)
    return bytes(out)


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    # struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; }, host byte order
    return code.to_bytes(2, _BYTEORDER) + bytes((jt, jf)) + k.to_bytes(4, _BYTEORDER)


_BYTEORDER: Literal["little", "big"] = sys.byteorder


def export_bpf(cfg: Mapping[str, Any], field: str = FIELD) -> bytes:
    """The cBPF program :func:`load` installs: the ENOSYS stub (when needed) + libseccomp's program."""
    validate(cfg, field)
    if not enabled(cfg):
        return b""
    program = _build(cfg, field)
    if cfg["defaultAction"] not in _LETS_THROUGH:
        program = _enosys_stub(_last_syscalls(cfg)) + program
    return program


def load(cfg: Mapping[str, Any], field: str = FIELD) -> None:
    """Build the filter and install it on the calling thread (all threads with the TSYNC flag)."""
    program = export_bpf(cfg, field)
    if not program:
        return
    count = len(program) // 8
    if count > _BPF_MAXINSNS:
        raise ConfigError(
            field, f"the filter compiles to {count} BPF instructions, over the kernel's {_BPF_MAXINSNS}"
        )
    unsupported = [name for name in cfg.get("flags") or [] if name not in supported_flags()]
    if unsupported:
        raise Unsupported(
            f"config.json: {field}.flags: this kernel does not support {', '.join(unsupported)}"
        )
    install(program, filter_flags(cfg))


_supported_flags: list[str] | None = None


def supported_flags() -> list[str]:
    """Which of :data:`FLAGS` the running kernel accepts (runc's order).

    seccomp(SECCOMP_SET_MODE_FILTER, flag, NULL) fails with EFAULT (reading the NULL program) when
    the kernel knows the flag, and with EINVAL when it does not; nothing is installed either way.
    """
    global _supported_flags
    if _supported_flags is None:
        found = []
        for name, flag in FLAGS.items():
            try:
                syscalls.syscall("seccomp", _SECCOMP_SET_MODE_FILTER, flag, ctypes.c_void_p(0))
            except OSError as e:
                if e.errno != 14:  # EFAULT
                    continue
            found.append(name)
        _supported_flags = found
    return list(_supported_flags)


# --- a cBPF interpreter, to check what a program does without loading it --------------------------


def evaluate(program: bytes, nr: int, arch: int = _AUDIT_ARCH_X86_64, args: tuple[int, ...] = ()) -> int:
    """Run a seccomp cBPF program on one syscall and return its SECCOMP_RET_* value.

    For tests and debugging (``what would this profile do with personality(0xffffffff)?``), and to
    compare our programs with runc's (PTRACE_SECCOMP_GET_FILTER). Covers the whole classic BPF
    instruction set a seccomp filter may use.
    """
    data = bytearray(64)  # struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6]
    data[0:4] = (nr & 0xFFFFFFFF).to_bytes(4, _BYTEORDER)
    data[4:8] = arch.to_bytes(4, _BYTEORDER)
    for i, value in enumerate(args[:6]):
        data[16 + 8 * i : 24 + 8 * i] = (value & 0xFFFFFFFFFFFFFFFF).to_bytes(8, _BYTEORDER)
    insns = _decode(program)
    a = x = 0
    mem = [0] * 16
    pc = 0
    mask = 0xFFFFFFFF
    while pc < len(insns):
        code, jt, jf, k = insns[pc]
        pc += 1
        cls = code & 0x07
        if cls in (0x00, 0x01):  # BPF_LD, BPF_LDX
            mode = code & 0xE0
            if mode == 0x20:  # BPF_ABS (32-bit words only in seccomp)
                value = int.from_bytes(data[k : k + 4], _BYTEORDER)
            elif mode == 0x60:  # BPF_MEM
                value = mem[k]
            elif mode == 0x00:  # BPF_IMM
                value = k
            elif mode == 0x80:  # BPF_LEN
                value = len(data)
            else:
                raise ValueError(f"unsupported load {code:#x} at {pc - 1}")
            if cls == 0x00:
                a = value
            else:
                x = value
        elif cls == 0x02:  # BPF_ST
            mem[k] = a
        elif cls == 0x03:  # BPF_STX
            mem[k] = x
        elif cls == 0x04:  # BPF_ALU
            op, src = code & 0xF0, (x if code & 0x08 else k)
            if op == 0x00:
                a = (a + src) & mask
            elif op == 0x10:
                a = (a - src) & mask
            elif op == 0x20:
                a = (a * src) & mask
            elif op == 0x30:
                a = a // src if src else 0
            elif op == 0x40:
                a |= src
            elif op == 0x50:
                a &= src
            elif op == 0x60:
                a = (a << src) & mask
            elif op == 0x70:
                a >>= src
            elif op == 0x80:
                a = -a & mask
            elif op == 0x90:
                a = a % src if src else 0
            elif op == 0xA0:
                a ^= src
            else:
                raise ValueError(f"unsupported alu {code:#x} at {pc - 1}")
        elif cls == 0x05:  # BPF_JMP
            op, src = code & 0xF0, (x if code & 0x08 else k)
            if op == 0x00:
                pc += k
                continue
            if op == 0x10:
                taken = a == src
            elif op == 0x20:
                taken = a > src
            elif op == 0x30:
                taken = a >= src
            elif op == 0x40:
                taken = bool(a & src)
            else:
                raise ValueError(f"unsupported jump {code:#x} at {pc - 1}")
            pc += jt if taken else jf
        elif cls == 0x06:  # BPF_RET
            return a if code & 0x18 == 0x10 else k
        else:  # BPF_MISC
            if code & 0xF8 == 0x00:
                x = a
            else:
                a = x
    raise ValueError("the program ran off its end")


_decoded: dict[bytes, list[tuple[int, int, int, int]]] = {}


def _decode(program: bytes) -> list[tuple[int, int, int, int]]:
    """(code, jt, jf, k) for each instruction; a few programs are remembered (evaluate loops)."""
    insns = _decoded.get(program)
    if insns is None:
        insns = [
            (
                int.from_bytes(program[i : i + 2], _BYTEORDER),
                program[i + 2],
                program[i + 3],
                int.from_bytes(program[i + 4 : i + 8], _BYTEORDER),
            )
            for i in range(0, len(program), 8)
        ]
        if len(_decoded) >= 8:
            _decoded.clear()
        _decoded[program] = insns
    return insns
