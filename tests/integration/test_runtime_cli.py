"""dockyard-runtime's own command line: what engines read from it, and its security guarantees.

Behaviour shared with runc lives in tests/compat (one suite, both runtimes); this file holds what
is ours alone (messages, log format, features) and the escape checks, run against runc as well
where runc has the same duty.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BundleFactory, Runtime

ours = pytest.mark.parametrize("runtime", ["dockyard"], indirect=True)
both = pytest.mark.parametrize("runtime", ["dockyard", "runc"], indirect=True)


def _run_detached(runtime: Runtime, bundle_path: str, cid: str) -> None:
    # No pipes: the container inherits the runtime's stdio and would hold captured pipes open.
    subprocess.run(
        runtime.cmd("run", "--detach", "--bundle", bundle_path, cid),
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=30,
    )


def _wait_status(runtime: Runtime, cid: str, want: str, timeout: float = 10) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        doc: dict[str, object] = json.loads(runtime("state", cid, check=True).stdout)
        if doc["status"] == want or time.monotonic() > deadline:
            return doc
        time.sleep(0.02)


@ours
def test_version_names_the_spec(runtime: Runtime) -> None:
    out = runtime("--version", check=True).stdout
    lines = out.splitlines()
    # dockerd parses "<name> version <v>" then "commit:" and "spec:" lines, as runc prints them.
    assert lines[0].startswith("dockyard-runtime version ")
    assert any(line.startswith("spec: 1.") for line in lines)


@ours
def test_features_document(runtime: Runtime) -> None:
    doc = json.loads(runtime("features", check=True).stdout)
    assert doc["ociVersionMin"].startswith("1.0")
    assert "prestart" in doc["hooks"] and "poststop" in doc["hooks"]
    assert "CAP_SYS_ADMIN" in doc["linux"]["capabilities"]
    assert set(doc["linux"]["namespaces"]) >= {"pid", "network", "mount", "ipc", "uts", "user", "cgroup"}
    assert doc["linux"]["seccomp"]["enabled"] is True


@ours
def test_spec_writes_default_config_once(runtime: Runtime, tmp_path: str) -> None:
    runtime("spec", "--bundle", str(tmp_path), check=True)
    cfg = json.loads(Path(os.path.join(tmp_path, "config.json")).read_text())
    assert cfg["process"]["args"] == ["sh"]
    again = runtime("spec", "--bundle", str(tmp_path))
    assert again.returncode != 0 and "exists" in again.stderr


@ours
def test_systemd_cgroup_without_systemd_is_a_clear_error(runtime: Runtime, bundle: BundleFactory) -> None:
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("this host runs systemd")
    res = runtime("--systemd-cgroup", "run", "--bundle", bundle(), runtime.new_id())
    assert res.returncode != 0
    assert "systemd" in res.stderr and "no /run/systemd/system" in res.stderr


@ours
def test_json_log_carries_the_error(runtime: Runtime, bundle: BundleFactory, tmp_path: str) -> None:
    b = bundle(process={"args": []})
    log = os.path.join(tmp_path, "log.json")
    res = runtime("--log", log, "--log-format", "json", "create", "--bundle", b, runtime.new_id())
    assert res.returncode != 0
    entries = [json.loads(line) for line in Path(log).read_text().splitlines()]
    assert entries[-1]["level"] == "error"
    assert "process.args" in entries[-1]["msg"]
    assert "time" in entries[-1]


@ours
def test_missing_program_is_reported_at_create(runtime: Runtime, bundle: BundleFactory) -> None:
    # dockerd maps runc's wording to exit code 127 (not found); create must fail, not start.
    res = runtime("create", "--bundle", bundle(["no-such-program"]), runtime.new_id())
    assert res.returncode != 0
    assert "executable file not found in $PATH" in res.stderr
    assert runtime("list", "--format", "json", check=True).stdout.strip() in ("[]", "null")


@both
def test_exec_with_process_file_detached(runtime: Runtime, bundle: BundleFactory, tmp_path: str) -> None:
    cid = runtime.new_id()
    b = bundle(["sleep", "30"])
    _run_detached(runtime, b, cid)
    out = os.path.join(b, "rootfs", "tmp", "exec-out")
    proc = {
        "args": ["sh", "-c", "echo exec-$$ > /tmp/exec-out; id -u >> /tmp/exec-out"],
        "cwd": "/",
        "env": ["PATH=/bin"],
        "user": {"uid": 1000, "gid": 1000},
        "terminal": False,
    }
    pfile = os.path.join(tmp_path, "process.json")
    with open(pfile, "w") as f:
        json.dump(proc, f)
    pidfile = os.path.join(tmp_path, "exec.pid")
    subprocess.run(
        runtime.cmd("exec", "--process", pfile, "--detach", "--pid-file", pidfile, cid),
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        timeout=30,
    )
    assert int(Path(pidfile).read_text()) > 0
    deadline = time.monotonic() + 10
    while not (os.path.exists(out) and len(Path(out).read_text().splitlines()) == 2):
        assert time.monotonic() < deadline, "exec'd process did not write its output"
        time.sleep(0.02)
    lines = Path(out).read_text().splitlines()
    assert lines[0].startswith("exec-") and lines[0] != "exec-1"
    assert lines[1] == "1000"


@both
def test_exec_foreground_returns_exit_code(runtime: Runtime, bundle: BundleFactory) -> None:
    cid = runtime.new_id()
    _run_detached(runtime, bundle(["sleep", "30"]), cid)
    res = runtime("exec", cid, "sh", "-c", "echo in-$(hostname); exit 5")
    assert res.returncode == 5
    assert res.stdout.strip().startswith("in-")


# Ours only: runc 1.1.5's `runc init` (a cloned binary) lets a process in the container follow its
# fds (opening its exec fifo blocks this very test), so the check is not run against it.
@ours
def test_init_interpreter_cannot_be_reached_from_the_container(
    runtime: Runtime, bundle: BundleFactory
) -> None:
    """CVE-2019-5736 class: while the init is still the runtime's own process (created, waiting
    for start), nothing in the container may open its /proc/<pid>/exe or fds for writing."""
    cid = runtime.new_id()
    subprocess.run(
        runtime.cmd("create", "--bundle", bundle(["true"]), cid),
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=30,
    )
    assert _wait_status(runtime, cid, "created")["status"] == "created"
    res = runtime(
        "exec",
        cid,
        "sh",
        "-c",
        # Listing /proc/1/fd is allowed to root by its mode; following an entry, or /proc/1/exe,
        # takes a ptrace access check that a non-dumpable process refuses.
        "for t in /proc/1/exe /proc/1/mem /proc/1/fd/*; do (echo x >> $t) 2>/dev/null && echo WROTE $t;"
        " readlink $t >/dev/null 2>&1 && echo FOLLOWED $t; done; echo checked $(ls /proc/1/fd | wc -l) fds",
    )
    assert res.returncode == 0, res.stderr
    assert "checked" in res.stdout
    assert "WROTE" not in res.stdout
    assert "FOLLOWED" not in res.stdout


@both
def test_mount_through_escaping_symlink_stays_inside(
    runtime: Runtime, bundle: BundleFactory, tmp_path: str
) -> None:
    """CVE-2021-30465 class: a mount destination under a symlink pointing out of the rootfs is
    resolved inside the rootfs; nothing appears outside it."""
    outside = os.path.join(tmp_path, "outside")
    os.mkdir(outside)
    b = bundle(
        ["sh", "-c", "ls -d /evil/sub && grep -c ' /evil' /proc/self/mounts || true"],
        mounts=[
            *_default_mounts(),
            {"destination": "/evil/sub", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]},
        ],
    )
    os.symlink(outside, os.path.join(b, "rootfs", "evil"))  # absolute: /<tmp>/outside on the host
    res = runtime("run", "--bundle", b, runtime.new_id())
    assert res.returncode == 0, res.stderr
    assert os.listdir(outside) == []
    with open("/proc/self/mountinfo") as f:
        assert outside not in f.read()


def _default_mounts() -> list[dict[str, object]]:
    from tests.conftest import base_spec

    return list(base_spec()["mounts"])


@both
def test_preserve_fds_passes_extra_fd(runtime: Runtime, bundle: BundleFactory, tmp_path: str) -> None:
    src = os.path.join(tmp_path, "payload")
    with open(src, "w") as f:
        f.write("through-fd-3\n")
    cmd = runtime.cmd(
        "run", "--preserve-fds", "1", "--bundle", bundle(["sh", "-c", "cat <&3"]), runtime.new_id()
    )
    # The shell opens the payload as fd 3 and execs the runtime, as an engine passing fds would.
    res = subprocess.run(
        ["sh", "-c", 'exec 3<"$0"; exec "$@"', src, *cmd],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == "through-fd-3\n"


@ours
def test_delete_force_of_unknown_container_succeeds(runtime: Runtime) -> None:
    assert runtime("delete", "--force", "never-existed").returncode == 0
    res = runtime("delete", "never-existed")
    assert res.returncode != 0 and "does not exist" in res.stderr


@ours
def test_seccomp_notify_is_refused_clearly(runtime: Runtime, bundle: BundleFactory) -> None:
    b = bundle(
        linux={
            "seccomp": {
                "defaultAction": "SCMP_ACT_ALLOW",
                "listenerPath": "/run/x.sock",
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}],
            }
        }
    )
    res = runtime("run", "--bundle", b, runtime.new_id())
    assert res.returncode != 0
    assert "NOTIFY" in res.stderr


@both
def test_sysctl_in_new_network_namespace(runtime: Runtime, bundle: BundleFactory) -> None:
    b = bundle(
        ["cat", "/proc/sys/net/ipv4/ip_default_ttl"], linux={"sysctl": {"net.ipv4.ip_default_ttl": "42"}}
    )
    res = runtime("run", "--bundle", b, runtime.new_id())
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "42"
    assert Path("/proc/sys/net/ipv4/ip_default_ttl").read_text().strip() != "42"


@ours  # runc 1.1.5 predates linux.personality (runc 1.2)
def test_personality_linux32(runtime: Runtime, bundle: BundleFactory) -> None:
    res = runtime(
        "run",
        "--bundle",
        bundle(["uname", "-m"], linux={"personality": {"domain": "LINUX32"}}),
        runtime.new_id(),
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() in ("i686", "armv8l", "armv7l")


@ours
@pytest.mark.parametrize(
    ("override", "words"),
    [
        ({"process": {"apparmorProfile": "docker-default"}}, "AppArmor is not enabled"),
        ({"process": {"selinuxLabel": "system_u:system_r:container_t:s0:c1,c2"}}, "SELinux is not enabled"),
        ({"linux": {"mountLabel": "system_u:object_r:container_file_t:s0"}}, "SELinux is not enabled"),
        ({"process": {"oomScoreAdj": -500}}, "CAP_SYS_RESOURCE"),
    ],
)
def test_lsm_and_privilege_requests_fail_clearly(
    runtime: Runtime, bundle: BundleFactory, override: dict[str, Any], words: str
) -> None:
    apparmor = Path("/sys/module/apparmor/parameters/enabled")
    if "AppArmor" in words and apparmor.exists() and apparmor.read_text().strip() == "Y":
        pytest.skip("this host has AppArmor enabled")
    if "SELinux" in words and os.path.exists("/sys/fs/selinux/enforce"):
        pytest.skip("this host has SELinux")
    res = runtime("run", "--bundle", bundle(**override), runtime.new_id())
    assert res.returncode != 0
    assert words in res.stderr
    assert runtime("list", "-q", check=True).stdout.strip() == ""


@both
def test_events_stats_one_sample(runtime: Runtime, bundle: BundleFactory) -> None:
    cid = runtime.new_id()
    _run_detached(runtime, bundle(["sleep", "30"]), cid)
    doc = json.loads(runtime("events", "--stats", cid, check=True).stdout)
    assert doc["type"] == "stats" and doc["id"] == cid
    assert doc["data"]["pids"]["current"] >= 1
    assert doc["data"]["memory"]["usage"]["usage"] > 0


@both
def test_foreground_run_with_terminal_proxies_the_pty(runtime: Runtime, bundle: BundleFactory) -> None:
    """`run` in the foreground with process.terminal and no --console-socket: the runtime holds
    the pty master itself and copies it to its own stdio (util-linux `script` gives it a tty)."""
    b = bundle(["sh", "-c", "tty; echo through-pty"], terminal=True)
    cmd = " ".join(runtime.cmd("run", "--bundle", b, runtime.new_id()))
    res = subprocess.run(
        ["script", "-qec", cmd, "/dev/null"],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    lines = [line.strip("\r\x00^@") for line in res.stdout.splitlines()]
    assert any(line.startswith("/dev/pts/") for line in lines), res.stdout
    assert "through-pty" in lines


@both
def test_update_by_flags_and_by_resources_json(
    runtime: Runtime, bundle: BundleFactory, tmp_path: str
) -> None:
    cid = runtime.new_id()
    cg = f"/dockyard-test-update-{cid}"
    b = bundle(["sleep", "30"], linux={"cgroupsPath": cg, "resources": {"pids": {"limit": 100}}})
    _run_detached(runtime, b, cid)
    runtime("update", "--pids-limit", "42", "--memory", "64m", cid, check=True)
    assert Path(f"/sys/fs/cgroup/pids{cg}/pids.max").read_text().strip() == "42"
    assert int(Path(f"/sys/fs/cgroup/memory{cg}/memory.limit_in_bytes").read_text()) == 64 << 20
    # containerd and dockerd send linux.resources as JSON on stdin.
    res = runtime("update", "--resources", "-", cid, input=json.dumps({"pids": {"limit": 7}}))
    assert res.returncode == 0, res.stderr
    assert Path(f"/sys/fs/cgroup/pids{cg}/pids.max").read_text().strip() == "7"


@ours
def test_seccomp_programs_are_cached_and_checked(runtime: Runtime, bundle: BundleFactory) -> None:
    """The compiled program is kept under --root and used by the next container with that profile;
    a damaged entry is compiled again, never installed."""
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}],
    }
    b = bundle(["sh", "-c", "mkdir /tmp/x; echo mkdir=$?"], linux={"seccomp": profile})
    cache = Path(runtime.root) / "seccomp:cache"

    def denied() -> None:
        res = runtime("run", "--bundle", b, runtime.new_id())
        assert res.returncode == 0, res.stderr
        assert "mkdir=1" in res.stdout and "Function not implemented" in res.stderr, res

    denied()
    (entry,) = cache.glob("*.bpf")
    first = entry.stat()
    denied()  # from the cache: the entry is read, not rewritten
    assert entry.stat().st_ino == first.st_ino and entry.stat().st_mtime_ns == first.st_mtime_ns
    data = bytearray(entry.read_bytes())
    data[-10] ^= 0xFF  # one byte of the next-to-last instruction's constant
    entry.write_bytes(bytes(data))
    denied()  # the checksum no longer matches: compiled again, and the entry replaced
    assert entry.read_bytes() != bytes(data)
    assert "seccomp:cache" not in runtime("list", check=True).stdout
