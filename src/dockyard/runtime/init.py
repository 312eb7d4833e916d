"""The container's init (stage B of launch.py): from fresh namespaces to execve of process.args.

Runs inside the container's namespaces as a forked copy of the runtime. It is not dumpable (the
runtime cleared PR_SET_DUMPABLE before forking), so no process in the container can open its
/proc/<pid>/exe -- the host's Python interpreter -- or its fds (the CVE-2019-5736 class); execve of
the container's program makes the new image dumpable again.
"""

from __future__ import annotations

import os

from dockyard.runtime import hooks as hooks_mod
from dockyard.runtime import rootfs
from dockyard.runtime.channel import Channel
from dockyard.runtime.process import Finalizer, check_lsm, reset_signals, set_oom_score_adj
from dockyard.util import syscalls as sc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class InitSpec:
    __slots__ = (
        "annotations",
        "bundle",
        "cfg",
        "cgroup_mounts",
        "cgroup_paths",
        "cgroup_sync",
        "console_fd",
        "container_id",
        "new_keyring",
        "new_namespaces",
        "no_pivot",
        "preserve_fds",
        "seccomp_cache_dir",
        "state_dir_fd",
        "userns",
        "wait_for_hooks",
    )

    def __init__(
        self,
        cfg: dict[str, Any],
        bundle: str,
        container_id: str,
        state_dir_fd: int,
        console_fd: int,
        no_pivot: bool,
        preserve_fds: int,
        new_namespaces: set[str],
        userns: bool,
        cgroup_paths: dict[str, str],
        cgroup_mounts: list[tuple[str, str, str]],
        wait_for_hooks: bool,
        new_keyring: bool = True,
        *,
        annotations: dict[str, str] | None = None,
        cgroup_sync: bool = False,
        seccomp_cache_dir: str | None = None,
    ) -> None:
        self.cfg = cfg
        self.bundle = bundle
        self.container_id = container_id
        self.state_dir_fd = state_dir_fd
        self.console_fd = console_fd
        self.no_pivot = no_pivot
        self.preserve_fds = preserve_fds
        self.new_namespaces = new_namespaces
        self.userns = userns
        self.cgroup_paths = cgroup_paths
        self.cgroup_mounts = cgroup_mounts
        self.wait_for_hooks = wait_for_hooks
        self.new_keyring = new_keyring
        self.annotations: dict[str, str] = annotations if annotations is not None else {}
        # launch.start_init: the runtime makes the cgroup and moves the init into it while the
        # init builds its rootfs (see CgroupSync); cgroup_paths is empty until "cgroup_made".
        self.cgroup_sync = cgroup_sync
        self.seccomp_cache_dir = seccomp_cache_dir  # seccomp_cache.py: compiled programs


def _state_doc(spec: InitSpec, status: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "ociVersion": "1.1.0",
        "id": spec.container_id,
        "status": status,
        "pid": os.getpid(),
        "bundle": spec.bundle,
    }
    if spec.annotations:
        doc["annotations"] = spec.annotations
    return doc


def run_init(spec: InitSpec, ch: Channel) -> None:
    cfg = spec.cfg
    linux: dict[str, Any] = cfg.get("linux") or {}
    proc: dict[str, Any] = cfg["process"]
    os.setsid()
    if "network" in spec.new_namespaces:
        from dockyard.runtime.namespaces import loopback_up

        loopback_up()
    check_lsm(proc, linux)
    fin = Finalizer(proc, linux, linux.get("seccomp"), spec.preserve_fds, spec.seccomp_cache_dir)
    cgroup = CgroupSync(ch, spec.cgroup_sync, "cgroup" in spec.new_namespaces, spec.cgroup_paths)
    ctx = rootfs.RootfsContext(
        cfg,
        spec.bundle,
        spec.userns,
        "cgroup" in spec.new_namespaces,
        spec.cgroup_paths,
        spec.cgroup_mounts,
        cgroup_ready=cgroup.made,
    )
    rootfs.prepare(ctx)
    hooks = cfg.get("hooks") or {}
    if spec.wait_for_hooks or hooks.get("createContainer"):
        cgroup.joined()  # hooks see (and may change) the container's cgroup, as with runc
    if spec.wait_for_hooks:
        ch.send({"type": "hooks"})
        reply = ch.recv()
        if not reply or reply.get("type") != "hooks_done":
            os._exit(1)
    if hooks.get("createContainer"):
        hooks_mod.run_hooks("createContainer", hooks, _state_doc(spec, "created"))
    cwd = proc.get("cwd") or "/"
    if spec.console_fd >= 0:
        from dockyard.runtime import tty  # noqa: F401  # setup_console's, loaded before pivot_root
    rootfs.pivot(ctx, spec.no_pivot)
    if spec.console_fd >= 0:
        setup_console(spec.console_fd, proc)
    if cfg.get("hostname"):
        sc.sethostname(cfg["hostname"])
    if cfg.get("domainname"):
        sc.setdomainname(cfg["domainname"])
    if linux.get("sysctl"):
        rootfs.apply_sysctls(linux["sysctl"])
    for p in linux.get("readonlyPaths") or []:
        rootfs.readonly_path(p)
    for p in linux.get("maskedPaths") or []:
        rootfs.mask_path(p, linux.get("mountLabel") or "")
    rootfs.remount_ro_if_requested(cfg)
    try:
        os.makedirs(cwd, 0o755, exist_ok=True)
    except OSError:
        pass  # reported precisely by Finalizer.prepare_privileged's chdir
    if cfg["root"].get("readonly"):
        rootfs.readonly_root()
    if "oomScoreAdj" in proc:
        set_oom_score_adj(proc["oomScoreAdj"])
    if spec.new_keyring:
        _join_new_keyring(spec.container_id)
    cgroup.joined()
    fin.prepare_privileged()
    fin.drop_privileges()
    reset_signals()
    ch.send({"type": "ready"})
    ch.close()
    # Blocks until `start` opens the fifo for reading. Opened relative to the state folder's fd,
    # taken before pivot_root, because the host path is out of reach from here.
    fifo = os.open("exec.fifo", os.O_WRONLY | os.O_CLOEXEC, dir_fd=spec.state_dir_fd)
    os.write(fifo, b"0")
    os.close(fifo)
    fin.close_fds()
    if hooks.get("startContainer"):
        try:
            hooks_mod.run_hooks("startContainer", hooks, _state_doc(spec, "running"))
        except hooks_mod.HookError as exc:
            os.write(2, f"dockyard-runtime: {exc}\n".encode())
            os._exit(1)
    try:
        fin.exec()
    except OSError as exc:
        os.write(2, f"dockyard-runtime: exec {proc['args'][0]}: {exc.strerror}\n".encode())
        os._exit(127 if exc.errno == 2 else 126)


class CgroupSync:
    """The init's side of launch.start_init's cgroup hand-over (``sync``): the runtime makes the
    cgroup and moves the init into it while the init builds its rootfs, in two messages.

    "cgroup_made" brings the cgroup folders (into ``paths``, the dict the rootfs code reads):
    needed before a cgroup filesystem is mounted, as those mounts bind the folders (``made``).
    "cgroup_done" says the init is in the cgroup, its limits already in: needed before anything
    of the container runs or looks at it (hooks, the program) and before the init gives up its
    privileges (``joined``). Moving a task takes the kernel a grace period when it is the first
    move in a while (cgroups/prime.py), so the rootfs gets built during that wait rather than
    after it. A new cgroup namespace is rooted at the cgroup the init is in when it is created,
    so with one ``made`` waits for the move, then creates the namespace. Without ``sync`` (stage A
    joined the cgroup and created the namespaces before forking the init) both are no-ops.
    """

    def __init__(self, ch: Channel, sync: bool, new_cgroupns: bool, paths: dict[str, str]) -> None:
        self.ch = ch
        self.heard = 0 if sync else 2  # messages received of the two
        self.new_cgroupns = new_cgroupns
        self.paths = paths

    def _receive(self, kind: str) -> dict[str, Any]:
        reply = self.ch.recv()
        if not reply or reply.get("type") != kind:
            os._exit(1)  # the runtime gave up (and reports why)
        self.heard += 1
        return reply

    def made(self) -> None:
        if self.new_cgroupns:
            self.joined()
        elif self.heard == 0:
            self.paths.update(self._receive("cgroup_made")["paths"])

    def joined(self) -> None:
        if self.heard == 2:
            return
        if self.heard == 0:
            self.paths.update(self._receive("cgroup_made")["paths"])
        self._receive("cgroup_done")
        if self.new_cgroupns:
            sc.unshare(sc.CLONE_NEWCGROUP)


def _join_new_keyring(container_id: str) -> None:
    """A session keyring of the container's own, so it never sees the host's keys (runc does too).

    Kernels without keyrings (ENOSYS) and user namespaces where the quota is exhausted (EDQUOT)
    or keyctl is denied (EACCES/EPERM) go on without one, as runc does.
    """
    try:
        sc.join_session_keyring(f"_ses.{container_id}"[:255])
    except OSError as exc:
        if exc.errno not in (1, 13, 38, 122):
            raise


def setup_console(sock_fd: int, proc: dict[str, Any]) -> None:
    # Imported by the caller before the host's files went out of reach (pivot_root, setns).
    from dockyard.runtime import tty

    master, slave_path = tty.open_pty()
    slave = os.open(slave_path, os.O_RDWR | os.O_CLOEXEC)
    size = proc.get("consoleSize") or {}
    if size.get("height") or size.get("width"):
        tty.set_size(slave, size.get("height", 0), size.get("width", 0))
    # /dev/console is the pty's slave inside the container, as runc sets it up.
    if os.path.lexists("/dev/console") or os.path.isdir("/dev"):
        try:
            if not os.path.exists("/dev/console"):
                os.close(os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
            sc.mount(slave_path, "/dev/console", None, sc.MS_BIND, None)
        except OSError:
            pass  # a read-only /dev: the terminal still works, /dev/console is just absent
    tty.send_fd(sock_fd, master)
    os.close(master)
    os.close(sock_fd)
    tty.make_controlling(slave)
    if slave > 2:
        os.close(slave)
