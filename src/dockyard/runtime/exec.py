"""``exec``: run another process inside a running container.

The new process joins the cgroup and every namespace of the container's init that differs from
ours (read from /proc/<init>/ns), then goes through the same finalize steps as the init: the
process spec's capabilities, user, rlimits and the container's seccomp filter.
"""

from __future__ import annotations

import os

from dockyard.errors import Conflict, InvalidArgument, SystemFailure
from dockyard.oci import fastjson
from dockyard.runtime import config, seccomp_cache
from dockyard.runtime.channel import Channel
from dockyard.runtime.config import NAMESPACE_PROC
from dockyard.runtime.init import setup_console
from dockyard.runtime.launch import raise_remote, start_stages
from dockyard.runtime.namespaces import NamespacePlan, same_namespace
from dockyard.runtime.process import Finalizer, reset_signals, set_oom_score_adj
from dockyard.runtime.state import StateDir, status
from dockyard.util import syscalls as sc
from dockyard.util.atomic import write_atomic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class ExecOptions:
    __slots__ = (
        "additional_gids",
        "args",
        "cap",
        "console_socket",
        "container_id",
        "cwd",
        "detach",
        "env",
        "ignore_paused",
        "no_new_privs",
        "pid_file",
        "preserve_fds",
        "process_file",
        "root",
        "tty",
        "user",
    )

    def __init__(
        self,
        root: str,
        container_id: str,
        *,
        process_file: str = "",
        args: list[str] | None = None,
        tty: bool = False,
        detach: bool = False,
        pid_file: str = "",
        console_socket: str = "",
        cwd: str = "",
        env: list[str] | None = None,
        user: str = "",
        additional_gids: list[int] | None = None,
        cap: list[str] | None = None,
        no_new_privs: bool = False,
        preserve_fds: int = 0,
        ignore_paused: bool = False,
    ) -> None:
        self.root = root
        self.container_id = container_id
        self.process_file = process_file
        self.args: list[str] = args if args is not None else []
        self.tty = tty
        self.detach = detach
        self.pid_file = pid_file
        self.console_socket = console_socket
        self.cwd = cwd
        self.env: list[str] = env if env is not None else []
        self.user = user
        self.additional_gids: list[int] = additional_gids if additional_gids is not None else []
        self.cap: list[str] = cap if cap is not None else []
        self.no_new_privs = no_new_privs
        self.preserve_fds = preserve_fds
        self.ignore_paused = ignore_paused


def build_process(opts: ExecOptions, base: dict[str, Any]) -> dict[str, Any]:
    if opts.process_file:
        try:
            with open(opts.process_file, "rb") as f:
                proc: dict[str, Any] = fastjson.loads(f.read())
        except (OSError, ValueError) as exc:
            raise InvalidArgument(f"--process {opts.process_file}: {exc}") from None
        config.validate_process(proc, "process", required=True)
        return proc
    if not opts.args:
        raise InvalidArgument("exec needs a command: `exec ID COMMAND [ARG...]` or --process FILE")
    proc = {k: v for k, v in base.items() if k not in ("args", "terminal", "consoleSize")}
    proc["args"] = list(opts.args)
    proc["terminal"] = opts.tty
    env = list(base.get("env") or [])
    for e in opts.env:
        key = e.split("=", 1)[0]
        env = [x for x in env if x.split("=", 1)[0] != key] + [e]
    proc["env"] = env
    if opts.cwd:
        proc["cwd"] = opts.cwd
    if opts.user:
        uid, _, gid = opts.user.partition(":")
        if not uid.isdigit() or (gid and not gid.isdigit()):
            raise InvalidArgument(f"--user {opts.user!r}: use UID[:GID] with numbers")
        proc["user"] = {"uid": int(uid), "gid": int(gid or 0), "additionalGids": opts.additional_gids}
    if opts.cap:
        caps = {k: list(v) for k, v in (base.get("capabilities") or {}).items()}
        for c in opts.cap:
            for kind in ("bounding", "effective", "permitted", "ambient"):
                if c not in caps.setdefault(kind, []):
                    caps[kind].append(c)
        proc["capabilities"] = caps
    if opts.no_new_privs:
        proc["noNewPrivileges"] = True
    config.validate_process(proc, "process", required=True)
    return proc


def exec_process(opts: ExecOptions) -> int:
    sd = StateDir(opts.root, opts.container_id)
    state = sd.load()
    st = status(state, sd)
    if st == "stopped":
        raise Conflict(f"cannot exec in container {opts.container_id!r}: it is stopped")
    if st == "paused" and not opts.ignore_paused:
        raise Conflict(f"cannot exec in container {opts.container_id!r}: it is paused")
    proc = build_process(opts, state.config_process)
    terminal = bool(proc.get("terminal"))
    if terminal and not opts.console_socket and opts.detach:
        raise InvalidArgument("a terminal for a detached exec needs --console-socket")
    from dockyard.runtime import capabilities

    capabilities.parse(proc.get("capabilities"))
    pid = state.pid
    join = {
        kind: f"/proc/{pid}/ns/{proc_name}"
        for kind, proc_name in NAMESPACE_PROC.items()
        if os.path.exists(f"/proc/{pid}/ns/{proc_name}") and not same_namespace(kind, pid)
    }
    join.pop("time", None)  # a time namespace is joined via time_for_children; not used by us
    plan = NamespacePlan([])
    from dockyard.runtime.cgroups import manager_from_paths

    mgr = manager_from_paths(state.cgroup_paths) if state.cgroup_paths else None
    sc.prctl(sc.PR_SET_DUMPABLE, 0)
    if not opts.detach:
        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    console_fd = -1
    proxy_fd = -1
    if terminal:
        from dockyard.runtime import tty

        if opts.console_socket:
            console_fd = tty.connect_console_socket(opts.console_socket)
        else:
            proxy_fd, console_fd = tty.console_pair()
    seccomp = state.seccomp if not proc.get("seccomp") else proc.get("seccomp")
    fin = Finalizer(proc, {}, seccomp, opts.preserve_fds, os.path.join(opts.root, seccomp_cache.DIR_NAME))

    def stage_b(ch: Channel) -> None:
        os.setsid()
        if console_fd >= 0:
            setup_console(console_fd, proc)
        if "oomScoreAdj" in proc:
            set_oom_score_adj(proc["oomScoreAdj"])
        fin.prepare_privileged()
        fin.drop_privileges()
        reset_signals()
        ch.send({"type": "ready"})
        ch.close()
        fin.close_fds()
        fin.exec()

    def join_cgroup() -> None:
        if mgr is not None and mgr.exists():
            mgr.add_process(0)

    launch = start_stages(plan, join, join_cgroup, stage_b)
    if console_fd >= 0:
        os.close(console_fd)
    # Stage A reports B's pid and stage B reports "ready", each on its own copy of the channel:
    # the two may arrive in either order (B has little to do before an exec), so wait for both.
    ready = False
    try:
        while not (ready and launch.pid_b):
            msg = launch.ch.recv()
            if msg is None:
                launch.reap_a()
                raise SystemFailure("the exec'd process exited before it was ready")
            if msg["type"] == "pid":
                launch.pid_b = int(msg["pid"])
                launch.reap_a()
            elif msg["type"] == "ready":
                ready = True
            elif msg["type"] == "error":
                launch.reap_a()
                if launch.pid_b:
                    try:
                        os.waitpid(launch.pid_b, 0)
                    except ChildProcessError:
                        pass
                raise_remote(msg)
    finally:
        launch.ch.close()
    if opts.pid_file:
        write_atomic(os.path.abspath(opts.pid_file), str(launch.pid_b).encode(), 0o644)
    if opts.detach:
        return 0
    from dockyard.runtime.run import wait_foreground

    return wait_foreground(launch.pid_b, proxy_fd)
