"""SELinux labels of a container (``--security-opt label=...``, ``:z``/``:Z`` volumes), and the
check that the host can apply the labels and AppArmor profiles asked for.

With SELinux enforcing, each container gets a process label and a file label that share one
MCS level unique to the container (``s0:c12,c873``): two containers' processes then cannot touch
each other's files even when both are ``container_t``. ``label=user:``, ``role:``, ``type:`` and
``level:`` replace parts of the process label, ``filetype:`` the file label's type, ``disable``
turns labeling off for the container (as Docker's label.InitLabels). A ``:z`` volume is relabeled
to the shared file label (level ``s0``, no categories: every container may use it), ``:Z`` to
the container's private one, through the ``security.selinux`` extended attribute.

A host without SELinux (no selinuxfs, or it is disabled) cannot honour a label: asking for one is
an error that says so, not a container that silently runs unconfined. ``label=disable`` asks for
nothing and is accepted everywhere; so are ``:z``/``:Z``, which have nothing to relabel for.
AppArmor likewise: ``apparmor=PROFILE`` needs AppArmor loaded; ``apparmor=unconfined`` does not.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidArgument

SELINUX_FS = "/sys/fs/selinux"
APPARMOR_ENABLED = "/sys/module/apparmor/parameters/enabled"
XATTR = "security.selinux"

#: Docker's defaults (container-selinux's contexts: lxc_contexts "process" and "file").
PROCESS_LABEL = "system_u:system_r:container_t:s0"
FILE_LABEL = "system_u:object_r:container_file_t:s0"
_KEYS = ("user", "role", "type", "level", "filetype", "disable", "nested")
MCS_CATEGORIES = 1024


def selinux_enabled(root: str = SELINUX_FS) -> bool:
    """SELinux is loaded (selinuxfs mounted and answering); enforcing or permissive."""
    return os.path.exists(os.path.join(root, "enforce"))


def apparmor_enabled(path: str = APPARMOR_ENABLED) -> bool:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


@dataclass(frozen=True)
class Labels:
    process: str  # "" when labeling is disabled
    mount: str

    @property
    def level(self) -> str:
        return ":".join(self.mount.split(":")[3:])


def parse(options: list[str]) -> dict[str, str]:
    """``["type:spc_t", "level:s0:c1,c2", "disable"]`` (the values of ``label=``) -> {key: value}."""
    out: dict[str, str] = {}
    for opt in options:
        key, sep, value = opt.partition(":")
        if (
            key not in _KEYS
            or (key in ("disable", "nested") and sep)
            or (key not in ("disable", "nested") and not value)
        ):
            raise InvalidArgument(
                f"invalid --security-opt label={opt}: use label=user:U, role:R, type:T, level:L, "
                "filetype:T or disable"
            )
        out[key] = value
    return out


def new_level(taken: set[str], rng: random.Random | None = None) -> str:
    """An MCS level of two distinct categories no other container holds (``s0:c3,c871``)."""
    rng = rng or random.SystemRandom()
    for _ in range(10000):
        a, b = sorted(rng.sample(range(MCS_CATEGORIES), 2))
        level = f"s0:c{a},c{b}"
        if level not in taken:
            return level
    raise InvalidArgument("no free SELinux MCS level: too many containers hold one")


def container_labels(options: list[str], taken: set[str], rng: random.Random | None = None) -> Labels:
    """The process and file labels for a container's ``label=`` options (Docker's InitLabels)."""
    opts = parse(options)
    if "disable" in opts:
        return Labels("", "")
    level = opts.get("level") or new_level(taken, rng)
    user, role, ptype, _ = PROCESS_LABEL.split(":", 3)
    fuser, frole, ftype, _ = FILE_LABEL.split(":", 3)
    process = ":".join((opts.get("user", user), opts.get("role", role), opts.get("type", ptype), level))
    mount = ":".join((opts.get("user", fuser), frole, opts.get("filetype", ftype), level))
    return Labels(process, mount)


def for_container(
    options: list[str], host_config: dict[str, Any], taken: set[str], *, share_with: str = "",
    rng: random.Random | None = None,
) -> Labels:  # fmt: skip
    """A new container's labels on an SELinux host, as dockerd's parseSecurityOpt + InitLabels.

    The host's ipc or pid namespace, or --privileged, turns labeling off (a confined process
    could not use them); ``share_with``, the process label of the container whose ipc or pid
    namespace this one joins, is taken over whole (dockerd's DupSecOpt), so both share a level.
    The container's own ``label=`` options come last and win.
    """
    base: list[str] = []
    if host_config.get("Privileged") or "host" in (host_config.get("IpcMode"), host_config.get("PidMode")):
        base = ["disable"]
    elif share_with:
        user, role, ptype, level = share_with.split(":", 3)
        base = [f"user:{user}", f"role:{role}", f"type:{ptype}", f"level:{level}"]
    return container_labels(base + list(options), taken, rng)


def shared_label(labels: Labels) -> str:
    """A ``:z`` volume's label: the container's file label at level s0, usable by all containers."""
    user, role, ftype = labels.mount.split(":")[:3]
    return f"{user}:{role}:{ftype}:s0"


#: Folders go-selinux's Relabel refuses: relabeling them would break the host itself.
_NEVER_RELABEL = frozenset(
    ("/", "/bin", "/boot", "/dev", "/etc", "/etc/passwd", "/etc/pki", "/etc/shadow", "/home", "/lib",
     "/lib64", "/media", "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr",
     "/var", "/var/lib", "/var/log")
)  # fmt: skip


def relabel_mount(source: str, mode: str, labels: Labels) -> str:
    """Relabel a bind or volume source for its ``z``/``Z`` mode; returns the label set, or "".

    ``Z``: the container's private label (its level); ``z``: the shared one (level s0), as
    go-selinux's label.Relabel. Nothing happens when the container is not labeled.
    """
    opts = set(mode.split(",")) if mode else set()
    if not labels.mount or not opts & {"z", "Z"}:
        return ""
    if os.path.normpath(source) in _NEVER_RELABEL:
        raise InvalidArgument(
            f"SELinux relabeling of {source} is not allowed: mount a folder below it, or drop :z/:Z"
        )
    label = labels.mount if "Z" in opts else shared_label(labels)
    relabel(source, label)
    return label


def relabel(path: str, label: str) -> None:
    """Set ``label`` on ``path`` and everything below it (``:z``/``:Z``); symlinks themselves."""
    value = label.encode() + b"\0"
    os.setxattr(path, XATTR, value, follow_symlinks=False)
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            os.setxattr(os.path.join(folder, name), XATTR, value, follow_symlinks=False)


def check_host(labels: list[str], apparmor: str, *, selinux: bool | None = None,
               apparmor_on: bool | None = None) -> None:  # fmt: skip
    """Refuse labels and profiles this host cannot apply, naming the option and the fix."""
    opts = parse(labels)
    wanted = [f"label={k}:{v}" if v else f"label={k}" for k, v in opts.items() if k != "disable"]
    if wanted and not (selinux if selinux is not None else selinux_enabled()):
        raise InvalidArgument(
            f"--security-opt {wanted[0]}: SELinux is not enabled on this host ({SELINUX_FS} is "
            "missing), so no container can be given a label: drop the option, or run on a host with "
            "SELinux enforcing"
        )
    if (
        apparmor
        and apparmor != "unconfined"
        and not (apparmor_on if apparmor_on is not None else apparmor_enabled())
    ):
        raise InvalidArgument(
            f"--security-opt apparmor={apparmor}: AppArmor is not enabled on this host "
            f"({APPARMOR_ENABLED} is not Y): drop the option or use apparmor=unconfined"
        )
