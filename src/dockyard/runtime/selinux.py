"""SELinux in the runtime: ``linux.mountLabel`` on the mounts it makes, ``process.selinuxLabel``.

As runc (libcontainer/rootfs_linux.go with go-selinux's label.FormatMountLabel): the
filesystems the runtime creates inside the container (tmpfs such as /dev and /dev/shm, devpts,
and any other new filesystem) take the mount label as a ``context="..."`` mount option, so every
file on them carries the container's MCS level from the start. The value is quoted because a
level lists its categories with commas (``s0:c1,c2``), which would otherwise end the option.
Bind mounts cannot take a context (the daemon relabels their source for ``:z``/``:Z``);
proc, sysfs and cgroup keep the kernel's own labels (genfscon) as with runc; mqueue refuses
``context=``, so its root is labeled through the ``security.selinux`` xattr after mounting.
A masked folder's read-only tmpfs takes the label too, as runc's maskPath does.
"""

from __future__ import annotations

import os

SELINUX_FS = "/sys/fs/selinux"
XATTR = "security.selinux"

#: Filesystems mounted with the label only after the fact (xattr), or never.
_XATTR_AFTER = frozenset({"mqueue"})
_UNLABELED = frozenset({"bind", "proc", "sysfs", "cgroup", "cgroup2"})


def enabled(root: str = SELINUX_FS) -> bool:
    """SELinux is loaded here (selinuxfs answers), enforcing or permissive."""
    return os.path.exists(os.path.join(root, "enforce"))


def format_mount_label(data: str, label: str) -> str:
    """``data`` with ``context="label"`` added (go-selinux FormatMountLabel); unchanged without one."""
    if not label:
        return data
    context = f'context="{label}"'
    return f"{data},{context}" if data else context


def mount_data(kind: str, data: str, label: str, *, bind: bool = False) -> str:
    """The data argument of mount(2) for a config mount of type ``kind`` under ``label``."""
    if bind or kind in _UNLABELED or kind in _XATTR_AFTER:
        return data
    return format_mount_label(data, label)


def labels_after_mount(kind: str, label: str) -> bool:
    """The mount's root is labeled by xattr once mounted (mqueue: no context= option)."""
    return bool(label) and kind in _XATTR_AFTER


def set_file_label(path: str, label: str) -> None:
    os.setxattr(path, XATTR, label.encode() + b"\0")
