"""cgroup v2 device access control: a BPF_PROG_TYPE_CGROUP_DEVICE program, built and loaded here.

cgroup v2 has no devices controller; the kernel instead runs every BPF_CGROUP_DEVICE program
attached to the task's cgroup and its ancestors on each open/mknod of a device node and denies
the access if any returns 0 (kernel/bpf/cgroup.c, __cgroup_bpf_check_dev_permission). The
program reads ``struct bpf_cgroup_dev_ctx`` (include/uapi/linux/bpf.h)::

    u32 access_type   low 16 bits: BPF_DEVCG_DEV_BLOCK (1) / _CHAR (2);
                      high 16 bits: BPF_DEVCG_ACC_MKNOD (1) | _READ (2) | _WRITE (4)
    u32 major
    u32 minor

The generated code has the shape of runc's and crun's filters: load the four values into
R2..R5, then one block per exception of the emulated rule state (devices.py), each falling
through to the next block on a mismatch and returning the exception's verdict on a match, and a
final block returning the default verdict.

Programs are attached with BPF_F_ALLOW_MULTI so an ancestor's program (systemd's, a parent
container's) keeps running too; an update attaches the new program before detaching the old
ones, so there is no instant without a filter.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

from dockyard.runtime.cgroups.devices import WILDCARD, DeviceState
from dockyard.util import syscalls

# bpf(2) commands
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16

BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6  # enum bpf_attach_type
BPF_F_ALLOW_MULTI = 1 << 1

BPF_DEVCG_DEV_BLOCK = 1
BPF_DEVCG_DEV_CHAR = 2
BPF_DEVCG_ACC_MKNOD = 1
BPF_DEVCG_ACC_READ = 2
BPF_DEVCG_ACC_WRITE = 4
_ACC_ALL = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE

# Instruction classes and operations (include/uapi/linux/bpf_common.h, bpf.h).
_LDX_MEM_W = 0x61  # BPF_LDX | BPF_MEM | BPF_W
_ALU32_AND_K = 0x54  # BPF_ALU | BPF_AND | BPF_K
_ALU32_RSH_K = 0x74  # BPF_ALU | BPF_RSH | BPF_K
_ALU32_MOV_K = 0xB4  # BPF_ALU | BPF_MOV | BPF_K
_ALU32_MOV_X = 0xBC  # BPF_ALU | BPF_MOV | BPF_X
_JMP_JNE_K = 0x55  # BPF_JMP | BPF_JNE | BPF_K
_JMP_JNE_X = 0x5D  # BPF_JMP | BPF_JNE | BPF_X
_EXIT = 0x95  # BPF_JMP | BPF_EXIT

_NEXT = object()  # placeholder jump target: the first instruction of the next block

LICENSE = b"Apache\0"
PROG_NAME = b"dockyard_dev"


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    # struct bpf_insn: u8 code; u8 dst_reg:4, src_reg:4 (dst in the low nibble); s16 off; s32 imm.
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def _access_bits(access: str) -> int:
    bits = 0
    for c in access:
        bits |= {"r": BPF_DEVCG_ACC_READ, "w": BPF_DEVCG_ACC_WRITE, "m": BPF_DEVCG_ACC_MKNOD}[c]
    return bits


def build_program(state: DeviceState) -> bytes:
    """The program enforcing ``state``; instructions as the kernel takes them (8 bytes each)."""
    out = [
        _insn(_LDX_MEM_W, dst=2, src=1, off=0),  # R2 = ctx->access_type
        _insn(_ALU32_AND_K, dst=2, imm=0xFFFF),  # R2 = device type
        _insn(_LDX_MEM_W, dst=3, src=1, off=0),  # R3 = ctx->access_type
        _insn(_ALU32_RSH_K, dst=3, imm=16),  # R3 = requested access bits
        _insn(_LDX_MEM_W, dst=4, src=1, off=4),  # R4 = major
        _insn(_LDX_MEM_W, dst=5, src=1, off=8),  # R5 = minor
    ]
    verdict = 0 if state.default_allow else 1
    for ex in state.exceptions:
        dev_type = BPF_DEVCG_DEV_CHAR if ex.type == "c" else BPF_DEVCG_DEV_BLOCK
        bits = _access_bits(ex.access)
        # (code, dst, src, imm); off is filled in once the block's length is known.
        block: list[tuple[int, int, int, int, object]] = [(_JMP_JNE_K, 2, 0, dev_type, _NEXT)]
        if bits != _ACC_ALL:
            # The request must be a subset of the exception's bits: (R3 & bits) == R3.
            block += [
                (_ALU32_MOV_X, 1, 3, 0, None),  # R1 = R3 (ctx is no longer needed)
                (_ALU32_AND_K, 1, 0, bits, None),
                (_JMP_JNE_X, 1, 3, 0, _NEXT),
            ]
        if ex.major != WILDCARD:
            block.append((_JMP_JNE_K, 4, 0, ex.major, _NEXT))
        if ex.minor != WILDCARD:
            block.append((_JMP_JNE_K, 5, 0, ex.minor, _NEXT))
        block += [(_ALU32_MOV_K, 0, 0, verdict, None), (_EXIT, 0, 0, 0, None)]
        for i, (code, dst, src, imm, target) in enumerate(block):
            off = len(block) - (i + 1) if target is _NEXT else 0
            out.append(_insn(code, dst, src, off, imm))
    out += [_insn(_ALU32_MOV_K, dst=0, imm=1 if state.default_allow else 0), _insn(_EXIT)]
    return b"".join(out)


def run_program(program: bytes, dev_type: str, major: int, minor: int, access: str) -> int:
    """Interpret ``program`` for one access, as the kernel would (for tests without bpf(2))."""
    regs = [0] * 11
    ctx = struct.pack(
        "<III",
        (_access_bits(access) << 16) | (BPF_DEVCG_DEV_CHAR if dev_type == "c" else BPF_DEVCG_DEV_BLOCK),
        major,
        minor,
    )
    pc = 0
    count = len(program) // 8
    while pc < count:
        code, regs_byte, off, imm = struct.unpack_from("<BBhi", program, pc * 8)
        dst, src = regs_byte & 0xF, regs_byte >> 4
        pc += 1
        if code == _LDX_MEM_W:
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif code == _ALU32_AND_K:
            regs[dst] = (regs[dst] & imm) & 0xFFFFFFFF
        elif code == _ALU32_RSH_K:
            regs[dst] = (regs[dst] & 0xFFFFFFFF) >> imm
        elif code == _ALU32_MOV_K:
            regs[dst] = imm & 0xFFFFFFFF
        elif code == _ALU32_MOV_X:
            regs[dst] = regs[src] & 0xFFFFFFFF
        elif code == _JMP_JNE_K:
            if regs[dst] != (imm & 0xFFFFFFFFFFFFFFFF):
                pc += off
        elif code == _JMP_JNE_X:
            if regs[dst] != regs[src]:
                pc += off
        elif code == _EXIT:
            return regs[0]
        else:
            raise ValueError(f"unknown BPF opcode {code:#x} at {pc - 1}")
    raise ValueError("BPF program ran off its end")


# ---------------------------------------------------------------- bpf(2)


def _bpf(cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
    return syscalls.syscall(
        "bpf",
        ctypes.c_int(cmd),  # type: ignore[arg-type]
        ctypes.c_void_p(ctypes.addressof(attr)),
        ctypes.c_uint(len(attr)),  # type: ignore[arg-type]
    )


def load(program: bytes) -> int:
    """BPF_PROG_LOAD; the program's fd. A verifier rejection raises OSError with its log."""
    insns = ctypes.create_string_buffer(program, len(program))
    lic = ctypes.create_string_buffer(LICENSE, len(LICENSE))
    log = ctypes.create_string_buffer(65536)
    attr = ctypes.create_string_buffer(72)
    struct.pack_into(
        "<IIQQIIQII16s",
        attr,
        0,
        BPF_PROG_TYPE_CGROUP_DEVICE,
        len(program) // 8,
        ctypes.addressof(insns),
        ctypes.addressof(lic),
        0,
        0,
        0,
        0,
        0,
        PROG_NAME,
    )
    try:
        return _bpf(BPF_PROG_LOAD, attr)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EACCES):
            raise
    # Load again with the verifier's log on, only to tell why (the log costs time when it works).
    struct.pack_into("<IIQ", attr, 24, 1, len(log), ctypes.addressof(log))
    try:
        return _bpf(BPF_PROG_LOAD, attr)
    except OSError as exc:
        text = log.value.decode(errors="replace").strip()
        raise OSError(exc.errno, f"bpf(BPF_PROG_LOAD) device filter rejected: {text}") from None


def query(cgroup_fd: int) -> list[int]:
    """Ids of the device programs attached to this very cgroup (not to its ancestors)."""
    ids = (ctypes.c_uint32 * 64)()
    attr = ctypes.create_string_buffer(40)
    struct.pack_into("<IIIIQI", attr, 0, cgroup_fd, BPF_CGROUP_DEVICE, 0, 0, ctypes.addressof(ids), len(ids))
    _bpf(BPF_PROG_QUERY, attr)
    count = struct.unpack_from("<I", attr, 24)[0]
    return list(ids[: min(count, len(ids))])


def _prog_fd_by_id(prog_id: int) -> int:
    attr = ctypes.create_string_buffer(16)
    struct.pack_into("<I", attr, 0, prog_id)
    return _bpf(BPF_PROG_GET_FD_BY_ID, attr)


def _attach_cmd(cmd: int, cgroup_fd: int, prog_fd: int, flags: int) -> None:
    attr = ctypes.create_string_buffer(24)
    struct.pack_into("<IIII", attr, 0, cgroup_fd, prog_fd, BPF_CGROUP_DEVICE, flags)
    _bpf(cmd, attr)


def apply(cgroup_dir: str, state: DeviceState) -> None:
    """Make ``state`` the device policy of the cgroup at ``cgroup_dir``, replacing ours before."""
    program = build_program(state)
    prog_fd = load(program)
    cg_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        old = query(cg_fd)
        try:
            _attach_cmd(BPF_PROG_ATTACH, cg_fd, prog_fd, BPF_F_ALLOW_MULTI)
        except OSError as exc:
            # EPERM: a program attached without BPF_F_ALLOW_MULTI sits there; it must go first.
            if exc.errno != errno.EPERM or not old:
                raise
            _detach_ids(cg_fd, old)
            old = []
            _attach_cmd(BPF_PROG_ATTACH, cg_fd, prog_fd, BPF_F_ALLOW_MULTI)
        _detach_ids(cg_fd, old)
    finally:
        os.close(cg_fd)
        # The attachment holds its own reference: the program lives as long as it is attached.
        os.close(prog_fd)


def _detach_ids(cg_fd: int, ids: list[int]) -> None:
    for prog_id in ids:
        try:
            fd = _prog_fd_by_id(prog_id)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                continue  # detached (and freed) meanwhile
            raise
        try:
            _attach_cmd(BPF_PROG_DETACH, cg_fd, fd, 0)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise
        finally:
            os.close(fd)
