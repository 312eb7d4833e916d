"""The new mount API (fsopen, fsconfig, fsmount, move_mount; Linux 5.2+) through ctypes.

Python 3.11's ``os`` wraps none of these. The point of using them here is overlayfs's
``lowerdir+`` key (Linux 6.8+): one fsconfig call per lower layer, so the number of layers is not
limited by mount(2)'s one-page option string. :func:`overlay_supports_lowerdir_plus` probes once.
The syscall numbers are the same on every architecture (the unified table from 424 on).
Standard library only.
"""

from __future__ import annotations

import ctypes
import errno
import os

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

NR_MOVE_MOUNT = 429
NR_FSOPEN = 430
NR_FSCONFIG = 431
NR_FSMOUNT = 432

FSOPEN_CLOEXEC = 0x1
FSMOUNT_CLOEXEC = 0x1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6
MOVE_MOUNT_F_EMPTY_PATH = 0x4
AT_FDCWD = -100


def _call(nr: int, *args: object, what: str) -> int:
    ret = int(_libc.syscall(ctypes.c_long(nr), *args))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


class FsContext:
    """One filesystem context: configure with :meth:`set`, then :meth:`mount_at` a target."""

    def __init__(self, fstype: str) -> None:
        self.fstype = fstype
        self.fd = _call(NR_FSOPEN, fstype.encode(), ctypes.c_uint(FSOPEN_CLOEXEC), what=f"fsopen({fstype})")

    def set(self, key: str, value: str | None = None) -> None:
        if value is None:
            _call(
                NR_FSCONFIG,
                ctypes.c_int(self.fd),
                ctypes.c_uint(FSCONFIG_SET_FLAG),
                key.encode(),
                None,
                ctypes.c_int(0),
                what=self._what(key),
            )
        else:
            _call(
                NR_FSCONFIG,
                ctypes.c_int(self.fd),
                ctypes.c_uint(FSCONFIG_SET_STRING),
                key.encode(),
                value.encode(),
                ctypes.c_int(0),
                what=self._what(f"{key}={value}"),
            )

    def mount_at(self, target: str, attr_flags: int = 0) -> None:
        _call(
            NR_FSCONFIG,
            ctypes.c_int(self.fd),
            ctypes.c_uint(FSCONFIG_CMD_CREATE),
            None,
            None,
            ctypes.c_int(0),
            what=self._what("create"),
        )
        mfd = _call(
            NR_FSMOUNT,
            ctypes.c_int(self.fd),
            ctypes.c_uint(FSMOUNT_CLOEXEC),
            ctypes.c_uint(attr_flags),
            what="fsmount",
        )
        try:
            _call(
                NR_MOVE_MOUNT,
                ctypes.c_int(mfd),
                b"",
                ctypes.c_int(AT_FDCWD),
                target.encode(),
                ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH),
                what=f"move_mount to {target}",
            )
        finally:
            os.close(mfd)

    def _what(self, step: str) -> str:
        # The kernel explains a refused parameter in the context's message log ("e overlay: ...").
        msgs = self.messages()
        return f"fsconfig {self.fstype} {step}" + (f" ({'; '.join(msgs)})" if msgs else "")

    def messages(self) -> list[str]:
        out = []
        os.set_blocking(self.fd, False)
        while True:
            try:
                data = os.read(self.fd, 1024)
            except OSError:
                break
            if not data:
                break
            out.append(data.decode(errors="replace").strip())
        return out

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> FsContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_lowerdir_plus: bool | None = None


def overlay_supports_lowerdir_plus() -> bool:
    """True when fsopen works and overlayfs takes ``lowerdir+`` (Linux 6.8+); probed once."""
    global _lowerdir_plus
    if _lowerdir_plus is None:
        try:
            with FsContext("overlay") as ctx:
                ctx.set("lowerdir+", "/")
            _lowerdir_plus = True
        except OSError as e:
            # ENOSYS: no new mount API; EINVAL: the key is unknown to this overlayfs.
            if e.errno not in (errno.ENOSYS, errno.EINVAL, errno.EPERM, errno.ENODEV):
                raise
            _lowerdir_plus = False
    return _lowerdir_plus
