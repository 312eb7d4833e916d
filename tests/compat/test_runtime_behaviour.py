"""One behaviour suite for OCI runtimes, run against dockyard-runtime, runc and crun on the same bundles.

Each check starts one container from a busybox bundle (config.json based on ``runc spec``) and
asserts what the kernel shows from inside it or from the host. Where runc passes and dockyard fails,
the failure is dockyard's bug (issue 2, "Must show" item 3).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.compat import runtime_harness as h

pytestmark = pytest.mark.compat

BundleMaker = Callable[..., h.Bundle]


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


def ns_inode(link: str) -> str:
    """'net:[4026531840]' -> '4026531840'."""
    m = re.search(r"\[(\d+)\]", link)
    assert m, link
    return m.group(1)


def add_mount(cfg: dict[str, Any], destination: str, type_: str, source: str, options: list[str]) -> None:
    cfg["mounts"].append({"destination": destination, "type": type_, "source": source, "options": options})


def tmpfs_tmp(cfg: dict[str, Any]) -> None:
    add_mount(cfg, "/tmp", "tmpfs", "tmpfs", ["nosuid", "nodev", "mode=1777"])


# --- namespaces ----------------------------------------------------------------------------------


# config.json namespace type -> /proc/<pid>/ns/<name>
NS_PROC = {
    "pid": "pid",
    "network": "net",
    "ipc": "ipc",
    "uts": "uts",
    "mount": "mnt",
    "user": "user",
    "cgroup": "cgroup",
}


def test_namespaces_are_separate(oci_runtime: h.Runtime, bundle_maker: BundleMaker) -> None:
    kinds = list(NS_PROC.values())
    script = "echo pid1=$$; " + "".join(f"echo {k}=$(readlink /proc/self/ns/{k}); " for k in kinds)
    script += "echo ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ,)"
    bundle = bundle_maker(sh(script))
    configured = {NS_PROC[ns["type"]] for ns in bundle.config["linux"]["namespaces"]}
    assert configured == {"pid", "net", "ipc", "uts", "mnt"}  # runc spec's set
    res = oci_runtime.run(bundle).check()
    seen = dict(line.split("=", 1) for line in res.stdout.splitlines() if "=" in line)
    assert seen["pid1"] == "1"
    for kind in kinds:
        host = ns_inode(os.readlink(f"/proc/self/ns/{kind}"))
        inside = ns_inode(seen[kind])
        if kind in configured:
            assert inside != host, f"{kind} namespace is the host's"
        else:
            assert inside == host, f"{kind} namespace was not configured but differs from the host's"
    # A new network namespace holds only the loopback device.
    assert seen["ifaces"].strip(",").split(",") == ["lo"]


def test_join_network_namespace_by_path(oci_runtime: h.Runtime, bundle_maker: BundleMaker) -> None:
    with h.netns() as name:
        subprocess.run(
            ["ip", "-n", name, "link", "add", "dyc0", "type", "veth", "peer", "name", "dyc1"],
            check=True,
            capture_output=True,
        )
        nspath = f"/run/netns/{name}"

        def join(cfg: dict[str, Any]) -> None:
            for ns in cfg["linux"]["namespaces"]:
                if ns["type"] == "network":
                    ns["path"] = nspath

        script = "readlink /proc/self/ns/net; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort"
        res = oci_runtime.run(bundle_maker(sh(script), join)).check()
        lines = res.stdout.split()
        assert ns_inode(lines[0]) == str(os.stat(nspath).st_ino)
        assert lines[1:] == ["dyc0", "dyc1", "lo"]


def test_join_pid_namespace_by_path(
    oci_runtime: h.Runtime, bundle_maker: BundleMaker, cgroup_path: Callable[[], str]
) -> None:
    """A second container joins the first one's pid namespace (a pod's shared pid namespace)."""
    first = h.unique_id()
    oci_runtime.create(_lifecycle_bundle(bundle_maker, cgroup_path), first).check()
    oci_runtime.start(first).check()
    pid = oci_runtime.state(first)["pid"]
    nspath = f"/proc/{pid}/ns/pid"

    def join(cfg: dict[str, Any]) -> None:
        for ns in cfg["linux"]["namespaces"]:
            if ns["type"] == "pid":
                ns["path"] = nspath

    script = "echo $$; readlink /proc/self/ns/pid; tr '\\0' ' ' < /proc/1/cmdline"
    res = oci_runtime.run(bundle_maker(sh(script), join)).check()
    lines = res.stdout.splitlines()
    assert int(lines[0]) > 1  # the namespace's pid 1 is the first container's init
    assert lines[1] == os.readlink(nspath)
    assert lines[2].split() == ["sleep", "30"]
    # The runtime forked later processes into its own pid namespace again, not the container's.
    assert oci_runtime.state(first)["status"] == "running"


def test_new_cgroup_namespace(
    oci_runtime: h.Runtime, bundle_maker: BundleMaker, cgroup_path: Callable[[], str]
) -> None:
    """A cgroup namespace is rooted at the container's own cgroup, in every hierarchy."""
    path = cgroup_path()

    def cgroupns(cfg: dict[str, Any]) -> None:
        cfg["linux"]["namespaces"].append({"type": "cgroup"})
        cfg["linux"]["cgroupsPath"] = path

    script = "readlink /proc/self/ns/cgroup; cat /proc/self/cgroup; "
    script += "echo procs=$(cat /sys/fs/cgroup/pids/cgroup.procs)"
    res = oci_runtime.run(bundle_maker(sh(script), cgroupns)).check()
    lines = res.stdout.splitlines()
    assert ns_inode(lines[0]) != ns_inode(os.readlink("/proc/self/ns/cgroup"))
    memberships = [line.split(":", 2) for line in lines[1:] if not line.startswith("procs=")]
    assert memberships, res.stdout
    for _, controllers, cgroup in memberships:
        assert cgroup == "/", f"{controllers or 'cgroup2'}: {cgroup} is not the namespace's root"
    # The pids hierarchy mounted inside shows the container's cgroup as its root: the init (and
    # the `cat` reading it) are in it.
    assert "1" in lines[-1].split("=", 1)[1].split(), res.stdout


def test_hostname(oci_runtime: h.Runtime, bundle_maker: BundleMaker) -> None:
    def name(cfg: dict[str, Any]) -> None:
        cfg["hostname"] = "compat-host"

    res = oci_runtime.run(bundle_maker(sh("hostname; cat /proc/sys/kernel/hostname"), name)).check()
    assert res.stdout.split() == ["compat-host", "compat-host"]
    with open("/proc/sys/kernel/hostname") as f:
        assert f.read().strip() != "compat-host"


def test_domainname(oci_runtime: h.Runtime, bundle_maker: BundleMaker) -> None:
    def name(cfg: dict[str, Any]) -> None:
        cfg["domainname"] = "compat.example"

    res = oci_runtime.run(bundle_maker(sh("cat /proc/sys/kernel/domainname"), name)).check()
    if oci_runtime.name == "runc" and res.stdout.strip() == "(none)" and _runc_older_than(1, 2):
        pytest.xfail("runc before 1.2 ignores domainname (runtime-spec 1.0.2 config.md 'Domainname')")
    assert res.stdout.strip() == "compat.example"


def _runc_older_than(major: int, minor: int) -> bool:
    out = subprocess.run(["runc", "--version"], capture_output=True, text=True).stdout
    m = re.search(r"runc version (\d+)\.(\d+)", out)
    if m is None:
        return False
    return (int(m.group(1)), int(m.group(2))) < (major, minor)


# --- capabilities --------------------------------------------------------------------------------

CAPS_SCRIPT = "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' /proc/self/status; echo uid=$(id -u)"
STATUS_KEYS = {
    "CapInh": "inheritable",
    "CapPrm": "permitted",
    "CapEff": "effective",
    "CapBnd": "bounding",
    "CapAmb": "ambient",
}


def read_caps(output: str) -> dict[str, int]:
    caps = {}
    for line in output.splitlines():
        key, _, value = line.partition(":")
        if key in STATUS_KEYS:
            caps[STATUS_KEYS[key]] = int(value.strip(), 16)
    return caps


def check_caps(runtime: h.Runtime, bundle: h.Bundle) -> None:
    res = runtime.run(bundle).check()
    uid = bundle.config["process"]["user"]["uid"]
    assert f"uid={uid}" in res.stdout.split(), res.stdout
    want = {k: h.cap_mask(bundle.config["process"]["capabilities"].get(k, [])) for k in STATUS_KEYS.values()}
    got = read_caps(res.stdout)
    assert {k: hex(v) for k, v in got.items()} == {k: hex(v) for k, v in want.items()}


def test_capabilities_root(oci_runtime: h.Runtime, bundle_maker: BundleMaker) -> None:
    # For uid 0, execve makes permitted = effective = bounding | inheritable (capabilities(7),
    # "root" rules), so the configured sets are only all visible when they agree with that rule.
    full = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_RAW",
        "CAP_SETUID",
        "CAP_SETGID",
    ]
    some = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]

    def caps(cfg: dict[str, Any]) -> None:
        cfg["process"]["capabilities"] = {
            "bounding": full,
            "effective": full,
            "permitted": full,
            "inheritable": some,
            "ambient": some,
        }

    check_caps(oci_runtime, bundle_maker(sh(CAPS_SCRIPT), caps))


def test_capabilities_non_root_with_ambient(oci_runtime: h.Runtime, bundle_maker: BundleMaker) -> None:
    # For a non-root user, after execve permitted = effective = ambient (no file capabilities on
    # busybox); the bounding set stays as configured.
    bounding = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETUID"]
    ambient = ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]

    def caps(cfg: dict[str, Any]) -> None:
        cfg["process"]["user"] = {"uid": 1000, "gid": 1000}
        cfg["process"]["capabilities"] = {
            "bounding": bounding,
            "effective": ambient,
            "permitted": ambient,
            "inheritable": ambient,
            "ambient": ambient,
        }

    check_caps(oci_runtime, bundle_maker(sh(CAPS_SCRIPT), caps))


# --- masked and readonly paths -------------------------------------------------------------------

MASK_PROBES = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/latency_stats"]


def test_masked_paths_read_empty(oci_runtime: h.Runtime, bundle_maker: BundleMaker) -> None:
    # Masked files read as empty (a /dev/null bind), masked folders are an empty read-only tmpfs.
    # /home and /etc/hostname are in the rootfs and not empty, so they always show the mask; of
    # the kernel's files, only those this kernel has are probed (no /proc/kcore on every kernel).
    files = ["/etc/hostname"] + [p for p in MASK_PROBES if os.path.exists(p)]
    dirs = ["/home"] + (["/sys/firmware"] if os.listdir("/sys/firmware") else [])

    def mask(cfg: dict[str, Any]) -> None:
        cfg["linux"]["maskedPaths"] = sorted(set(cfg["linux"].get("maskedPaths", []) + files + dirs))

    script = "".join(f"echo {f}=$(wc -c < {f}); " for f in files)
    script += "".join(f"echo {d}=$(ls -A {d} | wc -l); " for d in dirs)
    script += "grep ' /home ' /proc/mounts >&2"
    bundle = bundle_maker(sh(script), mask)
    assert (bundle.rootfs / "etc" / "hostname").stat().st_size > 0
    assert os.listdir(bundle.rootfs / "home")
    res = oci_runtime.run(bundle).check()
    seen = dict(line.split("=", 1) for line in res.stdout.split())
    assert seen == dict.fromkeys(files + dirs, "0")
    assert res.stderr.split()[2] == "tmpfs", res.stderr


def test_readonly_paths_refuse_writes(oci_runtime: h.Runtime, bundle_maker: BundleMaker) -> None:
    # The root is writable here, so EROFS can only come from the readonly paths. The probes open
    # with O_TRUNC and write nothing: harmless were a path writable (/proc/sys/kernel/hostname
    # belongs to the container's UTS namespace anyway). /proc/sysrq-trigger only where the kernel
    # has it. `true >`, not `: >`: a failed redirection of a special builtin ends the shell.
    probes = {"/proc/sys": "/proc/sys/kernel/hostname", "/home": "/home/user/probe"}
    if os.path.exists("/proc/sysrq-trigger"):
        probes["/proc/sysrq-trigger"] = "/proc/sysrq-trigger"

    def readonly(cfg: dict[str, Any]) -> None:
        cfg["root"]["readonly"] = False
        cfg["linux"]["readonlyPaths"] = sorted(set(cfg["linux"].get("readonlyPaths", []) + list(probes)))

    script = "".join(f"true > {target}; echo {path}=$?; " for path, target in probes.items())
    script += "touch /tmp/control && echo control=ok; grep -E ' (" + "|".join(probes) + ") ' /proc/mounts"
    bundle = bundle_maker(sh(script), readonly)
    res = oci_runtime.run(bundle).check()
    lines = res.stdout.splitlines()
    status = dict(line.split("=", 1) for line in lines if line.split("=")[0] in [*probes, "control"])
    assert status == {**dict.fromkeys(probes, "1"), "control": "ok"}, res.output
    assert res.stderr.count("Read-only file system") == len(probes), res.stderr
    mounts = {f[1]: f[3].split(",") for f in map(str.split, lines) if len(f) > 3 and f[1] in probes}
    assert set(mounts) == set(probes), res.stdout
    assert all("ro" in opts for opts in mounts.values()), mounts
    assert not (bundle.rootfs / "home" / "user" / "probe").exists()


# --- seccomp -------------------------------------------------------------------------------------


def test_seccomp_denies_with_errno(oci_runtime: h.Runtime, bundle_maker: BundleMaker) -> None:
    def seccomp(cfg: dict[str, Any]) -> None:
        tmpfs_tmp(cfg)
        cfg["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}],
        }

    script = "mkdir /tmp/x; echo mkdir=$?; touch /tmp/y && echo touch=ok; ls /tmp"
    res = oci_runtime.run(bundle_maker(sh(script), seccomp)).check()
    assert "mkdir=1" in res.stdout and "touch=ok" in res.stdout, res.output
    assert "Function not implemented" in res.stderr  # errno 38, ENOSYS
    assert res.stdout.split()[-1] == "y"


# --- rlimits -------------------------------------------------------------------------------------


def test_rlimits_apply(oci_runtime: h.Runtime, bundle_maker: BundleMaker) -> None:
    def limits(cfg: dict[str, Any]) -> None:
        cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 777, "hard": 888}]

    res = oci_runtime.run(bundle_maker(sh("ulimit -n; ulimit -Hn"), limits)).check()
    assert res.stdout.split() == ["777", "888"]


def test_rlimit_above_host_hard_limit_fails(
    oci_runtime: h.Runtime, bundle_maker: BundleMaker, mark: str
) -> None:
    # Raising a hard limit needs CAP_SYS_RESOURCE, which root lacks on this kind of host.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("the host's RLIMIT_NOFILE hard limit is unlimited: nothing to exceed")
    if _has_cap_sys_resource():
        pytest.skip("this host's root has CAP_SYS_RESOURCE: raising the hard limit is allowed")

    def limits(cfg: dict[str, Any]) -> None:
        cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": hard + 1000, "hard": hard + 1000}]

    cid = h.unique_id()
    res = oci_runtime.run(bundle_maker(sh("echo started"), limits), cid)
    assert res.returncode != 0
    assert "started" not in res.stdout
    if oci_runtime.name == "dockyard":
        assert "RLIMIT_NOFILE" in res.stderr, res.stderr
    assert not oci_runtime.has_state(cid)
    assert not h.marked_processes(mark)


def _has_cap_sys_resource() -> bool:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) & h.cap_mask(["CAP_SYS_RESOURCE"]))
    return False


# --- user namespaces -----------------------------------------------------------------------------


def test_user_namespace_maps_ids(oci_runtime: h.Runtime, bundle_maker: BundleMaker) -> None:
    def userns(cfg: dict[str, Any]) -> None:
        cfg["root"]["readonly"] = False
        cfg["linux"]["namespaces"].append({"type": "user"})
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        # A cgroup v1 bind from inside a user namespace is not needed for this check.
        cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/sys/fs/cgroup"]

    bundle = bundle_maker(sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /created"), userns)
    subprocess.run(["chown", "-R", "-h", "100000:100000", str(bundle.rootfs)], check=True)
    res = oci_runtime.run(bundle).check()
    lines = [line.split() for line in res.stdout.splitlines()]
    assert lines == [["0", "100000", "65536"], ["0", "100000", "65536"], ["0"]]
    st = os.stat(bundle.rootfs / "created")
    assert (st.st_uid, st.st_gid) == (100000, 100000)


# --- hooks ---------------------------------------------------------------------------------------

HOOK_SCRIPT = '#!/bin/sh\nprintf "%s %s\\n" "$1" "$(cat)" >> "$2"\n'
HOOK_ORDER = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]


def test_hooks_run_in_order_with_state(
    oci_runtime: h.Runtime, bundle_maker: BundleMaker, compat_dir: Path
) -> None:
    """Each hook appends its name and the state it got on stdin to one log; so does the process.

    The order the spec fixes (runtime-spec lifecycle.md): prestart, createRuntime, createContainer
    during create; startContainer before the user process runs; poststart after it was started
    and poststop after it is gone. poststart and startContainer run in different processes, so
    their relative order is only fixed through the user process.
    """
    logdir = compat_dir / "hooklog"
    logdir.mkdir(mode=0o777)
    (logdir / "log").touch()
    script = compat_dir / "hook.sh"
    script.write_text(HOOK_SCRIPT)
    script.chmod(0o755)

    def hooks(cfg: dict[str, Any]) -> None:
        cfg["mounts"].append(
            {"destination": "/hooklog", "type": "bind", "source": str(logdir), "options": ["rbind", "rw"]}
        )
        cfg["hooks"] = {}
        for name in HOOK_ORDER:
            # startContainer's path resolves in the container (config.md "startContainer"), so it
            # is a copy inside the rootfs writing through the bind mount; the others are host paths.
            inside = name == "startContainer"
            path = "/hook.sh" if inside else str(script)
            log = "/hooklog/log" if inside else str(logdir / "log")
            cfg["hooks"][name] = [{"path": path, "args": ["hook.sh", name, log], "timeout": 10}]

    bundle = bundle_maker(sh("echo process {} >> /hooklog/log"), hooks)
    shutil.copy2(script, bundle.rootfs / "hook.sh")
    cid = h.unique_id()
    oci_runtime.run(bundle, cid).check()
    entries = []
    for line in (logdir / "log").read_text().splitlines():
        name, _, state = line.partition(" ")
        entries.append((name, json.loads(state)))
    order = [name for name, _ in entries]
    assert sorted(order) == sorted([*HOOK_ORDER, "process"]), order
    assert order[:3] == HOOK_ORDER[:3], order
    assert order.index("startContainer") < order.index("process"), order
    assert order[-1] == "poststop", order
    for name, state in entries:
        if name == "process":
            continue
        assert state["id"] == cid, (name, state)
        assert os.path.realpath(state["bundle"]) == os.path.realpath(bundle.path), (name, state)
        assert state["ociVersion"] and state["status"], (name, state)
        if name != "poststop":
            assert isinstance(state["pid"], int) and state["pid"] > 0, (name, state)
    states = dict(entries)
    assert states["prestart"]["status"] == states["createRuntime"]["status"] == "creating"
    assert states["poststop"]["status"] == "stopped"
    # The hooks run in the runtime's namespaces see the container's pid as the host sees it.
    # (createContainer and startContainer run inside: runc reports 1 there.)
    assert states["prestart"]["pid"] == states["createRuntime"]["pid"] == states["poststart"]["pid"]


PRESTART_CGROUP_SCRIPT = """#!/bin/sh
pid=$(sed -n 's/.*"pid": *\\([0-9]*\\).*/\\1/p')
cat /proc/$pid/cgroup > "$1"
pids=$(grep ':pids:' /proc/$pid/cgroup | cut -d: -f3)
echo "pids.max $(cat /sys/fs/cgroup/pids$pids/pids.max)" >> "$1"
"""


def test_prestart_hook_finds_the_init_in_its_cgroup_with_limits(
    oci_runtime: h.Runtime, bundle_maker: BundleMaker, cgroup_path: Callable[[], str], compat_dir: Path
) -> None:
    """prestart hooks run once the container's cgroup is set up (runtime-spec config.md "prestart"):
    the init is in it, in every hierarchy, and its limits are in force."""
    path = cgroup_path()
    log = compat_dir / "prestart-cgroup"
    script = compat_dir / "prestart-cgroup.sh"
    script.write_text(PRESTART_CGROUP_SCRIPT)
    script.chmod(0o755)

    def hook(cfg: dict[str, Any]) -> None:
        cfg["linux"]["cgroupsPath"] = path
        cfg["linux"]["resources"]["pids"] = {"limit": 123}
        cfg["hooks"] = {"prestart": [{"path": str(script), "args": ["hook", str(log)], "timeout": 10}]}

    oci_runtime.run(bundle_maker(["true"], hook)).check()
    lines = log.read_text().splitlines()
    memberships = [line.split(":", 2) for line in lines if not line.startswith("pids.max")]
    assert memberships, lines
    for _, controllers, cgroup in memberships:
        assert cgroup.endswith(path), f"{controllers or 'cgroup2'}: the init is in {cgroup}, not {path}"
    assert "pids.max 123" in lines


# --- cgroups -------------------------------------------------------------------------------------


def test_memory_limit_oom_kills(
    oci_runtime: h.Runtime, bundle_maker: BundleMaker, cgroup_path: Callable[[], str]
) -> None:
    path = cgroup_path()

    def memory(cfg: dict[str, Any]) -> None:
        cfg["linux"]["cgroupsPath"] = path
        cfg["linux"]["resources"]["memory"] = {"limit": 32 * 1024 * 1024}

    # busybox tail keeps its last 10 lines in memory and /dev/zero has no newline, so tail must
    # hold all 64 MiB at once. Bounded on purpose: without a limit the check ends, it does not
    # eat the host. The pipeline's status is tail's: 137 when SIGKILLed by the OOM killer.
    script = "head -c 67108864 /dev/zero | tail > /dev/null"
    res = oci_runtime.run(bundle_maker(sh(script), memory), timeout=30)
    assert res.returncode == 137, res.output


def test_memory_limit_allows_less(
    oci_runtime: h.Runtime, bundle_maker: BundleMaker, cgroup_path: Callable[[], str]
) -> None:
    # The control for the check above: the same pipeline fits under the same limit at 8 MiB.
    path = cgroup_path()

    def memory(cfg: dict[str, Any]) -> None:
        cfg["linux"]["cgroupsPath"] = path
        cfg["linux"]["resources"]["memory"] = {"limit": 32 * 1024 * 1024}

    res = oci_runtime.run(bundle_maker(sh("head -c 8388608 /dev/zero | tail | wc -c"), memory), timeout=30)
    assert res.check().stdout.strip() == "8388608"


def test_pids_limit_stops_fork_bomb(
    oci_runtime: h.Runtime, bundle_maker: BundleMaker, cgroup_path: Callable[[], str]
) -> None:
    path = cgroup_path()

    def pids(cfg: dict[str, Any]) -> None:
        cfg["linux"]["cgroupsPath"] = path
        cfg["linux"]["resources"]["pids"] = {"limit": 20}

    # echo is a builtin: the count of started sleeps is printed without forking. busybox sh
    # gives up at the first failed fork; when it (pid 1) exits, the kernel kills the sleeps.
    script = "i=0; while [ $i -lt 100 ]; do sleep 5 & i=$((i+1)); echo $i; done"
    res = oci_runtime.run(bundle_maker(sh(script), pids), timeout=30)
    assert res.returncode != 0, res.output
    assert re.search(r"can't fork|Resource temporarily unavailable", res.stderr), res.stderr
    started = [int(n) for n in res.stdout.split()]
    assert started and max(started) < 20, started
    # The host still forks, and nothing is left running in the container's cgroup.
    assert subprocess.run(["true"]).returncode == 0
    for d in h.cgroup_dirs(path):
        procs = (d / "cgroup.procs").read_text().split()
        assert not procs, f"{d} still holds {procs}"


# --- lifecycle: create, start, state, kill, delete, list, ps, pause, exec ------------------------


def _lifecycle_bundle(
    bundle_maker: BundleMaker, cgroup_path: Callable[[], str], args: list[str] | None = None
) -> h.Bundle:
    path = cgroup_path()  # explicit, so the fixture removes it even if the runtime does not

    def cg(cfg: dict[str, Any]) -> None:
        cfg["linux"]["cgroupsPath"] = path

    return bundle_maker(args or ["sleep", "30"], cg)


def _gone(pid: int, timeout: float = 3.0) -> bool:
    """The process no longer runs (gone, or a zombie its new parent has yet to reap)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.01)
    return False


def test_state_created_running_stopped(
    oci_runtime: h.Runtime, bundle_maker: BundleMaker, cgroup_path: Callable[[], str]
) -> None:
    bundle = _lifecycle_bundle(bundle_maker, cgroup_path)
    cid = h.unique_id()
    oci_runtime.create(bundle, cid).check()
    st = oci_runtime.state(cid)
    assert st["status"] == "created"
    assert st["id"] == cid and st["ociVersion"]
    assert os.path.realpath(st["bundle"]) == os.path.realpath(bundle.path)
    pid = st["pid"]
    assert isinstance(pid, int) and pid > 0 and os.path.exists(f"/proc/{pid}")
    oci_runtime.start(cid).check()
    st = oci_runtime.state(cid)
    assert (st["status"], st["pid"]) == ("running", pid)
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[:2] == [b"sleep", b"30"]
    oci_runtime.kill(cid, "KILL").check()
    assert oci_runtime.wait_status(cid, "stopped")["status"] == "stopped"
    oci_runtime.delete(cid).check()
    assert oci_runtime.call("state", cid).returncode != 0
    assert not oci_runtime.has_state(cid)
    assert _gone(pid)


def test_kill_with_signal_name_and_number(
    oci_runtime: h.Runtime, bundle_maker: BundleMaker, cgroup_path: Callable[[], str]
) -> None:
    # sh as pid 1 ignores SIGTERM unless it traps it (pid 1 gets no default signal actions).
    script = "trap 'echo got-term; exit 7' TERM; echo ready; while true; do sleep 0.05; done"
    bundle = _lifecycle_bundle(bundle_maker, cgroup_path, sh(script))
    cid = h.unique_id()
    oci_runtime.create(bundle, cid).check()
    oci_runtime.start(cid).check()
    oci_runtime.kill(cid, "TERM").check()
    assert oci_runtime.wait_status(cid, "stopped")["status"] == "stopped"
    oci_runtime.delete(cid).check()
    # kill and delete of a container that no longer exists fail; delete --force does not care.
    assert oci_runtime.kill(cid, "9").returncode != 0
    assert oci_runtime.delete(cid).returncode != 0


def test_delete_created_container(
    oci_runtime: h.Runtime, bundle_maker: BundleMaker, cgroup_path: Callable[[], str]
) -> None:
    bundle = _lifecycle_bundle(bundle_maker, cgroup_path)
    cid = h.unique_id()
    oci_runtime.create(bundle, cid).check()
    pid = oci_runtime.state(cid)["pid"]
    oci_runtime.delete(cid).check()
    assert not oci_runtime.has_state(cid)
    assert _gone(pid)
    path = bundle.config["linux"]["cgroupsPath"]
    assert h.cgroup_dirs(path) == []


def test_delete_running_needs_force(
    oci_runtime: h.Runtime, bundle_maker: BundleMaker, cgroup_path: Callable[[], str]
) -> None:
    bundle = _lifecycle_bundle(bundle_maker, cgroup_path)
    cid = h.unique_id()
    oci_runtime.create(bundle, cid).check()
    oci_runtime.start(cid).check()
    pid = oci_runtime.state(cid)["pid"]
    assert oci_runtime.delete(cid).returncode != 0
    assert oci_runtime.state(cid)["status"] == "running"
    oci_runtime.delete(cid, force=True).check()
    assert not oci_runtime.has_state(cid)
    assert _gone(pid)


def test_list_json(oci_runtime: h.Runtime, bundle_maker: BundleMaker, cgroup_path: Callable[[], str]) -> None:
    bundle = _lifecycle_bundle(bundle_maker, cgroup_path)
    cid = h.unique_id()
    oci_runtime.create(bundle, cid).check()
    listed = json.loads(oci_runtime.call("list", "--format", "json").check().stdout)
    assert [c["id"] for c in listed] == [cid]
    entry = listed[0]
    assert entry["status"] == "created"
    assert entry["pid"] == oci_runtime.state(cid)["pid"]
    assert os.path.realpath(entry["bundle"]) == os.path.realpath(bundle.path)


def test_ps_json_lists_pids(
    oci_runtime: h.Runtime, bundle_maker: BundleMaker, cgroup_path: Callable[[], str]
) -> None:
    bundle = _lifecycle_bundle(bundle_maker, cgroup_path, sh("sleep 30 & sleep 30 & wait"))
    cid = h.unique_id()
    oci_runtime.create(bundle, cid).check()
    oci_runtime.start(cid).check()
    pid = oci_runtime.state(cid)["pid"]
    deadline = time.monotonic() + 3
    while True:
        pids = json.loads(oci_runtime.call("ps", "--format", "json", cid).check().stdout)
        if len(pids) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert pid in pids
    assert len(pids) == 3, pids
    for p in pids:
        with open(f"/proc/{p}/status") as f:
            assert any(line.startswith("NSpid:") for line in f)


def test_pause_resume(
    oci_runtime: h.Runtime, bundle_maker: BundleMaker, cgroup_path: Callable[[], str]
) -> None:
    bundle = _lifecycle_bundle(bundle_maker, cgroup_path)
    cid = h.unique_id()
    oci_runtime.create(bundle, cid).check()
    oci_runtime.start(cid).check()
    pid = oci_runtime.state(cid)["pid"]
    oci_runtime.call("pause", cid).check()
    assert oci_runtime.state(cid)["status"] == "paused"
    assert h.frozen(pid) is True
    oci_runtime.call("resume", cid).check()
    assert oci_runtime.state(cid)["status"] == "running"
    assert h.frozen(pid) is False


def test_exec_sees_same_pid_namespace(
    oci_runtime: h.Runtime, bundle_maker: BundleMaker, cgroup_path: Callable[[], str]
) -> None:
    bundle = _lifecycle_bundle(bundle_maker, cgroup_path)
    cid = h.unique_id()
    oci_runtime.create(bundle, cid).check()
    oci_runtime.start(cid).check()
    pid = oci_runtime.state(cid)["pid"]
    script = "echo $$; readlink /proc/self/ns/pid; tr '\\0' ' ' < /proc/1/cmdline; echo; hostname"
    res = oci_runtime.call("exec", cid, "sh", "-c", script, pipes=True).check()
    lines = res.stdout.splitlines()
    assert lines[0] != "1" and int(lines[0]) > 1
    assert lines[1] == os.readlink(f"/proc/{pid}/ns/pid")
    assert lines[2].split() == ["sleep", "30"]
    assert lines[3] == bundle.config["hostname"]
    # exec's exit code is the process's.
    assert oci_runtime.call("exec", cid, "sh", "-c", "exit 3").returncode == 3


# --- terminal ------------------------------------------------------------------------------------


def test_terminal_console_socket(
    oci_runtime: h.Runtime, bundle_maker: BundleMaker, cgroup_path: Callable[[], str], compat_dir: Path
) -> None:
    path = cgroup_path()

    def term(cfg: dict[str, Any]) -> None:
        cfg["process"]["terminal"] = True
        cfg["linux"]["cgroupsPath"] = path

    bundle = bundle_maker(sh("tty; test -t 0 && test -t 1 && echo stdio-is-tty; echo done"), term)
    receiver = h.ConsoleReceiver(compat_dir)
    try:
        cid = h.unique_id()
        oci_runtime.create(bundle, cid, "--console-socket", receiver.path).check()
        oci_runtime.start(cid).check()
        output = receiver.wait().decode(errors="replace")
    finally:
        receiver.close()
    lines = output.replace("\r", "").split("\n")
    assert re.fullmatch(r"/dev/(pts/\d+|console)", lines[0]), output
    assert lines[1:3] == ["stdio-is-tty", "done"], output


# --- fds -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra_fd", [False, True], ids=["stdio-pipes", "inherited-fd"])
def test_no_runtime_fd_leaks_into_container(
    oci_runtime: h.Runtime, bundle_maker: BundleMaker, compat_dir: Path, extra_fd: bool
) -> None:
    # With an extra fd handed to the runtime (not --preserve-fds), the container still gets none.
    secret = compat_dir / "secret"
    secret.write_text("runtime-only\n")
    fd = os.open(secret, os.O_RDONLY) if extra_fd else -1
    try:
        res = oci_runtime.run(
            bundle_maker(["ls", "-l", "/proc/self/fd"]), pass_fds=[fd] if extra_fd else []
        ).check()
    finally:
        if fd >= 0:
            os.close(fd)
    fds = {}
    for line in res.stdout.splitlines():
        if "->" in line:
            left, target = line.split(" -> ", 1)
            fds[int(left.split()[-1])] = target
    extra = {n: t for n, t in fds.items() if n > 2 and not re.fullmatch(r"/proc/\d+/fd", t)}
    assert set(fds) >= {0, 1, 2}, res.stdout
    assert not extra, f"fds leaked into the container: {extra}"
    assert len(fds) <= 4, fds


def test_peer_runtimes_on_this_host(runtime_probe: Callable[[str, str], str | None]) -> None:
    """Which peers the matrix compares against, and why one is absent: only a refusal of this
    host's hybrid cgroup layout (crun 1.8.1) may leave a peer out."""
    runc = h.runtime_path("runc")
    assert runc is not None, "runc is the reference peer: apt-get install -y runc"
    assert runtime_probe("runc", runc) is None
    crun = h.runtime_path("crun")
    if crun is None:
        return
    reason = runtime_probe("crun", crun)
    with open("/proc/self/mountinfo") as f:
        hybrid = " - cgroup " in f.read() and os.path.ismount("/sys/fs/cgroup/unified")
    if reason is not None:
        assert hybrid and "hybrid" in reason, reason
