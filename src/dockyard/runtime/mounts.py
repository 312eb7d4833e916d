"""Mount option strings of config.json -> mount(2) flags, propagation and fs data (runc's table)."""

from __future__ import annotations

from dockyard.util import syscalls as sc

# option -> (clear?, flag). "clear" options remove a flag another option (or the default) set.
FLAGS: dict[str, tuple[bool, int]] = {
    "acl": (False, 1 << 16),
    "async": (True, sc.MS_SYNCHRONOUS),
    "atime": (True, sc.MS_NOATIME),
    "bind": (False, sc.MS_BIND),
    "defaults": (False, 0),
    "dev": (True, sc.MS_NODEV),
    "diratime": (True, sc.MS_NODIRATIME),
    "dirsync": (False, sc.MS_DIRSYNC),
    "exec": (True, sc.MS_NOEXEC),
    "iversion": (False, 1 << 23),
    "lazytime": (False, sc.MS_LAZYTIME),
    "loud": (True, sc.MS_SILENT),
    "mand": (False, sc.MS_MANDLOCK),
    "noacl": (True, 1 << 16),
    "noatime": (False, sc.MS_NOATIME),
    "nodev": (False, sc.MS_NODEV),
    "nodiratime": (False, sc.MS_NODIRATIME),
    "noexec": (False, sc.MS_NOEXEC),
    "noiversion": (True, 1 << 23),
    "nolazytime": (True, sc.MS_LAZYTIME),
    "nomand": (True, sc.MS_MANDLOCK),
    "norelatime": (True, sc.MS_RELATIME),
    "nostrictatime": (True, sc.MS_STRICTATIME),
    "nosuid": (False, sc.MS_NOSUID),
    "nosymfollow": (False, sc.MS_NOSYMFOLLOW),
    "rbind": (False, sc.MS_BIND | sc.MS_REC),
    "relatime": (False, sc.MS_RELATIME),
    "remount": (False, sc.MS_REMOUNT),
    "ro": (False, sc.MS_RDONLY),
    "rw": (True, sc.MS_RDONLY),
    "silent": (False, sc.MS_SILENT),
    "strictatime": (False, sc.MS_STRICTATIME),
    "suid": (True, sc.MS_NOSUID),
    "symfollow": (True, sc.MS_NOSYMFOLLOW),
    "sync": (False, sc.MS_SYNCHRONOUS),
}
PROPAGATION: dict[str, int] = {
    "private": sc.MS_PRIVATE,
    "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED,
    "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE,
    "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE,
    "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}
# Options runc understands that are neither flags nor fs data.
EXTENSIONS = {"tmpcopyup"}


class MountOptions:
    __slots__ = ("data", "extensions", "flags", "propagation")

    def __init__(self, flags: int, propagation: list[int], data: str, extensions: set[str]) -> None:
        self.flags = flags
        self.propagation = propagation
        self.data = data
        self.extensions = extensions


def parse(options: list[str]) -> MountOptions:
    flags = 0
    propagation: list[int] = []
    data: list[str] = []
    extensions: set[str] = set()
    for opt in options:
        if opt in FLAGS:
            clear, flag = FLAGS[opt]
            if clear:
                flags &= ~flag
            else:
                flags |= flag
        elif opt in PROPAGATION:
            propagation.append(PROPAGATION[opt])
        elif opt in EXTENSIONS:
            extensions.add(opt)
        else:
            data.append(opt)
    return MountOptions(flags, propagation, ",".join(data), extensions)


# statvfs f_flag bits -> mount flags: a bind remount must repeat the flags the kernel locked on the
# source (nosuid/nodev/noexec/ro/atime bits), or it fails with EPERM inside a user namespace.
_ST_TO_MS = (
    (1, sc.MS_RDONLY),
    (2, sc.MS_NOSUID),
    (4, sc.MS_NODEV),
    (8, sc.MS_NOEXEC),
    (1024, sc.MS_NOATIME),
    (2048, sc.MS_NODIRATIME),
    (4096, sc.MS_RELATIME),
)


def locked_flags(path: str) -> int:
    import os

    st_flags = os.statvfs(path).f_flag
    out = 0
    for st, ms in _ST_TO_MS:
        if st_flags & st:
            out |= ms
    return out
