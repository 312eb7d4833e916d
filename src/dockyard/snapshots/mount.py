"""Mount and unmount overlay stacks described by :class:`~dockyard.snapshots.overlay.OverlayMount`.

Two ways, chosen once per process:

* Linux 6.8+: the new mount API with ``lowerdir+`` (one fsconfig call per layer, absolute
  paths, no length limit) — ``util.mountapi``.
* Older kernels (Debian 12's 6.1): mount(2) with one option string, which the kernel caps at one
  page (4096 bytes). Short relative names (``l/<26 chars>``) keep 100+ layers under it, but they
  are relative to the working directory, which is process-wide: a forked child chdirs to the
  overlay root and mounts, so the daemon's other threads never see a changed cwd.
"""

from __future__ import annotations

import errno
import os

from dockyard.errors import InvalidArgument, SystemFailure
from dockyard.snapshots.overlay import OverlayMount
from dockyard.util import mountapi, syscalls

PAGE = 4096


def _extra_options() -> list[str]:
    # index=off: with the index feature on, a lower shared by several mounts is "in use" and
    # later mounts fail with EBUSY; Docker turns it off the same way. redirect_dir=off keeps
    # renamed folders as full copies, so a container's upper folder is a plain diff.
    return ["index=off", "redirect_dir=off"] if os.path.exists("/sys/module/overlay/parameters/index") else []


def options(m: OverlayMount) -> str:
    opts = [f"lowerdir={':'.join(m.lowers)}"]
    if m.upper and m.work:
        opts += [f"upperdir={m.upper}", f"workdir={m.work}"]
    return ",".join(opts + _extra_options())


def mount_overlay(m: OverlayMount, target: str, *, use_new_api: bool | None = None) -> None:
    """Mount the stack at ``target`` (an existing folder)."""
    if use_new_api is None:
        use_new_api = mountapi.overlay_supports_lowerdir_plus()
    if use_new_api:
        _mount_new(m, target)
    else:
        _mount_classic(m, target)


def _mount_new(m: OverlayMount, target: str) -> None:
    try:
        with mountapi.FsContext("overlay") as ctx:
            ctx.set("source", "overlay")
            for lower in m.lower_paths():
                ctx.set("lowerdir+", str(lower))
            if m.upper and m.work:
                ctx.set("upperdir", str(m.base / m.upper))
                ctx.set("workdir", str(m.base / m.work))
            for opt in _extra_options():
                key, _, value = opt.partition("=")
                ctx.set(key, value)
            ctx.mount_at(target)
    except OSError as e:
        raise SystemFailure(f"overlay mount at {target} failed: {e}", e.errno or 0) from None


def _mount_classic(m: OverlayMount, target: str) -> None:
    data = options(m)
    if len(data) >= PAGE:
        raise InvalidArgument(
            f"overlay mount options are {len(data)} bytes, over the kernel's {PAGE}: the image has "
            f"{len(m.lowers)} layers; squash it or run a kernel with lowerdir+ (6.8+)"
        )
    if not os.path.isabs(target):
        raise InvalidArgument(f"mount target {target!r} must be an absolute path")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no Python-level cleanup, just chdir, mount, report errno
        code = 0
        try:
            os.close(r)
            os.chdir(m.base)
            syscalls.mount("overlay", target, "overlay", 0, data)
        except OSError as e:
            code = e.errno or errno.EIO
        except BaseException:
            code = errno.EIO
        os.write(w, code.to_bytes(4, "little"))
        os._exit(0)
    os.close(w)
    try:
        got = os.read(r, 4)
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    code = int.from_bytes(got, "little") if len(got) == 4 else errno.EIO
    if code:
        raise SystemFailure(f"overlay mount at {target} failed: {os.strerror(code)} (options {data})", code)


def unmount(target: str) -> None:
    """Unmount ``target``; idempotent (not mounted or gone is the asked-for state)."""
    try:
        syscalls.umount2(target, syscalls.UMOUNT_NOFOLLOW)
    except OSError as e:
        if e.errno in (errno.EINVAL, errno.ENOENT):
            return  # EINVAL: not a mount point (already unmounted)
        if e.errno == errno.EBUSY:
            # A process still has files open in it: detach now, the kernel frees it when they close.
            syscalls.umount2(target, syscalls.MNT_DETACH | syscalls.UMOUNT_NOFOLLOW)
            return
        raise SystemFailure(f"unmount of {target} failed: {e.strerror}", e.errno or 0) from None


def is_mounted(target: str) -> bool:
    real = os.path.realpath(target)
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            point = line.split(" ")[4]
            if point.encode().decode("unicode_escape") == real:
                return True
    return False
