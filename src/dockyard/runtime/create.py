"""``create``: validate the bundle, make the cgroup, fork the container init and record its state.

Nothing is left behind on failure: the init is killed, the cgroup removed and the state folder
deleted before the error is reported.
"""

from __future__ import annotations

import os

from dockyard.errors import ConfigError, InvalidArgument, SystemFailure
from dockyard.runtime import cgroups, config, hooks, seccomp_cache
from dockyard.runtime.init import InitSpec, run_init
from dockyard.runtime.launch import Launch, needs_two_stages, raise_remote, start_init, start_stages
from dockyard.runtime.namespaces import NamespacePlan, write_id_maps
from dockyard.runtime.process import set_oom_score_adj
from dockyard.runtime.state import State, StateDir, now_rfc3339, oci_state, process_start_time
from dockyard.util import syscalls as sc
from dockyard.util.atomic import write_atomic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class CreateOptions:
    __slots__ = (
        "bundle",
        "console_socket",
        "container_id",
        "no_new_keyring",
        "no_pivot",
        "pid_file",
        "preserve_fds",
        "proxy_console",
        "root",
        "systemd_cgroup",
    )

    def __init__(
        self,
        root: str,
        container_id: str,
        bundle: str,
        *,
        pid_file: str = "",
        console_socket: str = "",
        no_pivot: bool = False,
        preserve_fds: int = 0,
        systemd_cgroup: bool = False,
        proxy_console: bool = False,
        no_new_keyring: bool = False,
    ) -> None:
        self.root = root
        self.container_id = container_id
        self.bundle = bundle
        self.pid_file = pid_file
        self.console_socket = console_socket
        self.no_pivot = no_pivot
        self.preserve_fds = preserve_fds
        self.systemd_cgroup = systemd_cgroup
        self.proxy_console = proxy_console
        self.no_new_keyring = no_new_keyring


class Created:
    __slots__ = ("console_master", "state", "state_dir")

    def __init__(self, state: State, state_dir: StateDir, *, console_master: int = -1) -> None:
        self.state = state
        self.state_dir = state_dir
        self.console_master = console_master


def _validate_more(cfg: dict[str, Any], layout: cgroups.CgroupLayout) -> NamespacePlan:
    from dockyard.runtime import capabilities

    linux = cfg.get("linux") or {}
    plan = NamespacePlan(config.namespaces(cfg))
    if "mount" not in plan.new and "mount" not in plan.join:
        raise ConfigError("linux.namespaces", 'a mount namespace is required: add {"type": "mount"}')
    proc = cfg["process"]
    capabilities.parse(proc.get("capabilities"))
    if linux.get("seccomp"):
        from dockyard.runtime import seccomp_rules

        seccomp_rules.validate(linux["seccomp"])
    if linux.get("resources"):
        cgroups.validate_resources(linux["resources"], layout)
    if plan.new_userns and not (linux.get("uidMappings") and linux.get("gidMappings")):
        raise ConfigError("linux.uidMappings", "a new user namespace needs uidMappings and gidMappings")
    return plan


def cgroup_mounts(layout: cgroups.CgroupLayout) -> list[tuple[str, str, str]]:
    """(name under /sys/fs/cgroup, fstype, mount data) for every hierarchy of the host."""
    if layout.mode == "v2":
        return [("", "cgroup2", "")]
    seen: dict[str, str] = {}
    for ctrl, mountpoint in layout.v1.items():
        name = os.path.basename(mountpoint)
        seen[name] = ctrl if name not in seen else seen[name] + "," + ctrl
    out = [
        (name, "cgroup", "none,name=systemd" if ctrls == "name=systemd" else ctrls)
        for name, ctrls in seen.items()
    ]
    if layout.unified:
        out.append(("unified", "cgroup2", ""))
    return out


def create(opts: CreateOptions) -> Created:
    bundle = os.path.abspath(opts.bundle)
    sd = StateDir(opts.root, opts.container_id)
    if sd.exists():
        from dockyard.errors import Conflict

        raise Conflict(f"container with id {opts.container_id!r} already exists")
    cfg = config.load(bundle)
    proc = cfg["process"]
    terminal = bool(proc.get("terminal"))
    if terminal and not opts.console_socket and not opts.proxy_console:
        raise InvalidArgument(
            "process.terminal is true: give --console-socket to receive the terminal "
            "(or use `run` in the foreground)"
        )
    if opts.console_socket and not terminal:
        raise InvalidArgument("--console-socket was given but process.terminal is false in config.json")
    layout = cgroups.detect_layout()
    plan = _validate_more(cfg, layout)
    linux: dict[str, Any] = cfg.get("linux") or {}
    sd.make()
    mgr: cgroups.CgroupManager | None = None
    launch: Launch | None = None
    console_fd = -1
    proxy_fd = -1
    dir_fd = -1
    try:
        # Everything forked from here is not dumpable: see init.py.
        sc.prctl(sc.PR_SET_DUMPABLE, 0)
        two_stages = needs_two_stages(plan)
        if two_stages:
            # Limits before stage A joins (see below for why they must precede any member).
            mgr = _cgroup(opts, linux, layout)
            mgr.create()
            if linux.get("resources"):
                mgr.set_resources(linux["resources"])
            _make_fifo(sd)
        dir_fd = os.open(sd.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        if terminal:
            if opts.console_socket:
                from dockyard.runtime.tty import connect_console_socket

                console_fd = connect_console_socket(opts.console_socket)
            else:
                from dockyard.runtime.tty import console_pair

                proxy_fd, console_fd = console_pair()
        hk = cfg.get("hooks") or {}
        spec = InitSpec(
            cfg=cfg,
            bundle=bundle,
            container_id=opts.container_id,
            state_dir_fd=dir_fd,
            console_fd=console_fd,
            no_pivot=opts.no_pivot,
            preserve_fds=opts.preserve_fds,
            new_namespaces=plan.new,
            userns=plan.any_userns,
            cgroup_paths=mgr.paths() if mgr is not None else {},
            cgroup_mounts=cgroup_mounts(layout),
            wait_for_hooks=bool(hk.get("prestart") or hk.get("createRuntime")),
            new_keyring=not opts.no_new_keyring,
            annotations=cfg.get("annotations") or {},
            cgroup_sync=not two_stages,
            seccomp_cache_dir=os.path.join(opts.root, seccomp_cache.DIR_NAME),
        )
        if mgr is not None:  # two stages
            staged = mgr
            launch = start_stages(
                plan, plan.join, lambda: staged.add_process(0), lambda ch: run_init(spec, ch)
            )
        else:
            launch = start_init(plan, plan.join, lambda ch: run_init(spec, ch))
        if console_fd >= 0:
            os.close(console_fd)
            console_fd = -1
        if mgr is None:
            # The init builds its rootfs meanwhile, on the other CPU (init.CgroupSync): it needs
            # the cgroup folders for its cgroup mounts, and to be in the cgroup before it runs
            # anything of the container. The limits go in before the init does: a device rule
            # list is written as "deny all" followed by the allowed devices, and an init inside
            # would see (mknod, open) the gap between. The exec fifo, which the init opens once
            # ready, is made here too.
            mgr = _cgroup(opts, linux, layout)
            mgr.create()
            _make_fifo(sd)
            _tell(launch, {"type": "cgroup_made", "paths": mgr.paths()})
            if linux.get("resources"):
                mgr.set_resources(linux["resources"])
            try:
                mgr.add_process(launch.pid_b)
            except SystemFailure:
                _raise_if_init_failed(launch)  # an init that died first has the error to show
                raise
            _tell(launch, {"type": "cgroup_done"})
        manager: cgroups.CgroupManager = mgr
        state: State | None = None

        def record(pid: int, start: int) -> State:
            st = State(
                id=opts.container_id,
                bundle=bundle,
                rootfs=cfg["root"]["path"],
                pid=pid,
                pid_start=start,
                created=now_rfc3339(),
                owner="",
                annotations=cfg.get("annotations") or {},
                cgroup_paths=manager.paths(),
                hooks=hk,
                seccomp=linux.get("seccomp"),
                no_new_privileges=bool(proc.get("noNewPrivileges")),
                use_systemd=opts.systemd_cgroup,
                config_process=proc,
            )
            sd.save(st)
            return st

        early = process_start_time(launch.pid_b) if launch.pid_b else None
        if early is not None:
            # The init's pid is known (start_init): write the state now, while the init builds its
            # rootfs, rather than after. Until create returns, nobody reads it but `delete
            # --force`, which then finds the init and the cgroup to remove; a failed create
            # removes it with the rest. (An init that already died has an error to report: the
            # state waits for _drive to read it.)
            state = record(launch.pid_b, early)
        _drive(launch, cfg, bundle, opts.container_id)
        pid = launch.pid_b
        start = process_start_time(pid)
        if start is None:
            raise SystemFailure("the container init exited during create")
        if state is None or state.pid_start != start:
            state = record(pid, start)
        if opts.pid_file:
            write_atomic(os.path.abspath(opts.pid_file), str(pid).encode(), 0o644)
        return Created(state, sd, console_master=proxy_fd)
    except BaseException:
        if launch is not None:
            if launch.pid_b:
                try:
                    os.kill(launch.pid_b, 9)
                except ProcessLookupError:
                    pass
            launch.reap_a()
            launch.reap_direct_b()
        if mgr is not None:
            try:
                mgr.kill_all(9)
            except OSError:
                pass
            from dockyard.runtime.delete import destroy_cgroup

            try:
                destroy_cgroup(mgr, tries=100)
            except OSError:
                pass  # the original error is the one to report; a leftover empty cgroup is not
        if proxy_fd >= 0:
            os.close(proxy_fd)
        sd.remove()
        raise
    finally:
        for fd in (dir_fd, console_fd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        if launch is not None:
            launch.ch.close()


def _cgroup(
    opts: CreateOptions, linux: dict[str, Any], layout: cgroups.CgroupLayout
) -> cgroups.CgroupManager:
    return cgroups.new_manager(
        linux.get("cgroupsPath"), opts.container_id, systemd=opts.systemd_cgroup, layout=layout
    )


def _tell(launch: Launch, msg: dict[str, Any]) -> None:
    try:
        launch.ch.send(msg)
    except BrokenPipeError:
        pass  # the init failed already: _drive reads its error


def _make_fifo(sd: StateDir) -> None:
    os.mkfifo(sd.fifo, 0o622)
    # Not left to the umask: an init that switched to a non-root (or user-namespace) uid still
    # opens the fifo for writing.
    os.chmod(sd.fifo, 0o622)


def _raise_if_init_failed(launch: Launch) -> None:
    """If the init (our child, from start_init) has exited, raise the error it reported."""
    try:
        pid, _ = os.waitpid(launch.pid_b, os.WNOHANG)
    except ChildProcessError:
        return
    if pid == 0:
        return  # still alive: the caller's own error stands
    launch.pid_b = 0  # reaped: never signal that pid again
    msg = launch.ch.recv()
    if msg is not None and msg.get("type") == "error":
        raise_remote(msg)


def _drive(launch: Launch, cfg: dict[str, Any], bundle: str, container_id: str) -> None:
    """Answer the stages' requests until the init says it is ready."""
    linux = cfg.get("linux") or {}
    ch = launch.ch
    # "pid" comes from stage A and "ready" from stage B, on their own copies of the channel: in
    # either order, so the loop ends only when both have come.
    ready = False
    while not (ready and launch.pid_b):
        msg = ch.recv()
        if msg is None:
            launch.reap_a()
            raise SystemFailure("the container init exited before it was ready (see the log for its error)")
        kind = msg.get("type")
        if kind == "userns":
            write_id_maps(launch.pid_a, linux)
            proc = cfg.get("process") or {}
            if "oomScoreAdj" in proc:
                # From here, with the host's capabilities: inside its user namespace the init's
                # /proc/self files belong to a root it does not map (it is not dumpable), so it
                # could not write its own score. Children inherit it (one per thread group).
                set_oom_score_adj(proc["oomScoreAdj"], f"/proc/{launch.pid_a}/oom_score_adj")
            ch.send({"type": "maps_done"})
        elif kind == "pid":
            launch.pid_b = int(msg["pid"])
            launch.reap_a()
        elif kind == "hooks":
            hk = cfg.get("hooks") or {}
            st = State(
                id=container_id,
                bundle=bundle,
                rootfs="",
                pid=launch.pid_b,
                pid_start=0,
                created="",
                annotations=cfg.get("annotations") or {},
            )
            doc = oci_state(st, "creating")
            hooks.run_hooks("prestart", hk, doc)
            hooks.run_hooks("createRuntime", hk, doc)
            ch.send({"type": "hooks_done"})
        elif kind == "ready":
            ready = True
        elif kind == "error":
            launch.reap_a()
            raise_remote(msg)
