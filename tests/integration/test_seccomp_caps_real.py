"""Capabilities and seccomp on the real kernel, in forked children; runc as the reference.

Each check forks: the child applies what the runtime's init applies (the capability sequence of
process.py, a seccomp filter), tries something, reports through a pipe and leaves with os._exit,
so nothing leaks into the test process. Where runc is installed, the same configuration runs in a
runc container and both results must agree: the Cap* lines of /proc/self/status after execve, and
the seccomp programs themselves (runc's read back with PTRACE_SECCOMP_GET_FILTER and compared
with ours by running both through seccomp.evaluate over a grid of syscalls).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dockyard.errors import SystemFailure
from dockyard.runtime import capabilities as caps
from dockyard.runtime import seccomp
from dockyard.util import syscalls
from tests.conftest import BundleFactory

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (capability sets, seccomp as root)"),
]
needs_lib = pytest.mark.skipif(not seccomp.available(), reason="libseccomp2 is not installed")
RUNC = shutil.which("runc")
needs_runc = pytest.mark.skipif(RUNC is None, reason="runc is not installed (apt-get install runc)")

STATUS_KEYS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
AUDIT_X86_64 = 0xC000003E
AUDIT_I386 = 0x40000003
AUDIT_AARCH64 = 0xC00000B7
X32_BIT = 0x40000000


# --- forked children ------------------------------------------------------------------------------


def in_child(body: Callable[[], str], timeout: float = 30) -> tuple[str, int | None]:
    """Run ``body`` in a forked child; return (what it returned or the error it raised, its signal)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        try:
            out = body()
        except BaseException as e:  # report everything: the parent asserts on it
            out = f"{type(e).__name__}: {e}"
        try:
            os.write(w, out.encode())
        finally:
            os._exit(0)
    os.close(w)
    try:
        chunks = []
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
    finally:
        os.close(r)
    _, status = os.waitpid(pid, 0)
    return b"".join(chunks).decode(), os.WTERMSIG(status) if os.WIFSIGNALED(status) else None


def errno_of(call: Callable[[], object]) -> str:
    try:
        call()
    except OSError as e:
        return str(e.errno)
    return "0"


def parse_status(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in STATUS_KEYS or key in ("Seccomp", "Seccomp_filters", "NoNewPrivs"):
            out[key] = int(value.strip(), 16 if key.startswith("Cap") else 10)
    return out


# --- capabilities ---------------------------------------------------------------------------------


def run_sequence(config: dict[str, Any] | None, uid: int, nnp: bool) -> tuple[dict[str, int], dict[str, int]]:
    """The init's capability sequence in a child; Cap* of the child before and after execve(cat)."""
    sets = caps.parse(config)
    caps.check_against_bounding(sets)
    out_r, out_w = os.pipe()

    # "before" comes through its own pipe just ahead of the execve; cat's output through out_w.
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        os.close(out_r)
        try:
            caps.drop_bounding(sets)
            syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 1)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 0)
            caps.apply(sets)
            if nnp:
                syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
            os.write(w, json.dumps(caps.read_status()).encode())
            os.close(w)
            os.dup2(out_w, 1)
            os.execv("/bin/cat", ["cat", "/proc/self/status"])
        except BaseException as e:
            os.write(w, f"ERROR {type(e).__name__}: {e}".encode())
        os._exit(1)
    os.close(w)
    os.close(out_w)
    try:
        before_text = b"".join(iter(lambda: os.read(r, 65536), b"")).decode()
        after_text = b"".join(iter(lambda: os.read(out_r, 65536), b"")).decode()
    finally:
        os.close(r)
        os.close(out_r)
    _, status = os.waitpid(pid, 0)
    assert not before_text.startswith("ERROR"), before_text
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, after_text
    return json.loads(before_text), parse_status(after_text)


def expected_before(sets: caps.CapSets) -> dict[str, int]:
    return {
        "CapInh": sets.mask("inheritable"),
        "CapPrm": sets.mask("permitted"),
        "CapEff": sets.mask("effective"),
        "CapBnd": sets.mask("bounding"),
        "CapAmb": sets.mask("ambient"),
    }


def expected_after(sets: caps.CapSets, uid: int, nnp: bool) -> dict[str, int]:
    """capabilities(7), execve of a file without file capabilities."""
    inh, bnd, amb = sets.mask("inheritable"), sets.mask("bounding"), sets.mask("ambient")
    if uid == 0:
        # root: the file's sets count as full, so P' = (P(inh) & F(inh)) | (F(perm) & bset)
        prm = inh | bnd
        if nnp:  # no_new_privs: execve may not add to the permitted set
            prm &= sets.mask("permitted")
        return {"CapInh": inh, "CapPrm": prm, "CapEff": prm, "CapBnd": bnd, "CapAmb": 0}
    return {"CapInh": inh, "CapPrm": amb, "CapEff": amb, "CapBnd": bnd, "CapAmb": amb}


RUNC_DEFAULT = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
FIVE = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT"]
TWO = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]

CAP_CASES: dict[str, tuple[dict[str, Any] | None, int, bool]] = {
    "root-runc-default": (
        {k: list(RUNC_DEFAULT) for k in ("bounding", "effective", "permitted", "ambient")},
        0,
        True,
    ),
    "root-narrow-effective-no-nnp": ({"bounding": FIVE, "effective": TWO, "permitted": TWO}, 0, False),
    "root-narrow-effective-nnp": ({"bounding": FIVE, "effective": TWO, "permitted": TWO}, 0, True),
    "root-inheritable": (
        {"bounding": FIVE, "effective": TWO, "permitted": TWO, "inheritable": ["CAP_CHOWN"]},
        0,
        True,
    ),
    "root-no-capabilities": (None, 0, False),
    "user-ambient": ({k: list(TWO) for k in caps.SET_NAMES} | {"bounding": FIVE}, 1000, True),
    "user-no-ambient": (
        {"bounding": FIVE, "effective": TWO, "permitted": TWO, "inheritable": TWO},
        1000,
        False,
    ),
    "user-no-capabilities": (None, 1000, True),
    "user-all-but-sys-resource": (
        {k: [n for n in caps.CAPS if n != "CAP_SYS_RESOURCE"] for k in caps.SET_NAMES},
        1000,
        False,
    ),
}


@pytest.mark.parametrize("case", sorted(CAP_CASES))
def test_capability_sequence_gives_the_configured_sets(case: str) -> None:
    config, uid, nnp = CAP_CASES[case]
    sets = caps.parse(config)
    before, after = run_sequence(config, uid, nnp)
    # Before execve the process holds exactly the configured sets ...
    assert before == expected_before(sets), {k: caps.names(v) for k, v in before.items()}
    # ... and after it, what the kernel's execve rules make of them.
    want = expected_after(sets, uid, nnp)
    assert {k: after[k] for k in STATUS_KEYS} == want, {k: caps.names(v) for k, v in after.items()}


def run_runc(bundle_dir: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    assert RUNC is not None
    root = tempfile.mkdtemp(prefix="dockyard-runc-root-")
    cid = f"dy-{uuid.uuid4().hex[:12]}"
    try:
        return subprocess.run(
            [RUNC, "--root", root, "run", "--bundle", bundle_dir, cid],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    finally:
        subprocess.run([RUNC, "--root", root, "delete", "--force", cid], capture_output=True, timeout=30)
        shutil.rmtree(root, ignore_errors=True)


@needs_runc
@pytest.mark.parametrize("case", sorted(CAP_CASES))
def test_capabilities_match_runc(case: str, bundle: BundleFactory) -> None:
    config, uid, nnp = CAP_CASES[case]
    bundle_dir = bundle(
        ["cat", "/proc/self/status"], process={"user": {"uid": uid, "gid": uid}, "noNewPrivileges": nnp}
    )
    # Replace the capabilities wholesale (the bundle factory merges dicts): absent when None.
    path = os.path.join(bundle_dir, "config.json")
    with open(path) as f:
        doc = json.load(f)
    doc["process"].pop("capabilities", None)
    if config is not None:
        doc["process"]["capabilities"] = config
    with open(path, "w") as f:
        json.dump(doc, f)
    res = run_runc(bundle_dir)
    assert res.returncode == 0, res.stderr
    theirs = {k: v for k, v in parse_status(res.stdout).items() if k in STATUS_KEYS}
    _, ours = run_sequence(config, uid, nnp)
    assert {k: ours[k] for k in STATUS_KEYS} == theirs, (
        {k: caps.names(v) for k, v in theirs.items()},
        {k: caps.names(v) for k, v in ours.items()},
    )


def test_host_withholds_sys_resource_and_we_say_so() -> None:
    if caps.CAPS["CAP_SYS_RESOURCE"] in caps.current_bounding():
        pytest.skip("this host's root has CAP_SYS_RESOURCE")
    sets = caps.parse({k: ["CAP_SYS_RESOURCE"] for k in ("bounding", "effective", "permitted")})
    with pytest.raises(
        Exception, match=r"process\.capabilities\.effective: CAP_SYS_RESOURCE not in the runtime"
    ):
        caps.check_against_bounding(sets)


def test_apply_reports_what_the_kernel_refuses() -> None:
    # Permitted can only shrink: after giving it up, asking for CAP_CHOWN again is EPERM.
    def body() -> str:
        caps.apply(caps.parse({"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"]}))
        try:
            caps.apply(caps.parse({"bounding": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]}))
        except SystemFailure as e:
            return f"{e.errno} {e}"
        return "applied"

    out, sig = in_child(body)
    assert sig is None
    assert out.startswith(f"{errno.EPERM} cannot set capabilities"), out


# --- seccomp --------------------------------------------------------------------------------------


def load_then(cfg: dict[str, Any], call: Callable[[], object], nnp: bool = True) -> tuple[str, int | None]:
    def body() -> str:
        if nnp:
            syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
        seccomp.load(cfg)
        return errno_of(call)

    return in_child(body)


libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def raw_syscall(nr: int, *args: int) -> Callable[[], None]:
    def call() -> None:
        if libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args]) < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    return call


MKDIR_ENOSYS = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}],
}


@pytest.fixture
def scratch() -> Iterator[str]:
    top = tempfile.mkdtemp(prefix="dockyard-seccomp-")
    try:
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


@needs_lib
def test_errno_ret_denies_mkdir_only(scratch: str) -> None:
    target = os.path.join(scratch, "d")
    assert load_then(MKDIR_ENOSYS, lambda: os.mkdir(target)) == (str(errno.ENOSYS), None)
    assert not os.path.exists(target)
    assert load_then(MKDIR_ENOSYS, lambda: open(os.path.join(scratch, "f"), "w").close()) == ("0", None)
    assert load_then(MKDIR_ENOSYS, os.getcwd) == ("0", None)


@needs_lib
def test_errno_defaults_to_eperm(scratch: str) -> None:
    cfg = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
    }
    assert load_then(cfg, lambda: os.mkdir(os.path.join(scratch, "d"))) == (str(errno.EPERM), None)


@needs_lib
def test_argument_condition_personality() -> None:
    cfg = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {
                "names": ["personality"],
                "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 0xFFFFFFFF, "op": "SCMP_CMP_EQ"}],
            }
        ],
    }
    assert load_then(cfg, lambda: syscalls.personality(0xFFFFFFFF)) == (str(errno.EPERM), None)
    assert load_then(cfg, lambda: syscalls.personality(0)) == ("0", None)


@needs_lib
def test_argument_condition_socket_af_packet() -> None:
    cfg = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {
                "names": ["socket"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": errno.EAFNOSUPPORT,
                "args": [{"index": 0, "value": socket.AF_PACKET, "op": "SCMP_CMP_EQ"}],
            }
        ],
    }

    def open_close(family: int, kind: int) -> Callable[[], None]:
        return lambda: socket.socket(family, kind).close()

    assert load_then(cfg, open_close(socket.AF_PACKET, socket.SOCK_RAW)) == (str(errno.EAFNOSUPPORT), None)
    assert load_then(cfg, open_close(socket.AF_INET, socket.SOCK_STREAM)) == ("0", None)
    assert load_then(cfg, open_close(socket.AF_UNIX, socket.SOCK_DGRAM)) == ("0", None)


@needs_lib
def test_same_argument_conditions_are_ored() -> None:
    cfg = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {
                "names": ["personality"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": errno.EINVAL,
                "args": [
                    {"index": 0, "value": 0x0008, "op": "SCMP_CMP_EQ"},  # PER_LINUX32
                    {"index": 0, "value": 0x0400000, "op": "SCMP_CMP_EQ"},  # ADDR_COMPAT_LAYOUT
                ],
            }
        ],
    }
    assert load_then(cfg, lambda: syscalls.personality(0x0008)) == (str(errno.EINVAL), None)
    assert load_then(cfg, lambda: syscalls.personality(0x0400000)) == (str(errno.EINVAL), None)
    assert load_then(cfg, lambda: syscalls.personality(0xFFFFFFFF)) == ("0", None)


@needs_lib
@pytest.mark.parametrize("action", ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_TRAP"])
def test_kill_and_trap_end_with_sigsys(action: str, scratch: str) -> None:
    cfg = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": action}]}
    out, sig = load_then(cfg, lambda: os.mkdir(os.path.join(scratch, "d")))
    assert (out, sig) == ("", signal.SIGSYS)


@needs_lib
def test_log_and_flags_load() -> None:
    cfg = dict(MKDIR_ENOSYS)
    cfg["syscalls"] = [*MKDIR_ENOSYS["syscalls"], {"names": ["getppid"], "action": "SCMP_ACT_LOG"}]
    cfg["flags"] = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]

    def status() -> str:
        with open("/proc/self/status") as f:
            return json.dumps(parse_status(f.read()))

    def body() -> str:
        syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
        seccomp.load(cfg)
        os.getppid()
        return status()

    out, sig = in_child(body)
    assert sig is None, out
    st = json.loads(out)
    assert st["Seccomp"] == 2 and st["Seccomp_filters"] == 1 and st["NoNewPrivs"] == 1


def _allow_all_but_mkdir() -> dict[str, Any]:
    names = [n for n in (seccomp.syscall_name(i) for i in range(449)) if n and n != "mkdir"]
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}],
    }


@needs_lib
@pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers of x86_64")
def test_enosys_for_syscalls_newer_than_the_profile(scratch: str) -> None:
    cfg = _allow_all_but_mkdir()
    assert load_then(cfg, lambda: os.mkdir(os.path.join(scratch, "d"))) == (str(errno.EPERM), None)
    assert load_then(cfg, raw_syscall(39)) == ("0", None)  # getpid
    assert load_then(cfg, raw_syscall(460)) == (str(errno.ENOSYS), None)  # newer than the profile
    assert load_then(cfg, raw_syscall(100000)) == (str(errno.ENOSYS), None)
    # The same profile without architectures: runc adds no stub, the default action applies.
    del cfg["architectures"]
    assert load_then(cfg, raw_syscall(460)) == (str(errno.EPERM), None)


@needs_lib
def test_loading_without_nnp_needs_cap_sys_admin() -> None:
    def body() -> str:
        eff, prm, inh = syscalls.capget()
        syscalls.capset(eff & ~(1 << caps.CAPS["CAP_SYS_ADMIN"]), prm, inh)
        try:
            seccomp.load(MKDIR_ENOSYS)
        except SystemFailure as e:
            return f"{e.errno} {e}"
        return "loaded"

    out, sig = in_child(body)
    assert sig is None
    assert out.startswith(f"{errno.EACCES} cannot load the seccomp filter"), out
    assert "CAP_SYS_ADMIN" in out and "noNewPrivileges" in out
    # With CAP_SYS_ADMIN (root, no no_new_privs) it loads.
    assert load_then(MKDIR_ENOSYS, os.getcwd, nnp=False) == ("0", None)


@needs_lib
def test_full_init_sequence_non_root_with_seccomp(scratch: str) -> None:
    """drop bounding, KEEPCAPS, setuid, capset, ambient, no_new_privs, seccomp, execve."""
    config = {k: list(TWO) for k in caps.SET_NAMES} | {"bounding": FIVE}
    sets = caps.parse(config)
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(out_r)
            caps.drop_bounding(sets)
            syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 1)
            os.setgroups([])
            os.setresgid(1000, 1000, 1000)
            os.setresuid(1000, 1000, 1000)
            syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 0)
            caps.apply(sets)
            syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
            seccomp.load(MKDIR_ENOSYS)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os.execv("/bin/sh", ["sh", "-c", f"cat /proc/self/status; mkdir {scratch}/d; echo mkdir=$?"])
        finally:
            os._exit(1)
    os.close(out_w)
    with os.fdopen(out_r) as f:
        text = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, text
    st = parse_status(text)
    assert caps.names(st["CapEff"]) == caps.names(st["CapAmb"]) == ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
    assert st["Seccomp"] == 2 and st["NoNewPrivs"] == 1
    assert "Function not implemented" in text and "mkdir=1" in text


# --- the same programs as runc ---------------------------------------------------------------------

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_SECCOMP_GET_FILTER = 0x420C


def read_filter(pid: int) -> bytes:
    """The newest seccomp filter of ``pid`` as cBPF (needs CAP_SYS_ADMIN and CONFIG_CHECKPOINT_RESTORE)."""
    ptrace = libc.ptrace
    ptrace.restype = ctypes.c_long
    ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]

    def check(ret: int, what: str) -> int:
        if ret < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")
        return ret

    check(ptrace(PTRACE_SEIZE, pid, None, None), "PTRACE_SEIZE")
    try:
        check(ptrace(PTRACE_INTERRUPT, pid, None, None), "PTRACE_INTERRUPT")
        os.waitpid(pid, 0x40000000)  # __WALL: the tracee is not our child
        count = check(ptrace(PTRACE_SECCOMP_GET_FILTER, pid, None, None), "PTRACE_SECCOMP_GET_FILTER")
        buf = ctypes.create_string_buffer(count * 8)
        count = check(ptrace(PTRACE_SECCOMP_GET_FILTER, pid, None, buf), "PTRACE_SECCOMP_GET_FILTER")
        return buf.raw[: count * 8]
    finally:
        ptrace(PTRACE_DETACH, pid, None, None)


@contextlib.contextmanager
def runc_container(bundle_dir: str) -> Iterator[int]:
    """``runc run --detach``; yields the container process's host pid; force-deletes it after."""
    assert RUNC is not None
    root = tempfile.mkdtemp(prefix="dockyard-runc-root-")
    cid = f"dy-{uuid.uuid4().hex[:12]}"
    try:
        # A file, not a pipe, for stderr: the detached container inherits it and would hold a
        # pipe open until it exits.
        with tempfile.TemporaryFile() as err:
            res = subprocess.run(
                [RUNC, "--root", root, "run", "--detach", "--bundle", bundle_dir, cid],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                timeout=60,
            )
            err.seek(0)
            assert res.returncode == 0, err.read().decode()
        state = json.loads(subprocess.check_output([RUNC, "--root", root, "state", cid], timeout=30))
        yield int(state["pid"])
    finally:
        subprocess.run([RUNC, "--root", root, "delete", "--force", cid], capture_output=True, timeout=30)
        shutil.rmtree(root, ignore_errors=True)


PROFILES: dict[str, Callable[[], dict[str, Any]]] = {
    "mkdir-enosys": lambda: MKDIR_ENOSYS,
    "personality-or": lambda: {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            {
                "names": ["personality"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": 22,
                "args": [
                    {"index": 0, "value": 0xFFFFFFFF, "op": "SCMP_CMP_EQ"},
                    {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                ],
            },
            {"names": ["mkdir"], "action": "SCMP_ACT_KILL_PROCESS"},
        ],
    },
    "allowlist-three-archs": _allow_all_but_mkdir,
    "allowlist-masked-and": lambda: {
        **_allow_all_but_mkdir(),
        "defaultErrnoRet": 13,
        "syscalls": [
            *_allow_all_but_mkdir()["syscalls"],
            {
                "names": ["clone"],
                "action": "SCMP_ACT_ERRNO",
                "args": [
                    {"index": 0, "value": 0x7E020000, "valueTwo": 0x10000000, "op": "SCMP_CMP_MASKED_EQ"}
                ],
            },
            {
                "names": ["socket"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": 97,
                "args": [
                    {"index": 0, "value": 40, "op": "SCMP_CMP_EQ"},
                    {"index": 1, "value": 2, "op": "SCMP_CMP_GE"},
                ],
            },
        ],
    },
}


def grid_args(cfg: dict[str, Any]) -> list[tuple[int, ...]]:
    """Argument tuples around every value the profile compares with."""
    values = {0, 1, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF}
    for rule in cfg.get("syscalls") or []:
        for arg in rule.get("args") or []:
            for v in (arg["value"], arg.get("valueTwo") or 0, arg["value"] | (arg.get("valueTwo") or 0)):
                values |= {v, v + 1, max(v - 1, 0)}
    return [(v, w) for v in sorted(values) for w in (0, 1, 2, 3, 40)]


@needs_lib
@needs_runc
@pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers of x86_64")
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_program_equals_runcs(profile: str, bundle: BundleFactory) -> None:
    cfg = PROFILES[profile]()
    bundle_dir = bundle(["sleep", "60"], linux={"seccomp": cfg})
    with runc_container(bundle_dir) as pid:
        try:
            theirs = read_filter(pid)
        except OSError as e:
            pytest.skip(f"cannot read runc's filter back: {e}")
    ours = seccomp.export_bpf(cfg)
    args_grid = grid_args(cfg)
    differences = []
    for arch in (AUDIT_X86_64, AUDIT_I386, AUDIT_AARCH64):
        numbers = (
            list(range(600)) + [n | X32_BIT for n in range(600)] if arch == AUDIT_X86_64 else list(range(600))
        )
        for nr in numbers:
            for args in args_grid if nr in (56, 41, 135, 102, 120, 136, 359) else [(0, 0)]:
                a, b = seccomp.evaluate(theirs, nr, arch, args), seccomp.evaluate(ours, nr, arch, args)
                if a != b:
                    differences.append((hex(arch), nr, args, hex(a), hex(b)))
    assert differences == [], differences[:20]
