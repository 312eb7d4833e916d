"""config.json from a container record, compared with what dockerd 20.10 wrote on this host for
`docker run --network none -e A=1 --memory 64m busybox sleep 1000`; and the user lookup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.engine import hostconfig, spec
from dockyard.engine.container import Container, MountPoint
from dockyard.engine.create import CreateSettings, new_container
from dockyard.engine.user import ResolvedUser, resolve
from dockyard.errors import InvalidArgument
from dockyard.util import busybox

FEATURES = hostconfig.HostFeatures(
    cgroup_v2=False, swap_limit=True, oom_kill_disable=True, ncpu=2, cpus={0, 1}
)
SETTINGS = CreateSettings(FEATURES, ("runc",), "runc")
ROOT = ResolvedUser(uid=0, gid=0, additional_gids=[0], home="/root", name="root")


def container(body: dict[str, object]) -> Container:
    c, _ = new_container({"Image": "busybox", **body}, "/c1", "sha256:" + "b" * 64, {"Cmd": ["sh"]}, SETTINGS)
    return c


def ctx(**kw: object) -> spec.SpecContext:
    base: dict[str, object] = {
        "rootfs": "/r",
        "user": ROOT,
        "netns_path": "/run/netns/x",
        "cgroups_path": "/dockyard/x",
        "network_files": {
            "/etc/hosts": "/d/hosts",
            "/etc/hostname": "/d/hostname",
            "/etc/resolv.conf": "/d/r",
        },
    }
    base.update(kw)
    return spec.SpecContext(**base)  # type: ignore[arg-type]


def test_matches_dockerd_defaults() -> None:
    c = container({"Cmd": ["sleep", "1000"], "Env": ["A=1"], "HostConfig": {"Memory": 64 * 1024**2}})
    doc = spec.build(c, ctx())
    proc = doc["process"]
    assert proc["args"] == ["sleep", "1000"] and proc["cwd"] == "/" and proc["terminal"] is False
    assert proc["env"] == [spec.DEFAULT_PATH, f"HOSTNAME={c.id[:12]}", "A=1", "HOME=/root"]
    assert proc["user"] == {"uid": 0, "gid": 0, "additionalGids": [0]}
    assert proc["capabilities"]["bounding"] == [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
        "CAP_AUDIT_WRITE",
    ]  # fmt: skip
    assert "noNewPrivileges" not in proc
    assert doc["hostname"] == c.id[:12] and doc["root"] == {"path": "/r", "readonly": False}
    dests = [m["destination"] for m in doc["mounts"]]
    assert dests[:7] == ["/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"]
    assert set(dests[7:]) == {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}
    shm = doc["mounts"][6]
    assert shm["options"] == ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]
    linux = doc["linux"]
    assert linux["sysctl"] == {
        "net.ipv4.ip_unprivileged_port_start": "0",
        "net.ipv4.ping_group_range": "0 2147483647",
    }
    assert linux["resources"]["memory"] == {
        "limit": 64 * 1024**2,
        "swap": 128 * 1024**2,
        "disableOOMKiller": False,
    }
    assert linux["resources"]["devices"][0] == {"allow": False, "access": "rwm"}
    assert {"type": "network", "path": "/run/netns/x"} in linux["namespaces"]
    assert {n["type"] for n in linux["namespaces"]} == {"mount", "network", "uts", "pid", "ipc"}
    assert linux["cgroupsPath"] == "/dockyard/x"
    assert linux["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"  # the default profile
    assert (
        linux["maskedPaths"] == hostconfig.MASKED_PATHS
        and linux["readonlyPaths"] == hostconfig.READONLY_PATHS
    )


def test_host_network_tty_init_and_limits() -> None:
    c = container(
        {
            "Cmd": ["top"],
            "Tty": True,
            "Env": ["HOME=/h", "PATH=/x"],
            "HostConfig": {
                "NetworkMode": "host",
                "Init": True,
                "NanoCpus": 1_500_000_000,
                "PidsLimit": 50,
                "Ulimits": [{"Name": "nofile", "Soft": 100, "Hard": 200}],
                "ReadonlyRootfs": True,
                "SecurityOpt": ["no-new-privileges:true"],
                "CapDrop": ["ALL"],
                "CapAdd": ["NET_ADMIN"],
                "Sysctls": {"kernel.shm_rmid_forced": "1"},
                "Tmpfs": {"/run": "size=1m"},
            },
        }
    )
    doc = spec.build(c, ctx(netns_path=None, init_path="/usr/bin/tini-static"))
    proc = doc["process"]
    assert proc["args"] == ["/sbin/docker-init", "--", "top"] and proc["terminal"] is True
    assert proc["env"] == ["PATH=/x", f"HOSTNAME={c.config['Hostname']}", "TERM=xterm", "HOME=/h"]
    assert proc["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 200, "soft": 100}]
    assert proc["noNewPrivileges"] is True and proc["capabilities"]["effective"] == ["CAP_NET_ADMIN"]
    linux = doc["linux"]
    assert "network" not in {n["type"] for n in linux["namespaces"]}
    assert linux["sysctl"] == {"kernel.shm_rmid_forced": "1"}
    # dockerd: period 100000, quota 150000; the same share in 10 ms periods (spec.NANO_CPUS_PERIOD)
    assert linux["resources"]["cpu"] == {"period": 10000, "quota": 15000}
    assert linux["resources"]["pids"] == {"limit": 50}
    assert doc["root"]["readonly"] is True
    init = next(m for m in doc["mounts"] if m["destination"] == "/sbin/docker-init")
    assert init == {
        "destination": "/sbin/docker-init",
        "type": "bind",
        "source": "/usr/bin/tini-static",
        "options": ["bind", "ro"],
    }
    run = next(m for m in doc["mounts"] if m["destination"] == "/run")
    assert run["type"] == "tmpfs" and "size=1m" in run["options"]
    hosts = next(m for m in doc["mounts"] if m["destination"] == "/etc/hosts")
    assert "ro" in hosts["options"]


def test_user_mounts_replace_defaults_and_sort_by_depth() -> None:
    c = container({"HostConfig": {"Privileged": True}})
    c.mounts = [
        MountPoint(type="bind", source="/a", destination="/data/sub", rw=False, propagation="rprivate"),
        MountPoint(type="volume", source="/v/_data", destination="/data", name="v"),
        MountPoint(type="tmpfs", destination="/dev/shm", options=["size=1k"]),
    ]
    doc = spec.build(c, ctx(host_devices=[{"path": "/dev/null", "type": "c", "major": 1, "minor": 3}]))
    dests = [m["destination"] for m in doc["mounts"]]
    assert dests.count("/dev/shm") == 1 and dests.index("/data") < dests.index("/data/sub")
    sub = next(m for m in doc["mounts"] if m["destination"] == "/data/sub")
    assert sub["options"] == ["rbind", "ro", "rprivate"]
    assert next(m for m in doc["mounts"] if m["destination"] == "/sys")["options"] == [
        "nosuid",
        "noexec",
        "nodev",
    ]
    linux = doc["linux"]
    assert len(doc["process"]["capabilities"]["bounding"]) > 30
    assert linux["resources"]["devices"] == [{"allow": True, "access": "rwm"}] and linux["devices"]
    assert "maskedPaths" not in linux and "readonlyPaths" not in linux


def test_seccomp_profile_from_security_opt() -> None:
    profile = (
        '{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_X86_64", '
        '"subArchitectures": ["SCMP_ARCH_X86"]}], "syscalls": [{"names": ["read"], '
        '"action": "SCMP_ACT_ALLOW"}, '
        '{"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_PTRACE"]}}]}'
    )
    c = container({"HostConfig": {"SecurityOpt": [f"seccomp={profile}"]}})
    sec = spec.build(c, ctx())["linux"]["seccomp"]
    assert sec["defaultAction"] == "SCMP_ACT_ERRNO"
    assert [s["names"] for s in sec["syscalls"]] == [["read"]]
    if os.uname().machine == "x86_64":
        assert sec["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]


def test_user_lookup(tmp_path: Path) -> None:
    rootfs = str(tmp_path / "rootfs")
    busybox.make_rootfs(rootfs)
    with open(os.path.join(rootfs, "etc/group"), "a") as f:
        f.write("extra:x:2000:user\n")
    assert resolve(rootfs, "") == ResolvedUser(0, 0, [0], "/root", "root")
    user = resolve(rootfs, "user")
    assert (user.uid, user.gid, user.home) == (1000, 1000, "/home/user")
    assert user.additional_gids == [1000, 100, 2000]
    assert resolve(rootfs, "user:daemon").gid == 1
    anon = resolve(rootfs, "4242:4343", group_add=["extra"])
    assert (anon.uid, anon.gid, anon.home, anon.additional_gids) == (4242, 4343, "/", [4343, 2000])
    with pytest.raises(
        InvalidArgument, match="unable to find user nobody2: no matching entries in passwd file"
    ):
        resolve(rootfs, "nobody2")
    with pytest.raises(InvalidArgument, match="unable to find group nogroup2"):
        resolve(rootfs, "root:nogroup2")
    # A symlinked /etc/passwd pointing out of the rootfs stays inside it.
    os.rename(os.path.join(rootfs, "etc/passwd"), os.path.join(rootfs, "etc/passwd.real"))
    os.symlink("/../../../etc/passwd.real", os.path.join(rootfs, "etc/passwd"))
    assert resolve(rootfs, "user").uid == 1000
