"""A container's overlay root whose image layers show up remapped: idmapped lower layers.

For a container in a remapped user namespace (engine/userns.py) the image's files must belong
to the range's ids, or container root cannot write where image root could. Instead of a chowned
copy of every layer, each lower folder is cloned as a detached mount (open_tree OPEN_TREE_CLONE)
and idmapped (mount_setattr MOUNT_ATTR_IDMAP, Linux 5.12) with a user namespace holding the
container's map; overlayfs accepts idmapped lower layers since Linux 5.19 and keeps its own
private clones of them, so the detached mounts are closed once the overlay is mounted and
nothing shows up in the mount table but the overlay itself. The upper and work folders are
plain folders whose roots are chowned to the range's first id: what the container writes lands
there owned by its host ids (100000 for container root).

``supported()`` probes once; without idmapped overlay layers the engine falls back to remapped
copies of the layers (engine/remapped_layers.py), as dockerd always does.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import threading
from pathlib import Path

from dockyard.engine.userns import IdMap
from dockyard.errors import SystemFailure
from dockyard.snapshots.mount import mount_overlay
from dockyard.snapshots.overlay import OverlayMount
from dockyard.util import mountapi, syscalls

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

NR_OPEN_TREE = 428
NR_MOUNT_SETATTR = 442
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
MOUNT_ATTR_IDMAP = 0x00100000


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


_userns_fds: dict[IdMap, int] = {}
_lock = threading.Lock()


def userns_fd(idmap: IdMap) -> int:
    """An fd of a user namespace with ``idmap``'s mappings, made once per map (daemon lifetime).

    A child unshares a user namespace and waits; we write its uid_map/gid_map from here (the
    parent namespace, with CAP_SETUID/CAP_SETGID: no setgroups "deny" needed), open its
    /proc/PID/ns/user, and let it exit: the open fd keeps the namespace alive.
    """
    with _lock:
        if idmap in _userns_fds:
            return _userns_fds[idmap]
        ready_r, ready_w = os.pipe()
        done_r, done_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: only syscalls, then _exit (the daemon has threads)
            code = 0
            try:
                os.close(ready_r)
                os.close(done_w)
                syscalls.unshare(syscalls.CLONE_NEWUSER)
                os.write(ready_w, b"1")
                os.read(done_r, 1)
            except BaseException:
                code = 1
            os._exit(code)
        os.close(ready_w)
        os.close(done_r)
        try:
            if os.read(ready_r, 1) != b"1":
                raise SystemFailure("could not make a user namespace for idmapped mounts (unshare failed)")
            with open(f"/proc/{pid}/uid_map", "w", encoding="ascii") as f:
                f.write(f"0 {idmap.uid_start} {idmap.size}\n")
            with open(f"/proc/{pid}/gid_map", "w", encoding="ascii") as f:
                f.write(f"0 {idmap.gid_start} {idmap.size}\n")
            fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        finally:
            os.close(ready_r)
            os.close(done_w)
            os.waitpid(pid, 0)
        _userns_fds[idmap] = fd
        return fd


def idmapped_clone(path: str, ns_fd: int) -> int:
    """A detached, idmapped clone of the mount at ``path`` (an O_PATH-like fd)."""
    fd = int(_libc.syscall(NR_OPEN_TREE, -100, path.encode(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"open_tree {path}: {os.strerror(err)}")
    attr = _MountAttr(MOUNT_ATTR_IDMAP, 0, 0, ns_fd)
    rc = int(_libc.syscall(NR_MOUNT_SETATTR, fd, b"", AT_EMPTY_PATH, ctypes.byref(attr), ctypes.sizeof(attr)))
    if rc < 0:
        err = ctypes.get_errno()
        os.close(fd)
        raise OSError(err, f"mount_setattr MOUNT_ATTR_IDMAP {path}: {os.strerror(err)}")
    return fd


def mount_idmapped_overlay(m: OverlayMount, target: str, idmap: IdMap) -> None:
    """Mount the stack at ``target`` with its lower layers idmapped into ``idmap``."""
    if m.upper and m.work:
        for folder in (m.base / m.upper, m.base / m.work):
            st = os.stat(folder)
            if (st.st_uid, st.st_gid) != (idmap.uid_start, idmap.gid_start):
                os.chown(folder, idmap.uid_start, idmap.gid_start)
    if not m.lowers:
        mount_overlay(m, target)
        return
    ns = userns_fd(idmap)
    fds: list[int] = []
    try:
        for lower in m.lower_paths():
            fds.append(idmapped_clone(str(lower), ns))
        try:
            with mountapi.FsContext("overlay") as ctx:
                ctx.set("source", "overlay")
                # overlayfs resolves each layer path and takes a private clone of its mount, so
                # the magic link to our detached clone is enough and the clone can go after.
                for fd in fds:
                    ctx.set("lowerdir+", f"/proc/self/fd/{fd}")
                if m.upper and m.work:
                    ctx.set("upperdir", str(m.base / m.upper))
                    ctx.set("workdir", str(m.base / m.work))
                for opt in ("index=off", "redirect_dir=off"):
                    key, _, value = opt.partition("=")
                    ctx.set(key, value)
                ctx.mount_at(target)
        except OSError as e:
            raise SystemFailure(f"idmapped overlay mount at {target} failed: {e}", e.errno or 0) from None
    finally:
        for fd in fds:
            os.close(fd)


_supported: bool | None = None


def supported(scratch: Path) -> bool:
    """This kernel mounts overlays over idmapped layers (probed once in ``scratch``)."""
    global _supported
    if _supported is not None:
        return _supported
    if not mountapi.overlay_supports_lowerdir_plus():
        _supported = False
        return False
    probe = scratch / f".idmap-probe-{os.getpid()}"
    try:
        for sub in ("lower", "upper", "work", "merged"):
            (probe / sub).mkdir(parents=True, exist_ok=True)
        m = OverlayMount(base=probe, lowers=("lower",), upper="upper", work="work")
        try:
            mount_idmapped_overlay(m, str(probe / "merged"), IdMap(100000, 100000, 65536))
        except (OSError, SystemFailure):
            _supported = False
        else:
            syscalls.umount2(str(probe / "merged"), syscalls.MNT_DETACH)
            _supported = True
    finally:
        shutil.rmtree(probe, ignore_errors=True)
    return _supported
