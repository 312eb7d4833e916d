"""Compiled seccomp programs kept between containers, so a profile is compiled once, not per start.

    program(cfg, cache_dir)     validate ``cfg``, then its cBPF program: from the cache when a
                                valid entry is there, else compiled (seccomp.export_bpf) and stored

Why: libseccomp compiles Docker's default profile (about 360 syscalls, a binary tree) in some
17 ms, the largest single cost of a container's create; every container of a daemon uses one of a
handful of profiles. The cache lives in the runtime's state root (``--root``) under
:data:`DIR_NAME`, whose ``:`` no container id may contain (state.validate_id), so ``list`` never
takes it for a container.

An entry, ``<key>.bpf``: the header line ``FORMAT <sha256 of the program> <libseccomp's path>
<st_dev>:<st_ino>:<st_size>:<st_mtime_ns>`` then the program. The key is the SHA-256 of the
profile's ``repr`` (exact for JSON values: a different profile, or the same one written in another
key order, is another key). An entry is used only when the header's checksum matches the program
(a torn write after a crash is a miss, never a wrong filter) and the libseccomp file it was
compiled with is still the same file (an upgraded library, with newer syscall tables, compiles
again). A hit needs neither libseccomp nor ctypes. Writes are atomic renames; an entry that
cannot be written (a read-only root, an init inside a user namespace) is only a miss next time.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

DIR_NAME = "seccomp:cache"
FORMAT = b"dockyard-seccomp-1"
#: More entries than any daemon's set of profiles: past it, a store empties the folder first.
MAX_ENTRIES = 256


def _sha256(data: bytes) -> str:
    try:
        # The builtin module: hashlib would load OpenSSL (milliseconds).
        from _sha256 import sha256  # type: ignore[import-not-found]
    except ImportError:  # Python 3.12+ names it _sha2
        from hashlib import sha256
    return str(sha256(data).hexdigest())


def key(cfg: Mapping[str, Any]) -> str:
    return _sha256(repr(cfg).encode())


def _library_identity() -> bytes | None:
    """``<path> <dev>:<ino>:<size>:<mtime_ns>`` of the libseccomp this process has loaded."""
    try:
        with open("/proc/self/maps", "rb") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 6 and b"/libseccomp.so" in fields[5]:
                    return fields[5] + b" " + _stat_identity(fields[5])
    except OSError:
        pass
    return None


def _stat_identity(path: bytes) -> bytes:
    st = os.stat(path)
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}".encode()


def lookup(cache_dir: str, cache_key: str) -> bytes | None:
    """The cached program for ``cache_key``, or None (absent, torn, or from another libseccomp)."""
    try:
        with open(os.path.join(cache_dir, cache_key + ".bpf"), "rb") as f:
            data = f.read()
        header, _, program = data.partition(b"\n")
        fmt, checksum, lib_path, identity = header.split(b" ")
        if fmt != FORMAT or not program or len(program) % 8:
            return None
        if _sha256(program).encode() != checksum or _stat_identity(lib_path) != identity:
            return None
        return program
    except (OSError, ValueError):
        return None


def store(cache_dir: str, cache_key: str, program: bytes) -> bool:
    """Keep ``program`` for ``cache_key``; False when it could not be kept (never an error)."""
    library = _library_identity()
    if library is None or not program:
        return False
    data = b" ".join((FORMAT, _sha256(program).encode(), library)) + b"\n" + program
    tmp = os.path.join(cache_dir, f".{cache_key}.{os.getpid()}.tmp")
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        names = os.listdir(cache_dir)
        if len(names) >= MAX_ENTRIES:
            for name in names:
                if name.endswith(".bpf"):
                    _unlink(os.path.join(cache_dir, name))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.rename(tmp, os.path.join(cache_dir, cache_key + ".bpf"))
        return True
    except OSError:
        _unlink(tmp)
        return False


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def program(cfg: Mapping[str, Any], cache_dir: str | None) -> bytes:
    """``cfg``'s program as seccomp.export_bpf returns it (b"" for no filter), cached in
    ``cache_dir`` (None: no cache). Raises ConfigError for an invalid profile, hit or miss."""
    from dockyard.runtime import seccomp_rules

    seccomp_rules.validate(cfg)
    if not seccomp_rules.enabled(cfg):
        return b""
    if cache_dir is not None:
        cache_key = key(cfg)
        cached = lookup(cache_dir, cache_key)
        if cached is not None:
            return cached
    from dockyard.runtime import seccomp

    compiled = seccomp.export_bpf(cfg)
    if cache_dir is not None:
        store(cache_dir, cache_key, compiled)
    return compiled
