"""The container's filesystem view, built inside its new mount namespace.

Order (as runc's prepareRootfs / finalizeRootfs):
  1. make "/" a slave (or rootfsPropagation) so nothing propagates back to the host;
  2. bind the rootfs onto itself: pivot_root(2) needs new_root to be a mount point;
  3. each config mount, its destination resolved inside the rootfs (paths.secure_join);
  4. default devices, /dev/ptmx -> pts/ptmx, /dev/fd and std* links (before cgroup mounts that
     end the list, which may have to wait: see _trailing_cgroup_mounts);
  5. (the caller runs createContainer hooks) pivot_root, detach the old root;
  6. after the console and sysctls: readonly paths, masked paths, readonly root.
"""

from __future__ import annotations

import os
import stat

from dockyard.errors import ConfigError, SystemFailure
from dockyard.runtime import mounts as mopts
from dockyard.runtime import selinux
from dockyard.runtime.paths import (
    ensure_file_inside,
    mkdir_all_inside,
    open_inside,
    secure_join,
)
from dockyard.util import syscalls as sc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

DEFAULT_DEVICES = (
    # path, type, major, minor, mode
    ("/dev/null", "c", 1, 3, 0o666),
    ("/dev/zero", "c", 1, 5, 0o666),
    ("/dev/full", "c", 1, 7, 0o666),
    ("/dev/random", "c", 1, 8, 0o666),
    ("/dev/urandom", "c", 1, 9, 0o666),
    ("/dev/tty", "c", 5, 0, 0o666),
)


class RootfsContext:
    """What mounting needs to know beyond config.json."""

    def __init__(
        self,
        cfg: dict[str, Any],
        bundle: str,
        userns: bool,
        cgroupns: bool,
        cgroup_paths: dict[str, str],
        cgroup_mounts: list[tuple[str, str, str]],
        cgroup_ready: Callable[[], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.root: str = cfg["root"]["path"]
        self.bundle = bundle
        self.userns = userns
        self.cgroupns = cgroupns
        self.cgroup_paths = cgroup_paths
        # (name inside /sys/fs/cgroup, fstype, mount data) of each host hierarchy
        self.cgroup_mounts = cgroup_mounts
        # Called before a cgroup filesystem is mounted: the cgroup folders must exist (and, with a
        # new cgroup namespace, the init be in its cgroup) by then (init.CgroupSync.made).
        self.cgroup_ready = cgroup_ready
        self.dev_is_bind = False
        # linux.mountLabel: the context= of every filesystem made here (runtime/selinux.py)
        self.mount_label: str = (cfg.get("linux") or {}).get("mountLabel") or ""


def _mount_at(
    ctx: RootfsContext, source: str | None, dest: str, fstype: str | None, flags: int, data: str | None
) -> None:
    """Mount onto ``dest`` (inside the rootfs) through a verified O_PATH fd, never a raw path."""
    fd = open_inside(ctx.root, dest)
    try:
        sc.mount(source, f"/proc/self/fd/{fd}", fstype, flags, data)
    finally:
        os.close(fd)


def prepare(ctx: RootfsContext) -> None:
    linux = ctx.cfg.get("linux") or {}
    prop = linux.get("rootfsPropagation") or "rslave"
    pflag = mopts.PROPAGATION[prop if prop.startswith("r") else "r" + prop] | sc.MS_REC
    sc.mount(None, "/", None, pflag | sc.MS_REC, None)
    sc.mount(ctx.root, ctx.root, "bind", sc.MS_BIND | sc.MS_REC, None)
    mounts = list(enumerate(ctx.cfg.get("mounts") or []))
    last = _trailing_cgroup_mounts(mounts, linux.get("devices") or [])
    for i, m in mounts[: len(mounts) - len(last)]:
        _mount_numbered(ctx, i, m)
    create_devices(ctx)
    setup_dev_links(ctx)
    for i, m in last:
        _mount_numbered(ctx, i, m)


def _trailing_cgroup_mounts(
    mounts: list[tuple[int, dict[str, Any]]], devices: list[dict[str, Any]]
) -> list[tuple[int, dict[str, Any]]]:
    """The cgroup mounts at the end of the list, when the devices may go in before them.

    A cgroup mount is the one step that waits for the runtime (the cgroup folders, possibly a
    grace period away: init.CgroupSync); /sys/fs/cgroup, where it goes, is usually the last
    mount, and the device nodes and links of /dev do not care whether it is there yet. So those
    are made first, unless a cgroup mount goes under /dev or a device under a cgroup mount.
    """
    last: list[tuple[int, dict[str, Any]]] = []
    for i, m in reversed(mounts):
        if (m.get("type") or "") != "cgroup":
            break
        last.insert(0, (i, m))
    for _, m in last:
        dest = "/" + m["destination"].strip("/")
        under = [d for d in devices if (d.get("path") or "").startswith(dest + "/")]
        if dest == "/dev" or dest.startswith("/dev/") or under:
            return []
    return last


def _mount_numbered(ctx: RootfsContext, i: int, m: dict[str, Any]) -> None:
    try:
        mount_one(ctx, m)
    except OSError as exc:
        raise SystemFailure(
            f"config.json: mounts[{i}] ({m.get('type') or 'bind'} on {m['destination']}): "
            f"{exc.strerror or exc}",
            exc.errno or 0,
        ) from None


def mount_one(ctx: RootfsContext, m: dict[str, Any]) -> None:
    dest_rel: str = m["destination"]
    if not dest_rel.startswith("/"):
        dest_rel = "/" + dest_rel  # relative destinations are relative to "/" (runtime-spec 1.1)
    dest = secure_join(ctx.root, dest_rel)
    kind = m.get("type") or ""
    opts = mopts.parse(m.get("options") or [])
    source = m.get("source") or kind
    is_bind = bool(opts.flags & sc.MS_BIND) or kind == "bind"
    if dest_rel.rstrip("/") == "/dev" and is_bind:
        ctx.dev_is_bind = True
    if is_bind:
        src = source if os.path.isabs(source) else os.path.join(ctx.bundle, source)
        if not os.path.exists(src):
            raise OSError(2, f"bind source {src} does not exist")
        if os.path.isdir(src):
            mkdir_all_inside(ctx.root, dest)
        else:
            ensure_file_inside(ctx.root, dest)
        flags = opts.flags | sc.MS_BIND
        _mount_at(ctx, src, dest, None, flags & (sc.MS_BIND | sc.MS_REC), None)
        # A bind mount ignores every other flag on the first call: apply them with a remount,
        # keeping the flags the kernel locked on the source (see mounts.locked_flags).
        extra = flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT)
        if extra:
            locked = mopts.locked_flags(dest)
            _mount_at(
                ctx, None, dest, None, sc.MS_BIND | sc.MS_REMOUNT | extra | (locked & ~sc.MS_RDONLY), None
            )
    elif kind == "cgroup":
        _mount_cgroup(ctx, dest, opts)
        return
    else:
        mkdir_all_inside(ctx.root, dest)
        if kind == "proc" or kind == "sysfs":
            st = os.lstat(dest)
            if not stat.S_ISDIR(st.st_mode):
                raise ConfigError("mounts", f"{kind} must be mounted on a directory, {dest_rel} is not one")
        flags = opts.flags
        readonly_after = False
        if kind == "tmpfs" and flags & sc.MS_RDONLY:
            # Mount rw first so tmpcopyup can fill it, then remount read-only (as runc does).
            flags &= ~sc.MS_RDONLY
            readonly_after = True
        data = selinux.mount_data(kind, opts.data, ctx.mount_label)
        try:
            _mount_at(ctx, source, dest, kind, flags, data or None)
            if selinux.labels_after_mount(kind, ctx.mount_label):
                fd = open_inside(ctx.root, dest)
                try:
                    selinux.set_file_label(f"/proc/self/fd/{fd}", ctx.mount_label)
                finally:
                    os.close(fd)
        except OSError as exc:
            if exc.errno == 1 and kind in ("sysfs", "mqueue") and ctx.userns:
                # Without a new network namespace (sysfs) or ipc namespace (mqueue) a user namespace
                # may not mount them: fall back to a recursive bind of the host's, as runc does.
                _mount_at(
                    ctx,
                    "/sys" if kind == "sysfs" else "/dev/mqueue",
                    dest,
                    None,
                    sc.MS_BIND | sc.MS_REC,
                    None,
                )
            else:
                raise
        if "tmpcopyup" in opts.extensions:
            pass  # the destination was empty in our rootfs image model; nothing to copy up
        if readonly_after:
            _mount_at(ctx, None, dest, None, sc.MS_REMOUNT | flags | sc.MS_RDONLY, data or None)
    for p in opts.propagation:
        _mount_at(ctx, None, dest, None, p, None)


def _mount_cgroup(ctx: RootfsContext, dest: str, opts: mopts.MountOptions) -> None:
    """/sys/fs/cgroup inside: v2 is one mount; v1 is a tmpfs holding one mount per hierarchy.

    With a cgroup namespace the kernel shows the container's cgroup as the root of a fresh cgroup
    mount; without one we bind the container's own cgroup directories instead, so it never sees
    (or writes) its neighbours'.
    """
    if ctx.cgroup_ready is not None:
        ctx.cgroup_ready()
    mkdir_all_inside(ctx.root, dest)
    flags = opts.flags & ~sc.MS_BIND
    ro = flags & sc.MS_RDONLY
    base = flags & (sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    if len(ctx.cgroup_mounts) == 1 and ctx.cgroup_mounts[0][0] == "":
        _mount_cgroup_fs(ctx, dest, "cgroup2", "", base | ro, "unified")
        return
    _mount_at(ctx, "tmpfs", dest, "tmpfs", base, "mode=755")
    for name, fstype, data in ctx.cgroup_mounts:
        sub = dest + "/" + name
        mkdir_all_inside(ctx.root, sub)
        _mount_cgroup_fs(ctx, sub, fstype, data, base | ro, name)
        # Comounted controllers (cpu,cpuacct) are also reachable by each name, as on the host.
        if "," in name:
            for alias in name.split(","):
                link = dest + "/" + alias
                if not os.path.lexists(link):
                    os.symlink(name, link)
    if ro:
        _mount_at(ctx, None, dest, None, sc.MS_REMOUNT | base | sc.MS_RDONLY, "mode=755")


def _mount_cgroup_fs(ctx: RootfsContext, dest: str, fstype: str, data: str, flags: int, key: str) -> None:
    host_dir = ctx.cgroup_paths.get(key) or ctx.cgroup_paths.get(data.split(",")[-1] if data else "")
    if ctx.cgroupns or not host_dir:
        _mount_at(ctx, fstype, dest, fstype, flags & ~sc.MS_RDONLY, data or None)
        if flags & sc.MS_RDONLY:
            _mount_at(ctx, None, dest, None, sc.MS_BIND | sc.MS_REMOUNT | flags, None)
        return
    _mount_at(ctx, host_dir, dest, None, sc.MS_BIND | sc.MS_REC, None)
    if flags:
        _mount_at(ctx, None, dest, None, sc.MS_BIND | sc.MS_REMOUNT | flags, None)


def _dev_path(ctx: RootfsContext, path: str) -> str:
    return secure_join(ctx.root, path)


def create_devices(ctx: RootfsContext) -> None:
    if ctx.dev_is_bind:
        return  # the host's /dev (or another) is bound: devices come with it (privileged)
    devices: list[tuple[str, str, int, int, int, int, int]] = []
    configured = {d["path"] for d in (ctx.cfg.get("linux") or {}).get("devices") or []}
    for path, kind, major, minor, mode in DEFAULT_DEVICES:
        if path not in configured:
            devices.append((path, kind, major, minor, mode, 0, 0))
    for d in (ctx.cfg.get("linux") or {}).get("devices") or []:
        devices.append(
            (
                d["path"],
                d["type"],
                d.get("major", 0),
                d.get("minor", 0),
                d.get("fileMode", 0o666),
                d.get("uid", 0),
                d.get("gid", 0),
            )
        )
    for path, kind, major, minor, mode, uid, gid in devices:
        dest = _dev_path(ctx, path)
        mkdir_all_inside(ctx.root, os.path.dirname(dest))
        if os.path.lexists(dest):
            st = os.lstat(dest)
            is_dev = stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            if is_dev and (os.major(st.st_rdev), os.minor(st.st_rdev)) == (major, minor):
                continue
            if stat.S_ISDIR(st.st_mode):
                raise ConfigError("linux.devices", f"{path} is a directory in the rootfs")
            os.unlink(dest)
        if ctx.userns:
            # mknod(2) is not allowed in a user namespace: bind the host's node instead (runc too).
            ensure_file_inside(ctx.root, dest)
            _mount_at(ctx, path, dest, None, sc.MS_BIND, None)
            continue
        kind_bits = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[kind]
        old = os.umask(0)
        try:
            os.mknod(dest, kind_bits | (mode & 0o7777), os.makedev(major, minor) if kind != "p" else 0)
        finally:
            os.umask(old)
        os.chown(dest, uid, gid)


def setup_dev_links(ctx: RootfsContext) -> None:
    if ctx.dev_is_bind:
        return
    links = [
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
    ]
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "/dev/core"))
    for target, link in links:
        dest = _dev_path(ctx, link)
        if os.path.lexists(dest):
            continue
        mkdir_all_inside(ctx.root, os.path.dirname(dest))
        os.symlink(target, dest)
    # /dev/ptmx must be the container's own devpts instance (newinstance), not the host's.
    pts = _dev_path(ctx, "/dev/pts")
    if os.path.isdir(pts) and os.path.ismount(pts):
        ptmx = _dev_path(ctx, "/dev/ptmx")
        if os.path.lexists(ptmx):
            os.unlink(ptmx)
        os.symlink("pts/ptmx", ptmx)


def pivot(ctx: RootfsContext, no_pivot: bool) -> None:
    if no_pivot:
        # --no-pivot (for ramfs roots where pivot_root is impossible): move the root mount onto /
        # and chroot; weaker, because the old root stays reachable to a process with CAP_SYS_CHROOT.
        os.chdir(ctx.root)
        sc.mount(ctx.root, "/", None, sc.MS_MOVE, None)
        os.chroot(".")
        os.chdir("/")
        return
    old = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new = os.open(ctx.root, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        # pivot_root(".", ".") stacks the old root under the new one at the same place; it is then
        # detached from there, so no temporary put_old folder is needed inside the rootfs.
        os.fchdir(new)
        sc.pivot_root(".", ".")
        os.fchdir(old)
        sc.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC, None)
        sc.umount2(".", sc.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(old)
        os.close(new)


def apply_sysctls(sysctl: dict[str, str]) -> None:
    for key, value in sysctl.items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError as exc:
            raise ConfigError(f"linux.sysctl.{key}", f"cannot set to {value!r}: {exc.strerror}") from None


def readonly_path(path: str) -> None:
    try:
        sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC, None)
    except FileNotFoundError:
        return  # the spec: paths that do not exist are skipped
    locked = mopts.locked_flags(path)
    sc.mount(None, path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | locked, None)


def mask_path(path: str, mount_label: str = "") -> None:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    if stat.S_ISDIR(st.st_mode):
        sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY, selinux.format_mount_label("", mount_label) or None)
    else:
        sc.mount("/dev/null", path, None, sc.MS_BIND, None)


def readonly_root() -> None:
    locked = mopts.locked_flags("/")
    sc.mount(None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | locked, None)


def remount_ro_if_requested(cfg: dict[str, Any]) -> None:
    """A "ro" /dev mount is remounted read-only only after devices were created in it."""
    for m in cfg.get("mounts") or []:
        if m.get("destination", "").rstrip("/") == "/dev" and "ro" in (m.get("options") or []):
            sc.mount(None, "/dev", None, sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_BIND, None)
