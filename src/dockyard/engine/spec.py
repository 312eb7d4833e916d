"""The OCI config.json of a container, built from its record as dockerd's createSpec does.

What dockerd puts there and so do we (checked against a dockerd 20.10 bundle on this host):

- process: args (with ``--init``: /sbin/docker-init -- args), env (PATH, HOSTNAME, TERM=xterm
  with a TTY, then Config.Env, then HOME from the user's passwd entry when unset), cwd, user
  with additionalGids, Docker's 14 capabilities (or CapAdd/CapDrop/Privileged) in the bounding,
  effective and permitted sets, rlimits from Ulimits, oomScoreAdj, noNewPrivileges from
  SecurityOpt;
- mounts: proc, /dev tmpfs, devpts, sysfs (ro unless privileged), cgroup (ro), mqueue, /dev/shm
  (ShmSize), then the network files and the container's mounts sorted by depth; a user mount at
  a default mount's destination replaces it;
- linux: the namespaces (network by path: the sandbox's netns, the host's, or another
  container's), cgroupsPath /dockyard/<id>, resources (memory, cpu, pids, blkio and Docker's
  device rules), sysctls (dockerd adds net.ipv4.ip_unprivileged_port_start=0 and a full
  ping_group_range for containers with their own network namespace), masked and read-only paths.
"""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import dataclass, field
from typing import Any

from dockyard.engine import blkio, capabilities, hostconfig
from dockyard.engine.container import Container
from dockyard.engine.mounts import oci_mount, tmpfs_mounts
from dockyard.engine.seccomp_default import default_profile
from dockyard.engine.seccomp_profile import to_oci
from dockyard.engine.user import ResolvedUser
from dockyard.engine.userns import IdMap
from dockyard.oci.runtime_config import OCI_VERSION

#: CFS period (us) for ``--cpus``. dockerd uses 100 ms: a container with several busy threads then
#: spends its quota on all cores at once and stalls for the rest of the period, and for that burst
#: every core is taken, so each wakeup of a neighbour waits for the scheduler tick (EEVDF does not
#: preempt the hog on wakeup there): a busybox httpd beside `--cpus 0.5` with two spinners had
#: p99 12-15 ms against 2-4 ms idle, under dockerd as under us (tests/isolation, docs/isolation.md).
#: 10 ms periods keep the same share in bursts a tenth as long (p99 4-9 ms), and the limited
#: container's own worst stall drops from 75 to 7.5 ms; the cost is 100 unthrottle timers a
#: second per throttled container. --cpu-period/--cpu-quota still set both exactly.
NANO_CPUS_PERIOD = 10_000
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
INIT_DESTINATION = "/sbin/docker-init"


@dataclass
class SpecContext:
    """What a start resolved for the spec: the rootfs, user, namespaces and files to bind."""

    rootfs: str
    user: ResolvedUser
    netns_path: str | None  # None: share the host's network namespace
    cgroups_path: str
    network_files: dict[str, str] = field(default_factory=dict)  # container path -> host file
    shared_ns: dict[str, str] = field(default_factory=dict)  # "ipc"/"pid"/"uts" -> path; "" = host's
    init_path: str | None = None
    host_devices: list[dict[str, Any]] = field(default_factory=list)  # for privileged containers
    idmap: IdMap | None = None  # --userns-remap: a user namespace with this map


_DEFAULT_DEVICE_RULES: list[dict[str, Any]] = [
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
    {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
]


def process_env(container: Container, user: ResolvedUser) -> list[str]:
    """dockerd's CreateDaemonEnvironment: defaults, then Config.Env replacing by name."""
    config = container.config
    env = [DEFAULT_PATH, f"HOSTNAME={config.get('Hostname') or container.short_id}"]
    if config.get("Tty"):
        env.append("TERM=xterm")
    index = {e.split("=", 1)[0]: i for i, e in enumerate(env)}
    for entry in config.get("Env") or []:
        key = entry.split("=", 1)[0]
        if "=" not in entry:
            continue  # a bare name in Env unsets nothing and sets nothing (Docker drops it)
        if key in index:
            env[index[key]] = entry
        else:
            index[key] = len(env)
            env.append(entry)
    if "HOME" not in index:
        env.append(f"HOME={user.home or '/'}")
    return env


def build(container: Container, ctx: SpecContext) -> dict[str, Any]:
    config, hc = container.config, container.host_config
    security = hostconfig.parse_security_opts(hc.get("SecurityOpt") or [])
    privileged = bool(hc.get("Privileged"))
    caps = capabilities.effective(hc.get("CapAdd"), hc.get("CapDrop"), privileged)
    args = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    if hc.get("Init") and ctx.init_path:
        args = [INIT_DESTINATION, "--", *args]
    process: dict[str, Any] = {
        "terminal": bool(config.get("Tty")),
        "user": {"uid": ctx.user.uid, "gid": ctx.user.gid, "additionalGids": list(ctx.user.additional_gids)},
        "args": args,
        "env": process_env(container, ctx.user),
        "cwd": config.get("WorkingDir") or "/",
        "capabilities": {"bounding": list(caps), "effective": list(caps), "permitted": list(caps)},
        "oomScoreAdj": int(hc.get("OomScoreAdj") or 0),
    }
    console = hc.get("ConsoleSize") or [0, 0]
    if config.get("Tty") and len(console) == 2 and console[0] and console[1]:
        process["consoleSize"] = {"height": int(console[0]), "width": int(console[1])}
    rlimits = [
        {"type": "RLIMIT_" + u["Name"].upper(), "hard": int(u["Hard"]), "soft": int(u["Soft"])}
        for u in hc.get("Ulimits") or []
    ]
    if rlimits:
        process["rlimits"] = rlimits
    if security.no_new_privileges:
        process["noNewPrivileges"] = True
    if security.apparmor and security.apparmor != "unconfined":
        process["apparmorProfile"] = security.apparmor
    if container.process_label:
        process["selinuxLabel"] = container.process_label

    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": ctx.rootfs, "readonly": bool(hc.get("ReadonlyRootfs"))},
        "hostname": config.get("Hostname") or "",
        "mounts": _mounts(container, ctx, privileged, security.writable_cgroups),
        "linux": _linux(container, ctx, privileged, security, caps),
    }
    if config.get("Domainname"):
        spec["domainname"] = config["Domainname"]
    if "uts" in ctx.shared_ns and not ctx.shared_ns["uts"]:
        spec.pop("hostname")  # the host's UTS namespace: a hostname would rename the host
    return spec


def _default_mounts(hc: dict[str, Any], privileged: bool, writable_cgroups: bool) -> list[dict[str, Any]]:
    sys_opts = ["nosuid", "noexec", "nodev"] + ([] if privileged else ["ro"])
    cgroup_opts = ["nosuid", "noexec", "nodev", "relatime"] + (
        [] if privileged or writable_cgroups else ["ro"]
    )
    shm = int(hc.get("ShmSize") or hostconfig.DEFAULT_SHM_SIZE)
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_opts},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": cgroup_opts},
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm}"],
        },
    ]


def _mounts(
    container: Container, ctx: SpecContext, privileged: bool, writable_cgroups: bool
) -> list[dict[str, Any]]:
    hc = container.host_config
    user_mounts = [oci_mount(mp) for mp in container.mounts]
    user_mounts += tmpfs_mounts(hc.get("Tmpfs"))
    taken = {posixpath.normpath(m["destination"]) for m in user_mounts}
    defaults = _default_mounts(hc, privileged, writable_cgroups)
    if hc.get("IpcMode") == "host" or str(hc.get("IpcMode") or "").startswith("container:"):
        defaults = [m for m in defaults if m["destination"] not in ("/dev/shm", "/dev/mqueue")]
    out = [m for m in defaults if m["destination"] not in taken]
    extra: list[dict[str, Any]] = []
    for dest, source in ctx.network_files.items():
        if dest not in taken:
            options = ["rbind", "rprivate"]
            if hc.get("ReadonlyRootfs"):
                options.insert(1, "ro")
            extra.append({"destination": dest, "type": "bind", "source": source, "options": options})
    if hc.get("Init") and ctx.init_path:
        extra.append(
            {
                "destination": INIT_DESTINATION,
                "type": "bind",
                "source": ctx.init_path,
                "options": ["bind", "ro"],
            }
        )
    extra += user_mounts
    extra.sort(key=lambda m: posixpath.normpath(m["destination"]).count("/"))
    return out + extra


def _linux(
    container: Container,
    ctx: SpecContext,
    privileged: bool,
    security: hostconfig.SecurityOptions,
    caps: list[str],
) -> dict[str, Any]:
    hc = container.host_config
    namespaces: list[dict[str, Any]] = [{"type": "mount"}]
    if ctx.netns_path is not None:
        namespaces.append(
            {"type": "network", "path": ctx.netns_path} if ctx.netns_path else {"type": "network"}
        )
    for kind in ("uts", "pid", "ipc"):
        if kind in ctx.shared_ns:
            if ctx.shared_ns[kind]:
                namespaces.append({"type": kind, "path": ctx.shared_ns[kind]})
        else:
            namespaces.append({"type": kind})
    if hc.get("CgroupnsMode") == "private":
        namespaces.append({"type": "cgroup"})
    linux: dict[str, Any] = {}
    if ctx.idmap is not None:
        namespaces.insert(0, {"type": "user"})
        linux.update(ctx.idmap.oci())
    sysctl: dict[str, str] = {}
    # As dockerd: not in a user namespace, whose root cannot write the sysctls of a network
    # namespace the daemon made (owned by the host's user namespace).
    if ctx.netns_path is not None and ctx.idmap is None:
        sysctl["net.ipv4.ip_unprivileged_port_start"] = "0"
        sysctl["net.ipv4.ping_group_range"] = "0 2147483647"
    for key, value in (hc.get("Sysctls") or {}).items():
        sysctl[str(key)] = str(value)
    if sysctl:
        linux["sysctl"] = sysctl
    linux["resources"] = resources(hc, privileged)
    linux["cgroupsPath"] = ctx.cgroups_path
    linux["namespaces"] = namespaces
    if privileged and ctx.host_devices:
        linux["devices"] = ctx.host_devices
    # As dockerd's WithSeccomp: a privileged container gets no filter, even with a profile named.
    if security.seccomp != "unconfined" and not privileged:
        if security.seccomp:
            import json

            linux["seccomp"] = to_oci(json.loads(security.seccomp), caps)
        else:
            linux["seccomp"] = to_oci(default_profile(), caps)
    if container.mount_label:
        linux["mountLabel"] = container.mount_label  # the runtime's context= (runtime/selinux.py)
    if hc.get("MaskedPaths"):
        linux["maskedPaths"] = list(hc["MaskedPaths"])
    if hc.get("ReadonlyPaths"):
        linux["readonlyPaths"] = list(hc["ReadonlyPaths"])
    return linux


def resources(hc: dict[str, Any], privileged: bool = False) -> dict[str, Any]:
    """OCI linux.resources for a HostConfig (also what `runtime update --resources -` reads)."""
    out: dict[str, Any] = {}
    if privileged:
        out["devices"] = [{"allow": True, "access": "rwm"}]
    else:
        out["devices"] = [dict(rule) for rule in _DEFAULT_DEVICE_RULES]
    memory: dict[str, Any] = {}
    if hc.get("Memory"):
        memory["limit"] = int(hc["Memory"])
    if hc.get("MemoryReservation"):
        memory["reservation"] = int(hc["MemoryReservation"])
    if hc.get("MemorySwap"):
        memory["swap"] = int(hc["MemorySwap"])
    if hc.get("MemorySwappiness") is not None and hc["MemorySwappiness"] != -1:
        memory["swappiness"] = int(hc["MemorySwappiness"])
    if hc.get("OomKillDisable") is not None:
        memory["disableOOMKiller"] = bool(hc["OomKillDisable"])
    if memory:
        out["memory"] = memory
    cpu: dict[str, Any] = {}
    if hc.get("CpuShares"):
        cpu["shares"] = int(hc["CpuShares"])
    if hc.get("NanoCpus"):
        period = NANO_CPUS_PERIOD
        cpu["period"] = period
        cpu["quota"] = int(hc["NanoCpus"]) * period // 10**9
    else:
        if hc.get("CpuPeriod"):
            cpu["period"] = int(hc["CpuPeriod"])
        if hc.get("CpuQuota"):
            cpu["quota"] = int(hc["CpuQuota"])
    if hc.get("CpuRealtimePeriod"):
        cpu["realtimePeriod"] = int(hc["CpuRealtimePeriod"])
    if hc.get("CpuRealtimeRuntime"):
        cpu["realtimeRuntime"] = int(hc["CpuRealtimeRuntime"])
    if hc.get("CpusetCpus"):
        cpu["cpus"] = hc["CpusetCpus"]
    if hc.get("CpusetMems"):
        cpu["mems"] = hc["CpusetMems"]
    if cpu:
        out["cpu"] = cpu
    if hc.get("PidsLimit"):
        out["pids"] = {"limit": int(hc["PidsLimit"])}
    block_io = blkio.oci_block_io(hc)
    if block_io:
        out["blockIO"] = block_io
    return out


_SKIP_DEV_DIRS = {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"}


def host_devices(root: str = "/dev") -> list[dict[str, Any]]:
    """The host's device nodes for a privileged container (dockerd's HostDevices)."""
    found: list[dict[str, Any]] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DEV_DIRS]
        for name in files:
            path = os.path.join(folder, name)
            if path == "/dev/console":
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode):
                kind = "c"
            elif stat.S_ISBLK(st.st_mode):
                kind = "b"
            else:
                continue
            found.append(
                {
                    "path": path,
                    "type": kind,
                    "major": os.major(st.st_rdev),
                    "minor": os.minor(st.st_rdev),
                    "fileMode": stat.S_IMODE(st.st_mode),
                    "uid": st.st_uid,
                    "gid": st.st_gid,
                }
            )
    return found
