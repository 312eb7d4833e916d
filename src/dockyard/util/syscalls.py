"""Thin ctypes wrappers for the Linux system calls Python 3.11's ``os`` lacks.

Each wrapper raises ``OSError`` with the errno on failure, exactly as ``os`` functions do, so
callers handle both alike. Only ctypes and the standard library are used: this module is on the
start path of ``dockyard-runtime`` and must import quickly.
"""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)

# Syscall numbers for calls glibc does not wrap (or wraps only in newer versions).
_MACHINE = os.uname().machine
_SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "pivot_root": 155,
        "capget": 125,
        "capset": 126,
        "seccomp": 317,
        "bpf": 321,
        "pidfd_open": 434,
        "pidfd_send_signal": 424,
        "close_range": 436,
        "keyctl": 250,
    },
    "aarch64": {
        "pivot_root": 41,
        "capget": 90,
        "capset": 91,
        "seccomp": 277,
        "bpf": 280,
        "pidfd_open": 434,
        "pidfd_send_signal": 424,
        "close_range": 436,
        "keyctl": 219,
    },
}
NR: dict[str, int] = _SYSCALLS.get(_MACHINE, _SYSCALLS["x86_64"])

# clone(2) / unshare(2) / setns(2) flags
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080

# mount(2) flags
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25

MNT_DETACH = 2
UMOUNT_NOFOLLOW = 8

# prctl(2) options
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _check(ret: int, what: str, path: str | None = None) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        if path is None:
            raise OSError(err, f"{what}: {os.strerror(err)}")
        raise OSError(err, f"{what}: {os.strerror(err)}", path)
    return ret


def _b(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns")


def mount(
    source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None
) -> None:
    ret = _libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data))
    _check(ret, f"mount {source or fstype or ''} on {target}", target)


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(_b(target), ctypes.c_int(flags)), f"umount {target}", target)


def pivot_root(new_root: str, put_old: str) -> None:
    ret = _libc.syscall(ctypes.c_long(NR["pivot_root"]), _b(new_root), _b(put_old))
    _check(ret, "pivot_root", new_root)


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname")


def setdomainname(name: str) -> None:
    raw = name.encode()
    _check(_libc.setdomainname(raw, ctypes.c_size_t(len(raw))), "setdomainname")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(_libc.prctl(option, arg2, arg3, arg4, arg5), f"prctl({option})")


def personality(persona: int) -> int:
    return _check(_libc.personality(ctypes.c_ulong(persona)), "personality")


def syscall(name: str, *args: int | bytes | ctypes.c_void_p) -> int:
    """Raw syscall by name (for the few calls without a wrapper here)."""
    return _check(_libc.syscall(ctypes.c_long(NR[name]), *args), name)


def pidfd_open(pid: int) -> int:
    return syscall("pidfd_open", ctypes.c_int(pid), ctypes.c_uint(0))  # type: ignore[arg-type]


def set_name(name: str) -> None:
    """Set the calling thread's name (comm), as ``ps`` shows it."""
    prctl(PR_SET_NAME, ctypes.cast(ctypes.c_char_p(name.encode()[:15]), ctypes.c_void_p).value or 0)


def socket_fd(family: int, kind: int, proto: int = 0) -> int:
    """A bare socket fd (close-on-exec), without importing the ``socket`` module."""
    SOCK_CLOEXEC = 0o2000000
    return _check(
        _libc.socket(ctypes.c_int(family), ctypes.c_int(kind | SOCK_CLOEXEC), ctypes.c_int(proto)), "socket"
    )


# capget(2) / capset(2), version 3: two 32-bit words per set (capabilities 0-31, then 32-63).
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def capget(pid: int = 0) -> tuple[int, int, int]:
    """The (effective, permitted, inheritable) sets of ``pid`` (0: the calling thread) as masks."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, pid)
    data = (_CapData * 2)()
    _check(_libc.syscall(ctypes.c_long(NR["capget"]), ctypes.byref(header), data), "capget")
    return (
        data[0].effective | data[1].effective << 32,
        data[0].permitted | data[1].permitted << 32,
        data[0].inheritable | data[1].inheritable << 32,
    )


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set the calling thread's effective, permitted and inheritable sets (64-bit masks)."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in (0, 1):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.syscall(ctypes.c_long(NR["capset"]), ctypes.byref(header), data), "capset")


def join_session_keyring(name: str) -> None:
    """keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): a new session keyring of that name."""
    KEYCTL_JOIN_SESSION_KEYRING = 1
    _check(
        _libc.syscall(ctypes.c_long(NR["keyctl"]), ctypes.c_int(KEYCTL_JOIN_SESSION_KEYRING), name.encode()),
        "keyctl(JOIN_SESSION_KEYRING)",
    )
