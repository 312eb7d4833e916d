"""Scenario 6: escape attempts from a default container, each refused, and by which defence.

The prober (prober.c) makes each attempt inside an attacker container and prints the errno; the
test then asks the defence it expects about the attacker's init (defences.py): the seccomp
filter the kernel runs for it, its capabilities, its mount table, its device cgroup. No LSM is
loaded on this host, so no attempt may rely on AppArmor or SELinux. Runs against dockyard and
dockerd alike (the ``engine`` fixture).
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from dockyard.util import syscalls
from tests.isolation import defences
from tests.isolation.engines import Engine, wait_for

pytestmark = pytest.mark.root

CLONE_NEWUSER = 0x10000000
AF_INET, SOCK_RAW, IPPROTO_ICMP = 2, 3, 1
KEYCTL_JOIN_SESSION_KEYRING = 1


def parse(output: str) -> dict[str, dict[str, str]]:
    """'name k=v k=v' lines -> {name: {k: v}}; masked paths keyed "masked <path>"."""
    out: dict[str, dict[str, str]] = {}
    for line in output.splitlines():
        head, *rest = line.split()
        fields = dict(item.split("=", 1) for item in rest if "=" in item)
        key = f"masked {fields['path']}" if head == "masked" else head
        out[key] = fields
    return out


def errno_name(n: int) -> str:
    return errno.errorcode[n]


@pytest.fixture
def attacker(engine: Engine, names: Callable[[str], str], prober: Path) -> tuple[str, int]:
    name = names("attacker")
    engine.run(name, "-v", f"{prober}:/prober:ro", command=["sleep", "600"])
    return name, engine.pid(name)


def test_escape_attempts_refused(engine: Engine, attacker: tuple[str, int]) -> None:
    name, pid = attacker
    with tempfile.NamedTemporaryFile(prefix="dockyard-host-marker-", dir="/tmp") as marker:
        daemon_pid = engine.daemon_pids()[0]
        res = engine.docker("exec", name, "/prober", "escapes", marker.name, engine.socket, str(daemon_pid))
    seen = parse(res.stdout)
    program = defences.read_filter(pid)
    caps = defences.effective_caps(pid)

    def refused_by_seccomp(probe: str, syscall: str, *args: int) -> None:
        assert seen[probe]["err"] == "EPERM", (probe, seen[probe])
        assert defences.seccomp_errno(program, syscall, *args) == errno.EPERM, f"{probe}: not seccomp's"

    # seccomp: the default profile refuses these before the kernel looks at anything else.
    refused_by_seccomp("mount", "mount")
    refused_by_seccomp("umount", "umount2")
    refused_by_seccomp("keyctl", "keyctl", KEYCTL_JOIN_SESSION_KEYRING)
    refused_by_seccomp("unshare-user", "unshare", CLONE_NEWUSER)
    refused_by_seccomp("kernel-module", "finit_module")
    refused_by_seccomp("set-time", "clock_settime")
    refused_by_seccomp("open-by-handle", "open_by_handle_at")
    # ...and the capabilities behind them are missing too (the second wall).
    for cap in ("CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_SYS_TIME", "CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE"):
        assert cap not in caps, cap

    # Read-only paths: /proc/sys is a read-only bind in the container; EROFS from the mount.
    assert seen["proc-sys"]["err"] == "EROFS" and defences.is_read_only(pid, "/proc/sys")
    if os.path.exists("/proc/sysrq-trigger"):
        assert seen["sysrq-trigger"]["err"] == "EROFS" and defences.is_read_only(pid, "/proc/sysrq-trigger")
    else:  # CONFIG_MAGIC_SYSRQ is off on this kernel: nothing to write to
        assert seen["sysrq-trigger"]["err"] == "ENOENT"

    # Masked paths: /dev/null bound over them, so a read finds nothing.
    for path in ("/proc/kcore", "/proc/keys", "/proc/timer_list"):
        got = seen[f"masked {path}"]
        if os.path.exists(path):
            assert got["err"] == "0" and got["bytes"] == "0" and got["rdev"] == "1:3", (path, got)
            assert defences.is_masked(pid, path), path
        else:  # not built into this kernel (CONFIG_PROC_KCORE off): absent in the container too
            assert got["err"] == "ENOENT", (path, got)

    # The pid namespace: a host pid does not exist in the container (seccomp allows ptrace on
    # kernels >= 4.8, where it can no longer be used to bypass the filter).
    assert defences.seccomp_errno(program, "ptrace") is None
    assert seen["ptrace-host"]["err"] == "ESRCH"

    # The device cgroup: CAP_MKNOD makes the node, the cgroup refuses to open it (as Docker).
    assert seen["mknod-block"]["mknod"] == "0" and seen["mknod-block"]["open"] == "EPERM"
    assert not defences.device_allowed(pid, "b", 8, 0, "r")

    # The mount namespace: the daemon's socket and a host file are not in the container's tree,
    # also after the classic chroot escape (chroot is allowed: CAP_SYS_CHROOT is a default).
    assert seen["daemon-socket"]["err"] == "ENOENT"
    assert seen["chroot-escape"]["host-visible"] == "0"
    # ...and the container was born with no descriptor beyond stdio to climb out through.
    assert seen["leaked-fds"]["count"] == "0", res.stdout


def test_raw_socket_without_net_raw(engine: Engine, names: Callable[[str], str], prober: Path) -> None:
    name = names("raw")
    engine.run(name, "--cap-drop", "NET_RAW", "-v", f"{prober}:/prober:ro", command=["sleep", "600"])
    pid = engine.pid(name)
    res = engine.docker("exec", name, "/prober", "raw-socket")
    assert parse(res.stdout)["raw-socket"]["err"] == "EPERM"
    # seccomp lets socket(AF_INET, SOCK_RAW) through: the refusal is the missing capability's.
    assert (
        defences.seccomp_errno(defences.read_filter(pid), "socket", AF_INET, SOCK_RAW, IPPROTO_ICMP) is None
    )
    assert "CAP_NET_RAW" not in defences.effective_caps(pid)


def test_runtime_binary_not_writable_through_proc_exe(engine: Engine, attacker: tuple[str, int]) -> None:
    """CVE-2019-5736: while execs enter the container, the attacker looks for the runtime's
    process and reopens its executable (/proc/PID/exe, via an O_PATH fd) for writing. The runtime
    is not dumpable while it is in the container, so the kernel refuses it the link."""
    name, _ = attacker
    result: dict[str, str] = {}

    def watch() -> None:
        result["out"] = engine.docker("exec", name, "/prober", "exe-watch", "4", timeout=60).stdout

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        wait_for(lambda: "prober" in engine.docker("top", name).stdout, 10, "the watcher to run")
        execs = 0
        while watcher.is_alive() and execs < 30:
            engine.docker("exec", name, "true")
            execs += 1
    finally:
        watcher.join(60)
    line = parse(result["out"])["exe-overwrite"]
    assert int(line["writable"]) == 0, result["out"]
    assert int(line["seen"]) > 0 and execs > 0


def test_mount_destination_swapped_for_symlink(
    engine: Engine, names: Callable[[str], str], prober: Path
) -> None:
    """CVE-2021-30465: a container swaps a folder of a shared volume with a symlink to /host/path
    while another container starting with a tmpfs inside that folder is being set up. The runtime
    must resolve every mount destination inside the new container's root: the host's folder the
    symlink names never gets a mount, whatever the race's outcome."""
    volume = names("vol")
    engine.docker("volume", "create", volume)
    target = Path(tempfile.mkdtemp(prefix="dockyard-swap-target-", dir="/tmp"))
    try:
        (target / "t").mkdir()
        setup = names("setup")
        engine.docker(
            "run", "--rm", "--network", "none", "--name", setup, "-v", f"{volume}:/v", engine.image,
            "sh", "-c", f"mkdir -p /v/d/t && ln -s {target} /v/link",
        )  # fmt: skip
        swapper = names("swapper")
        engine.run(
            swapper,
            "-v",
            f"{volume}:/v",
            "-v",
            f"{prober}:/prober:ro",
            command=["/prober", "swap", "/v", "4"],
        )
        attempts = 0
        while engine.inspect(swapper)["State"]["Running"] and attempts < 12:
            attempts += 1
            engine.docker(
                "run", "--rm", "--network", "none", "-v", f"{volume}:/v", "--tmpfs", "/v/d/t",
                engine.image, "true", check=False, timeout=60,
            )  # fmt: skip
            assert not _mounted_at(target / "t"), f"{engine.name}: a tmpfs landed on the host at {target}/t"
        engine.docker("wait", swapper)
        swaps = parse(engine.docker("logs", swapper).stdout)["swap"]["count"]
        assert attempts > 0 and int(swaps) > 0, "the race did not run"
    finally:
        engine.docker("rm", "-f", *engine.made, check=False)
        engine.made.clear()
        engine.docker("volume", "rm", "-f", volume, check=False)
        for point in _mounts_under(target):
            syscalls.umount2(point, syscalls.MNT_DETACH)
        os.rmdir(target / "t")
        os.rmdir(target)


def _mounts_under(folder: Path) -> list[str]:
    out = []
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if point == str(folder) or point.startswith(f"{folder}/"):
                out.append(point)
    return sorted(out, key=len, reverse=True)


def _mounted_at(path: Path) -> bool:
    return str(path) in _mounts_under(path)


def test_custom_profile_and_unconfined(
    engine: Engine, names: Callable[[str], str], prober: Path, tmp_path: Path
) -> None:
    """``--security-opt seccomp=FILE`` in Docker's format replaces the default (here: the default
    without mkdir/mkdirat), and ``seccomp=unconfined`` drops the filter, leaving mount(2) to the
    missing CAP_SYS_ADMIN."""
    import json

    from dockyard.engine.seccomp_default import default_profile

    profile = default_profile()
    for rule in profile["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n not in ("mkdir", "mkdirat")]
    path = tmp_path / "no-mkdir.json"
    path.write_text(json.dumps(profile))
    res = engine.docker("run", "--rm", "--network", "none", "--security-opt", f"seccomp={path}", engine.image,
                        "sh", "-c", "mkdir /made; echo rc=$?", check=False)  # fmt: skip
    assert "Operation not permitted" in res.stderr + res.stdout and "rc=1" in res.stdout, res

    name = names("unconfined")
    engine.run(
        name, "--security-opt", "seccomp=unconfined", "-v", f"{prober}:/prober:ro", command=["sleep", "600"]
    )
    pid = engine.pid(name)
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        assert "Seccomp:\t0" in f.read()
    with tempfile.NamedTemporaryFile(prefix="dockyard-host-marker-", dir="/tmp") as marker:
        out = engine.docker("exec", name, "/prober", "escapes", marker.name, engine.socket, "1").stdout
    seen = parse(out)
    # No filter: the capability checks refuse these now, with the same errno...
    for probe in ("mount", "umount", "set-time"):
        assert seen[probe]["err"] == "EPERM", (probe, seen[probe])
    modules = os.path.exists("/proc/modules")  # ENOSYS on a kernel built without module loading
    assert seen["kernel-module"]["err"] == ("EPERM" if modules else "ENOSYS"), seen["kernel-module"]
    assert "CAP_SYS_ADMIN" not in defences.effective_caps(pid)
    # ...but a user namespace needs no capability on this kernel: the default profile is the
    # one defence against it (and the kernel attack surface it opens), with dockerd as with us.
    assert seen["unshare-user"]["err"] == "0"
