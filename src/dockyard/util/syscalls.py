"""Thin wrappers for the Linux system calls Python 3.11's ``os`` lacks, through ``_ctypes``.

Each wrapper raises ``OSError`` with the errno on failure, exactly as ``os`` functions do, so
callers handle both alike. This module is on the start path of every ``dockyard-runtime`` verb,
so it uses the C half of ctypes (``_ctypes``) directly: the ``ctypes`` package on top of it costs
more to import (``struct``, ``types``, sixty type classes) than all the calls made through it. The
few C types the calls need are declared here the way ``ctypes`` declares its own; callers that
pass ``ctypes`` objects (seccomp, the BPF device filter) still can, as both share ``_ctypes``.
"""

from __future__ import annotations

import _ctypes
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ctypes


class _Int(_ctypes._SimpleCData):  # type: ignore[type-arg]  # ctypes.c_int
    _type_ = "i"


class _Long(_ctypes._SimpleCData):  # type: ignore[type-arg]  # ctypes.c_long
    _type_ = "l"


class _ULong(_ctypes._SimpleCData):  # type: ignore[type-arg]  # ctypes.c_ulong (and size_t)
    _type_ = "L"


class _UInt32(_ctypes._SimpleCData):  # type: ignore[type-arg]  # ctypes.c_uint32
    _type_ = "I"


class _CharP(_ctypes._SimpleCData):  # type: ignore[type-arg]  # ctypes.c_char_p: bytes or None (NULL)
    _type_ = "z"


class _LibcFunction(_ctypes.CFuncPtr):
    # ctypes.CDLL(None, use_errno=True)'s function type: cdecl, errno saved right after the call.
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO


class _Libc:
    """What a function lookup reads from a ``ctypes.CDLL``: the dlopen(3) handle."""

    # dlopen(NULL): the interpreter's own namespace, libc included (ctypes.CDLL(None) does this).
    _handle = _ctypes.dlopen(None)  # type: ignore[arg-type]


def _function(name: str, restype: type, argtypes: tuple[type, ...] | None = None) -> _LibcFunction:
    fn = _LibcFunction((name, _Libc))  # type: ignore[arg-type]  # a CDLL stand-in
    fn.restype = restype
    if argtypes is not None:
        fn.argtypes = argtypes
    return fn


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

_syscall = _function("syscall", _Long)
_mount = _function("mount", _Int, (_CharP, _CharP, _CharP, _ULong, _CharP))
_umount2 = _function("umount2", _Int, (_CharP, _Int))
_prctl = _function("prctl", _Int, (_Int, _ULong, _ULong, _ULong, _ULong))
_prctl_str = _function("prctl", _Int, (_Int, _CharP, _ULong, _ULong, _ULong))
_unshare = _function("unshare", _Int, (_Int,))
_setns = _function("setns", _Int, (_Int, _Int))
_sethostname = _function("sethostname", _Int, (_CharP, _ULong))
_setdomainname = _function("setdomainname", _Int, (_CharP, _ULong))
_personality = _function("personality", _Int, (_ULong,))
_socket = _function("socket", _Int, (_Int, _Int, _Int))
_setrlimit = _function("setrlimit", _Int)  # (int, struct rlimit *): an _RLimit array passes as one
_getrlimit = _function("getrlimit", _Int)


def _check(ret: int, what: str, path: str | None = None) -> int:
    if ret < 0:
        err = _ctypes.get_errno()
        if path is None:
            raise OSError(err, f"{what}: {os.strerror(err)}")
        raise OSError(err, f"{what}: {os.strerror(err)}", path)
    return ret


def _b(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def unshare(flags: int) -> None:
    _check(_unshare(flags), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    _check(_setns(fd, nstype), "setns")


def mount(
    source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None
) -> None:
    ret = _mount(_b(source), _b(target), _b(fstype), flags, _b(data))
    _check(ret, f"mount {source or fstype or ''} on {target}", target)


def umount2(target: str, flags: int = 0) -> None:
    _check(_umount2(_b(target), flags), f"umount {target}", target)


def pivot_root(new_root: str, put_old: str) -> None:
    ret = _syscall(NR["pivot_root"], _b(new_root), _b(put_old))
    _check(ret, "pivot_root", new_root)


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_sethostname(raw, len(raw)), "sethostname")


def setdomainname(name: str) -> None:
    raw = name.encode()
    _check(_setdomainname(raw, len(raw)), "setdomainname")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(_prctl(option, arg2, arg3, arg4, arg5), f"prctl({option})")


def personality(persona: int) -> int:
    return _check(_personality(persona), "personality")


def syscall(name: str, *args: int | bytes | ctypes.c_void_p) -> int:
    """Raw syscall by name (for the few calls without a wrapper here).

    Arguments as ctypes passes them without declared types: int as a C int, bytes as a pointer
    to their data, ctypes objects (``ctypes.c_void_p(...)``, arrays) as themselves.
    """
    return _check(_syscall(NR[name], *args), name)


def pidfd_open(pid: int) -> int:
    return syscall("pidfd_open", pid, 0)


def set_name(name: str) -> None:
    """Set the calling thread's name (comm), as ``ps`` shows it."""
    _check(_prctl_str(PR_SET_NAME, name.encode()[:15], 0, 0, 0), "prctl(PR_SET_NAME)")


def socket_fd(family: int, kind: int, proto: int = 0) -> int:
    """A bare socket fd (close-on-exec), without importing the ``socket`` module."""
    SOCK_CLOEXEC = 0o2000000
    return _check(_socket(family, kind | SOCK_CLOEXEC, proto), "socket")


# capget(2) / capset(2), version 3: a header {u32 version, int pid}, then two {effective,
# permitted, inheritable} triples of u32 (capabilities 0-31, then 32-63).
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_CapHeader = _UInt32 * 2
_CapData = _UInt32 * 6


def capget(pid: int = 0) -> tuple[int, int, int]:
    """The (effective, permitted, inheritable) sets of ``pid`` (0: the calling thread) as masks."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, pid)
    data = _CapData()
    _check(_syscall(NR["capget"], header, data), "capget")
    return (data[0] | data[3] << 32, data[1] | data[4] << 32, data[2] | data[5] << 32)


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set the calling thread's effective, permitted and inheritable sets (64-bit masks)."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    low, high = 0xFFFFFFFF, 32
    data = _CapData(
        effective & low,
        permitted & low,
        inheritable & low,
        effective >> high & low,
        permitted >> high & low,
        inheritable >> high & low,
    )
    _check(_syscall(NR["capset"], header, data), "capset")


# struct rlimit: {rlim_cur, rlim_max}, unsigned long each (the ``resource`` module does the same
# calls, but is one more shared library to load on every start).
RLIM_INFINITY = (1 << 64) - 1
_RLimit = _ULong * 2


def setrlimit(resource: int, soft: int, hard: int) -> None:
    _check(_setrlimit(resource, _RLimit(soft, hard)), "setrlimit")


def getrlimit(resource: int) -> tuple[int, int]:
    """(soft, hard); RLIM_INFINITY for no limit."""
    limits = _RLimit()
    _check(_getrlimit(resource, limits), "getrlimit")
    return limits[0], limits[1]


def join_session_keyring(name: str) -> None:
    """keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): a new session keyring of that name."""
    KEYCTL_JOIN_SESSION_KEYRING = 1
    _check(_syscall(NR["keyctl"], KEYCTL_JOIN_SESSION_KEYRING, name.encode()), "keyctl(JOIN_SESSION_KEYRING)")
