"""The built-in seccomp profile: compiled by the runtime's libseccomp code and run through its cBPF
interpreter (seccomp.evaluate), for Docker's default capabilities and with CAP_SYS_ADMIN."""

from __future__ import annotations

import errno
import os

import pytest

from dockyard.engine.capabilities import DEFAULT_CAPS
from dockyard.engine.seccomp_default import ALWAYS, BY_CAPABILITY, default_profile
from dockyard.engine.seccomp_profile import to_oci
from dockyard.runtime import seccomp

pytestmark = [
    pytest.mark.skipif(not seccomp.available(), reason="libseccomp2 is not installed"),
    pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers below are x86_64's"),
]

ALLOW = 0x7FFF0000
AF_INET, AF_VSOCK, SOCK_STREAM = 2, 40, 1
CLONE_NEWUSER, CLONE_NEWNS, SIGCHLD = 0x10000000, 0x00020000, 17


def program(caps: list[str]) -> bytes:
    return seccomp.export_bpf(to_oci(default_profile(), caps))


def verdict(prog: bytes, name: str, *args: int) -> int:
    nr = seccomp.syscall_number(name, "SCMP_ARCH_X86_64")
    assert nr is not None, name
    return int(seccomp.evaluate(prog, nr, args=args))


def errno_of(name: str) -> int:
    code: int = getattr(errno, name)
    return 0x00050000 | code


@pytest.fixture(scope="module")
def default_prog() -> bytes:
    return program(list(DEFAULT_CAPS))


def test_size_and_shape() -> None:
    profile = default_profile()
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO" and profile["defaultErrnoRet"] == errno.EPERM
    assert 340 <= len(ALWAYS) <= 380  # Docker's allow-list is about 360 names
    assert not ALWAYS & {"mount", "umount2", "unshare", "setns", "keyctl", "add_key", "init_module",
                         "settimeofday", "clock_settime", "open_by_handle_at", "reboot", "kexec_load",
                         "bpf", "ptrace", "socket", "personality", "clone", "clone3"}  # fmt: skip
    assert default_profile() is not default_profile()  # a copy: callers may change theirs


def test_everyday_syscalls_allowed(default_prog: bytes) -> None:
    for name in ("read", "write", "openat", "execve", "mmap", "futex", "exit_group", "chroot", "ptrace"):
        assert verdict(default_prog, name) == ALLOW, name
    assert verdict(default_prog, "socket", AF_INET, SOCK_STREAM, 0) == ALLOW
    assert verdict(default_prog, "clone", SIGCHLD) == ALLOW
    for persona in (0, 8, 0x20000, 0x20008, 0xFFFFFFFF):
        assert verdict(default_prog, "personality", persona) == ALLOW


def test_escapes_refused_with_eperm(default_prog: bytes) -> None:
    for name in ("mount", "umount2", "unshare", "setns", "keyctl", "add_key", "request_key", "init_module",
                 "finit_module", "delete_module", "settimeofday", "clock_settime", "open_by_handle_at",
                 "reboot", "kexec_load", "bpf", "perf_event_open", "swapon", "iopl", "syslog"):  # fmt: skip
        assert verdict(default_prog, name) == errno_of("EPERM"), name
    assert verdict(default_prog, "socket", AF_VSOCK, SOCK_STREAM, 0) == errno_of("EPERM")
    assert verdict(default_prog, "clone", SIGCHLD | CLONE_NEWUSER) == errno_of("EPERM")
    assert verdict(default_prog, "clone", SIGCHLD | CLONE_NEWNS) == errno_of("EPERM")
    assert verdict(default_prog, "personality", 0x0040000) == errno_of("EPERM")  # READ_IMPLIES_EXEC


def test_clone3_enosys_without_sys_admin(default_prog: bytes) -> None:
    # ENOSYS, not EPERM: glibc then falls back to clone, whose flags the filter can read.
    assert verdict(default_prog, "clone3") == errno_of("ENOSYS")


def test_capabilities_unlock_their_syscalls() -> None:
    admin = program([*DEFAULT_CAPS, "CAP_SYS_ADMIN"])
    for name in BY_CAPABILITY["CAP_SYS_ADMIN"]:
        nr = seccomp.syscall_number(name, "SCMP_ARCH_X86_64")
        if nr is not None and nr >= 0:  # umount is i386's only: a negative pseudo-number here
            assert verdict(admin, name) == ALLOW, name
    assert verdict(admin, "clone", SIGCHLD | CLONE_NEWUSER) == ALLOW
    assert verdict(program([*DEFAULT_CAPS, "CAP_SYS_TIME"]), "settimeofday") == ALLOW
    assert verdict(program([*DEFAULT_CAPS, "CAP_SYS_MODULE"]), "finit_module") == ALLOW
    assert verdict(program([*DEFAULT_CAPS, "CAP_DAC_READ_SEARCH"]), "open_by_handle_at") == ALLOW
    # chroot is CAP_SYS_CHROOT's: dropping the capability drops the syscall too.
    without_chroot = program([c for c in DEFAULT_CAPS if c != "CAP_SYS_CHROOT"])
    assert verdict(without_chroot, "chroot") == errno_of("EPERM")


def test_compat_architectures_covered() -> None:
    oci = to_oci(default_profile(), list(DEFAULT_CAPS))
    assert oci["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
