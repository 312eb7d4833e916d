"""Where the host mounts its cgroup hierarchies, and where a container's cgroup goes in each.

Three layouts exist in the wild (kernel Documentation/admin-guide/cgroup-v2.rst, "Mounting"):

- ``v1``: one ``cgroup`` mount per hierarchy, each holding one or more controllers
  (``cpu,cpuacct`` are often co-mounted) or none (a named hierarchy such as ``name=systemd``);
- ``v2``: a single ``cgroup2`` mount (usually /sys/fs/cgroup) holding every controller;
- ``hybrid``: v1 hierarchies plus a ``cgroup2`` mount (systemd puts it at /sys/fs/cgroup/unified)
  holding the controllers no v1 hierarchy claimed. A controller lives in exactly one hierarchy.

The layout is read from /proc/self/mountinfo, never guessed from the folder names.
"""

from __future__ import annotations

import os

# Superblock options of a v1 cgroup mount that are flags, not controllers.
_FLAG_OPTIONS = frozenset(
    {"rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "favordynmods", "none"}
)

SYSTEMD_RUN_DIR = "/run/systemd/system"


class CgroupLayout:
    """The host's hierarchies.

    ``mode`` is "v1", "v2" or "hybrid". ``v1`` maps each v1 controller (and named hierarchy such as
    ``name=systemd``) to its mount point; co-mounted controllers share one. ``unified`` is the
    cgroup2 mount point (None on a pure v1 host). ``roots`` maps a mount point to the folder of the
    hierarchy it shows (mountinfo field 4; "/" unless only a sub-tree is mounted, as inside a
    container), needed to find the caller's own cgroup below that mount point.
    """

    __slots__ = ("mode", "roots", "unified", "v1")

    def __init__(
        self,
        mode: str,
        v1: dict[str, str] | None = None,
        unified: str | None = None,
        roots: dict[str, str] | None = None,
    ) -> None:
        if mode not in ("v1", "v2", "hybrid"):
            raise ValueError(f"cgroup layout mode {mode!r}: use v1, v2 or hybrid")
        self.mode = mode
        self.v1: dict[str, str] = dict(v1 or {})
        self.unified = unified
        self.roots: dict[str, str] = dict(roots or {})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CgroupLayout):
            return NotImplemented
        return (self.mode, self.v1, self.unified, self.roots) == (
            other.mode,
            other.v1,
            other.unified,
            other.roots,
        )

    def __repr__(self) -> str:
        return f"CgroupLayout(mode={self.mode!r}, v1={self.v1!r}, unified={self.unified!r})"

    def unified_controllers(self) -> list[str]:
        """Controllers the cgroup2 root offers (``cgroup.controllers``); [] without cgroup2."""
        if self.unified is None:
            return []
        try:
            with open(os.path.join(self.unified, "cgroup.controllers"), encoding="utf-8") as f:
                return f.read().split()
        except OSError:
            return []


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo (fs/proc_namespace.c).
    if "\\" not in field:
        return field
    out = []
    i = 0
    while i < len(field):
        c = field[i]
        digits = field[i + 1 : i + 4]
        if c == "\\" and len(digits) == 3 and all(d in "01234567" for d in digits):
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def parse_mountinfo(text: str, root: str = "/sys/fs/cgroup") -> CgroupLayout:
    """The layout described by mountinfo ``text``.

    When a hierarchy is mounted more than once (bind mounts, a container's view), the mount at or
    below ``root`` wins, then the first one listed.
    """
    v1: dict[str, str] = {}
    v1_under: dict[str, bool] = {}
    roots: dict[str, str] = {}
    unified: str | None = None
    unified_rank = -1
    for line in text.splitlines():
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
        except ValueError:
            continue
        if sep + 3 > len(fields):
            continue
        fstype = fields[sep + 1]
        if fstype not in ("cgroup", "cgroup2"):
            continue
        hroot = _unescape(fields[3])
        point = _unescape(fields[4])
        under = _under(point, root)
        if fstype == "cgroup2":
            rank = 2 if point == root else 1 if under else 0
            if rank > unified_rank:
                unified, unified_rank = point, rank
                roots[point] = hroot
            continue
        names = [
            o
            for o in fields[sep + 3].split(",")
            if o and o not in _FLAG_OPTIONS and ("=" not in o or o.startswith("name="))
        ]
        for name in names:
            if name not in v1 or (under and not v1_under[name]):
                v1[name] = point
                v1_under[name] = under
                roots[point] = hroot
    controllers = [n for n in v1 if not n.startswith("name=")]
    if unified is not None and not controllers:
        # Pure v2. A stray named v1 hierarchy (an old name=systemd for legacy containers) is not
        # where a v2 host's containers live.
        return CgroupLayout("v2", {}, unified, {unified: roots[unified]})
    used = set(v1.values())
    if unified is not None:
        used.add(unified)
    return CgroupLayout(
        "hybrid" if unified is not None else "v1", v1, unified, {p: r for p, r in roots.items() if p in used}
    )


def detect_layout(mountinfo: str = "/proc/self/mountinfo", root: str = "/sys/fs/cgroup") -> CgroupLayout:
    """The layout of this host, read from the mountinfo file at path ``mountinfo``."""
    with open(mountinfo, encoding="utf-8", errors="surrogateescape") as f:
        return parse_mountinfo(f.read(), root)


def own_cgroups(path: str = "/proc/self/cgroup") -> dict[str, str]:
    """The caller's cgroup in each hierarchy: controller (or name=X, or "" for cgroup2) -> path.

    /proc/self/cgroup lines are ``ID:CONTROLLERS:PATH``; PATH may itself contain ':'.
    """
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[1] == "":
            out[""] = parts[2]
            continue
        for name in parts[1].split(","):
            out[name] = parts[2]
    return out


def clean_path(path: str) -> str:
    """runc's CleanPath: lexically clean; a relative path can never climb above its start."""
    if not path:
        return ""
    path = os.path.normpath(path)
    if not path.startswith("/"):
        path = os.path.relpath(os.path.normpath("/" + path), "/")
    # normpath keeps a leading "//" (POSIX allows it a meaning); a cgroup path never has one.
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    return path


def cgroup_dir(mountpoint: str, mount_root: str, own: str | None, inner: str) -> str:
    """The folder of cgroup ``inner`` in the hierarchy mounted at ``mountpoint``.

    An absolute ``inner`` is relative to the mount point (runc: "relative to each hierarchy
    root"); a relative one to the caller's own cgroup ``own`` in that hierarchy, which
    /proc/self/cgroup gives as a path from the hierarchy's root, not from ``mount_root``.
    """
    if inner.startswith("/"):
        return os.path.normpath(mountpoint + inner) if inner != "/" else mountpoint
    base = mountpoint
    if own:
        rel = own
        if mount_root not in ("", "/") and _under(own, mount_root):
            rel = own[len(mount_root.rstrip("/")) :]
        elif mount_root not in ("", "/"):
            # Our cgroup lies outside the mounted sub-tree (another cgroup namespace): the best
            # place we can reach is the mount point itself.
            rel = "/"
        if rel not in ("", "/"):
            base = os.path.normpath(mountpoint + rel)
    return os.path.normpath(os.path.join(base, inner)) if inner not in ("", ".") else base


def systemd_path(cgroups_path: str | None, container_id: str) -> str:
    """The cgroup path systemd gives the unit of runc's ``slice:prefix:name`` cgroupsPath.

    runc (libcontainer/cgroups/systemd) asks systemd over D-Bus for a transient scope
    ``prefix-name.scope`` in ``slice`` (default ``system.slice`` and prefix ``runc``); a slice
    ``a-b.slice`` lives at /a.slice/a-b.slice. A ``name`` ending in ``.slice`` is a slice itself.
    """
    from dockyard.errors import ConfigError

    if cgroups_path:
        parts = cgroups_path.split(":")
        if len(parts) != 3:
            raise ConfigError(
                "linux.cgroupsPath",
                f'expected "slice:prefix:name" for systemd cgroups, got {cgroups_path!r}',
            )
        parent, prefix, name = parts
    else:
        parent, prefix, name = "system.slice", "runc", container_id
    if not parent:
        parent = "system.slice"
    path = expand_slice(parent)
    unit = f"{prefix}-{name}.scope" if prefix else f"{name}.scope"
    if name.endswith(".slice"):
        unit = name
    return path.rstrip("/") + "/" + unit


def expand_slice(slice_name: str) -> str:
    """``a-b-c.slice`` -> ``/a.slice/a-b.slice/a-b-c.slice``; ``-.slice`` is the root."""
    from dockyard.errors import ConfigError

    suffix = ".slice"
    if not slice_name.endswith(suffix) or "/" in slice_name:
        raise ConfigError("linux.cgroupsPath", f"invalid systemd slice name {slice_name!r}")
    if slice_name == "-.slice":
        return "/"
    stem = slice_name[: -len(suffix)]
    if not stem or stem.startswith("-") or stem.endswith("-") or "--" in stem:
        raise ConfigError("linux.cgroupsPath", f"invalid systemd slice name {slice_name!r}")
    path = ""
    prefix = ""
    for component in stem.split("-"):
        prefix = f"{prefix}-{component}" if prefix else component
        path += f"/{prefix}{suffix}"
    return path
