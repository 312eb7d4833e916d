"""Which defence refused an escape: read from the kernel's view of the container, from the host.

An errno alone does not say who refused (mount's EPERM can be seccomp's or the missing
CAP_SYS_ADMIN's). Each check here asks the defence itself about the container's init process:

- seccomp: the filter the kernel runs for it (PTRACE_SECCOMP_GET_FILTER), evaluated on the
  syscall and arguments the probe used (dockyard.runtime.seccomp.evaluate, a cBPF interpreter);
  seccomp runs first at syscall entry, so an ERRNO verdict there is the refusal;
- capabilities: CapEff in /proc/<pid>/status;
- masked and read-only paths: the container's mountinfo (/proc/<pid>/mountinfo);
- the device cgroup: devices.list of its cgroup (v1).
"""

from __future__ import annotations

import ctypes
import os
import re

from dockyard.runtime import capabilities, seccomp
from tests.isolation.engines import cgroup_dir, cgroup_value

_libc = ctypes.CDLL(None, use_errno=True)
_PTRACE_DETACH = 17
_PTRACE_SEIZE = 0x4206
_PTRACE_INTERRUPT = 0x4207
_PTRACE_SECCOMP_GET_FILTER = 0x420C
_SECCOMP_RET_ERRNO = 0x00050000
_SECCOMP_RET_ACTION = 0x7FFF0000


def read_filter(pid: int) -> bytes:
    """The newest seccomp filter of ``pid`` as cBPF (needs CAP_SYS_ADMIN, CONFIG_CHECKPOINT_RESTORE)."""
    ptrace = _libc.ptrace
    ptrace.restype = ctypes.c_long
    ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]

    def check(ret: int, what: str) -> int:
        if ret < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what} on pid {pid}: {os.strerror(err)}")
        return ret

    check(ptrace(_PTRACE_SEIZE, pid, None, None), "PTRACE_SEIZE")
    try:
        check(ptrace(_PTRACE_INTERRUPT, pid, None, None), "PTRACE_INTERRUPT")
        os.waitpid(pid, 0x40000000)  # __WALL: the tracee is not our child
        count = check(ptrace(_PTRACE_SECCOMP_GET_FILTER, pid, None, None), "PTRACE_SECCOMP_GET_FILTER")
        buf = ctypes.create_string_buffer(count * 8)
        count = check(ptrace(_PTRACE_SECCOMP_GET_FILTER, pid, None, buf), "PTRACE_SECCOMP_GET_FILTER")
        return buf.raw[: count * 8]
    finally:
        ptrace(_PTRACE_DETACH, pid, None, None)


def seccomp_errno(program: bytes, name: str, *args: int) -> int | None:
    """The errno the filter returns for this call, or None when it lets the call through."""
    nr = seccomp.syscall_number(name)
    if nr is None or nr < 0:
        raise ValueError(f"no syscall {name!r} on this architecture")
    verdict = seccomp.evaluate(program, nr, args=args)
    if verdict & _SECCOMP_RET_ACTION == _SECCOMP_RET_ERRNO:
        return verdict & 0xFFFF
    return None


def effective_caps(pid: int) -> list[str]:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return capabilities.names(int(line.split()[1], 16))
    raise AssertionError(f"no CapEff for pid {pid}")


def mounts(pid: int) -> dict[str, tuple[str, str, str]]:
    """mount point -> (root within its filesystem, mount options, fs type), as the container sees it."""
    out = {}
    with open(f"/proc/{pid}/mountinfo", encoding="utf-8") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            out[fields[4]] = (fields[3], fields[5], right.split()[0])
    return out


def is_read_only(pid: int, path: str) -> bool:
    """The nearest mount at or above ``path`` is mounted read-only."""
    table = mounts(pid)
    probe = path
    while probe not in table:
        probe = os.path.dirname(probe)
    return "ro" in table[probe][1].split(",")


def is_masked(pid: int, path: str) -> bool:
    """``path`` is covered: a bind of /dev/null (a file) or an empty read-only tmpfs (a folder)."""
    entry = mounts(pid).get(path)
    if entry is None:
        return False
    root, options, fstype = entry
    return root.endswith("/null") or (fstype == "tmpfs" and "ro" in options.split(","))


def device_allowed(pid: int, kind: str, major: int, minor: int, access: str) -> bool:
    """Whether the container's device cgroup (v1 devices.list) allows ``access`` on the node."""
    listing = cgroup_value(cgroup_dir(pid, "devices"), "devices.list")
    for rule in listing.splitlines():
        m = re.fullmatch(r"([abc]) (\*|\d+):(\*|\d+) ([rwm]+)", rule.strip())
        if not m:
            continue
        t, ma, mi, acc = m.groups()
        if t in ("a", kind) and ma in ("*", str(major)) and mi in ("*", str(minor)) and access in acc:
            return True
    return False
