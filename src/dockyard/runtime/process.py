"""The last steps before the container's program runs, shared by init (create) and exec.

Order matters (runc's finalizeNamespace): rlimits and oom score while still privileged; the
bounding set dropped while CAP_SETPCAP remains; ids switched with PR_SET_KEEPCAPS so the permitted
set survives setuid; then the capability sets; seccomp last but one (after no_new_privs, or before
the capability drop when no_new_privs is off, because loading a filter then needs CAP_SYS_ADMIN);
finally execve.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # `signal` imports enum: slow to start
import os

from dockyard.errors import ConfigError, InvalidArgument, SystemFailure, Unsupported
from dockyard.runtime import selinux
from dockyard.runtime.config import RLIMITS
from dockyard.util import syscalls as sc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def reset_signals() -> None:
    """Python ignores SIGPIPE and SIGXFSZ; ignored dispositions survive execve, so undo them."""
    for sig in range(1, _signal.NSIG):
        if sig in (_signal.SIGKILL, _signal.SIGSTOP):
            continue
        try:
            if _signal.getsignal(sig) is not _signal.SIG_DFL:
                _signal.signal(sig, _signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])


def apply_rlimits(rlimits: list[dict[str, Any]], field: str = "process.rlimits") -> None:
    inf = sc.RLIM_INFINITY
    for i, rl in enumerate(rlimits):
        kind = RLIMITS[rl["type"]]
        soft, hard = min(rl["soft"], inf), min(rl["hard"], inf)
        try:
            sc.setrlimit(kind, soft, hard)
        except OSError as exc:
            # The wording of Python's resource.setrlimit, which this replaces.
            why = (
                "not allowed to raise maximum limit"
                if exc.errno == 1
                else "current limit exceeds maximum limit"
                if exc.errno == 22
                else exc.strerror
            )
            cur = sc.getrlimit(kind)[1]
            raise ConfigError(
                f"{field}[{i}]",
                f"cannot set {rl['type']} to soft {rl['soft']} hard {rl['hard']}: {why}; "
                f"the runtime's hard limit is {'unlimited' if cur == inf else cur} and raising "
                "a hard limit needs CAP_SYS_RESOURCE",
            ) from None


def set_oom_score_adj(value: int, path: str = "/proc/self/oom_score_adj") -> None:
    try:
        with open(path) as f:
            if int(f.read()) == value:
                return  # already so (set by the parent for a user namespace's init): no write
        with open(path, "w") as f:
            f.write(str(value))
    except OSError as exc:
        raise ConfigError(
            "process.oomScoreAdj",
            f"cannot set {value}: {exc.strerror}; lowering the score below the runtime's "
            "own needs CAP_SYS_RESOURCE",
        ) from None


def check_lsm(proc: dict[str, Any], linux: dict[str, Any], *, selinux_on: bool | None = None) -> None:
    """Refuse LSM settings this host cannot apply (``selinux_on``: SELinux's state, None = ask)."""
    if proc.get("apparmorProfile"):
        try:
            with open("/sys/module/apparmor/parameters/enabled") as f:
                enabled = f.read().strip() == "Y"
        except OSError:
            enabled = False
        if not enabled:
            raise Unsupported(
                f"process.apparmorProfile {proc['apparmorProfile']!r}: AppArmor is not enabled "
                "on this host; remove the profile from config.json"
            )
    wants_selinux = proc.get("selinuxLabel") or linux.get("mountLabel")
    if wants_selinux and not (selinux.enabled() if selinux_on is None else selinux_on):
        field = "process.selinuxLabel" if proc.get("selinuxLabel") else "linux.mountLabel"
        raise Unsupported(f"{field}: SELinux is not enabled on this host; remove the label from config.json")


def apply_apparmor(profile: str) -> None:
    if not profile:
        return
    # Changing profile on exec: the kernel applies it at the next execve.
    with open(
        "/proc/self/attr/apparmor/exec"
        if os.path.exists("/proc/self/attr/apparmor")
        else "/proc/self/attr/exec",
        "w",
    ) as f:
        f.write(f"exec {profile}")


def apply_selinux(label: str) -> None:
    if not label:
        return
    with open("/proc/self/attr/exec", "w") as f:
        f.write(label)


def lookup_user(uid: int, gid: int) -> tuple[str, list[int], str]:
    """(HOME, supplementary gids, name) from the container's /etc/passwd and /etc/group (as runc)."""
    home, name = "/", ""
    try:
        with open("/etc/passwd", encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split(":")
                if len(parts) >= 6 and parts[2] == str(uid):
                    name, home = parts[0], parts[5] or "/"
                    break
    except OSError:
        pass
    groups: list[int] = []
    if name:
        try:
            with open("/etc/group", encoding="utf-8", errors="replace") as f:
                for line in f:
                    parts = line.rstrip("\n").split(":")
                    if len(parts) >= 4 and name in parts[3].split(",") and parts[2].isdigit():
                        g = int(parts[2])
                        if g != gid and g not in groups:
                            groups.append(g)
        except OSError:
            pass
    return home, groups, name


def look_path(prog: str, env: dict[str, str]) -> str:
    """Resolve the program like execvp, with the container's PATH; errors in runc's wording.

    dockerd maps these messages to exit codes (127 not found, 126 permission denied), so the
    phrases "executable file not found in $PATH", "no such file or directory" and
    "permission denied" matter.
    """
    if "/" in prog:
        if not os.path.exists(prog):
            raise InvalidArgument(f'exec: "{prog}": stat {prog}: no such file or directory')
        if os.path.isdir(prog) or not os.access(prog, os.X_OK):
            raise InvalidArgument(f'exec: "{prog}": permission denied')
        return prog
    for d in env.get("PATH", DEFAULT_PATH).split(":"):
        cand = os.path.join(d or ".", prog)
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    raise InvalidArgument(f'exec: "{prog}": executable file not found in $PATH')


class Finalizer:
    """Carries one process spec (``process`` of config.json or of exec) to execve."""

    def __init__(
        self,
        proc: dict[str, Any],
        linux: dict[str, Any],
        seccomp: dict[str, Any] | None,
        preserve_fds: int,
        seccomp_cache_dir: str | None = None,
    ) -> None:
        # Built before pivot_root or setns(mount): from then on the host's Python library is out
        # of reach, so every module and shared library the last steps use is loaded here, and the
        # seccomp program is compiled here (libseccomp is dlopen()ed on the host side), or read from
        # the runtime's cache of compiled programs, the folder ``seccomp_cache_dir``.
        from dockyard.runtime import capabilities

        self.proc = proc
        self.linux = linux
        self.preserve_fds = preserve_fds
        self.caps = capabilities.parse(proc.get("capabilities"))
        capabilities.last_cap()
        self.bpf = b""
        self.bpf_flags = 0
        if seccomp:
            from dockyard.runtime import seccomp_cache, seccomp_rules

            self.bpf = seccomp_cache.program(seccomp, seccomp_cache_dir)
            self.bpf_flags = seccomp_rules.filter_flags(seccomp)
        if proc.get("terminal"):
            import socket  # noqa: F401  # tty.send_fd
        user = proc.get("user") or {}
        self.uid: int = user.get("uid", 0)
        self.gid: int = user.get("gid", 0)
        self.umask: int | None = user.get("umask")
        self.extra_gids: list[int] = list(user.get("additionalGids") or [])
        self.env = dict(e.split("=", 1) for e in proc.get("env") or [])
        self.nnp = bool(proc.get("noNewPrivileges"))
        self.path = ""

    def prepare_privileged(self) -> None:
        """Steps that need the runtime's privileges, run before the ready signal."""
        from dockyard.runtime import capabilities

        apply_rlimits(self.proc.get("rlimits") or [])
        capabilities.check_against_bounding(self.caps)
        home, groups, _ = lookup_user(self.uid, self.gid)
        self.env.setdefault("HOME", home)
        for g in groups:
            if g not in self.extra_gids:
                self.extra_gids.append(g)
        cwd = self.proc.get("cwd") or "/"
        try:
            os.chdir(cwd)
        except FileNotFoundError:
            # runc creates a missing cwd (docker's WORKDIR may name a folder not in the image)
            os.makedirs(cwd, 0o755, exist_ok=True)
            os.chdir(cwd)
        self.path = look_path(self.proc["args"][0], self.env)
        if self.umask is not None:
            os.umask(self.umask)
        else:
            os.umask(0o022)
        if self.linux.get("personality"):
            sc.personality(0x0008 if self.linux["personality"]["domain"] == "LINUX32" else 0)
        apply_apparmor(self.proc.get("apparmorProfile") or "")
        apply_selinux(self.proc.get("selinuxLabel") or "")

    def drop_privileges(self) -> None:
        from dockyard.runtime import capabilities

        if self.nnp:
            sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
        elif self.bpf:
            self._load_seccomp()
        capabilities.drop_bounding(self.caps)
        sc.prctl(sc.PR_SET_KEEPCAPS, 1)
        try:
            os.setgroups(self.extra_gids)
        except PermissionError:
            # In a user namespace whose setgroups is "deny" (rootless) the list cannot change.
            if self.extra_gids:
                raise
        try:
            os.setresgid(self.gid, self.gid, self.gid)
            os.setresuid(self.uid, self.uid, self.uid)
        except OSError as exc:
            raise SystemFailure(
                f"cannot switch to user {self.uid}:{self.gid}: {exc.strerror} "
                "(is the id mapped in the user namespace?)",
                exc.errno or 0,
            ) from None
        sc.prctl(sc.PR_SET_KEEPCAPS, 0)
        capabilities.apply(self.caps)

    def _load_seccomp(self) -> None:
        from dockyard.runtime import seccomp_rules

        seccomp_rules.install(self.bpf, self.bpf_flags)

    def close_fds(self) -> None:
        os.closerange(3 + self.preserve_fds, 1 << 20)
        for fd in range(3, 3 + self.preserve_fds):
            try:
                os.set_inheritable(fd, True)
            except OSError:
                pass

    def exec(self) -> None:
        """Load seccomp (with no_new_privs), then execve; never returns."""
        if self.nnp and self.bpf:
            self._load_seccomp()
        env = [f"{k}={v}" for k, v in self.env.items()]
        os.execve(self.path, self.proc["args"], dict(e.split("=", 1) for e in env))
