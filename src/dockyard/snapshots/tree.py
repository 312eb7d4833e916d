"""A digest of an unpacked layer folder: what `dockyard system check` compares against.

The tar's diff id cannot be recomputed from the folder (tar bytes are not reproducible), so at
unpack time the folder itself is summarised: one record per entry, sorted by path, of its type,
permission bits, owner, size, device number, symlink target, the overlay xattrs that carry
meaning (opaque folders) and a CRC-32 of a regular file's content. Any change to the folder
after the unpack (a flipped byte, a file added or removed, a chmod) changes the digest. CRC-32
finds accidents, not attackers: the folder is only writable by root anyway.

Content CRCs of files just written by the unpacker are handed in by inode (``known``), so the
unpack does not read the files again.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zlib

_CHUNK = 1 << 20
_XATTRS = ("trusted.overlay.opaque",)


def file_crc(path: str) -> int:
    crc = 0
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def tree_digest(root: str, known: dict[int, int] | None = None) -> str:
    records: list[bytes] = []
    known = known or {}
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in [*dirs, *files]:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, root)
            kind = stat.S_IFMT(st.st_mode)
            extra = ""
            if stat.S_ISREG(st.st_mode):
                crc = known.get(st.st_ino)
                extra = f"{crc if crc is not None else file_crc(path):08x}"
            elif stat.S_ISLNK(st.st_mode):
                extra = os.readlink(path)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                extra = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
            elif stat.S_ISDIR(st.st_mode):
                for attr in _XATTRS:
                    try:
                        extra += f"{attr}={os.getxattr(path, attr, follow_symlinks=False)!r}"
                    except OSError:
                        pass
            size = st.st_size if stat.S_ISREG(st.st_mode) else 0
            mode = stat.S_IMODE(st.st_mode) if not stat.S_ISLNK(st.st_mode) else 0
            records.append(
                f"{rel}\0{kind:o}\0{mode:o}\0{st.st_uid}\0{st.st_gid}\0{size}\0{extra}".encode(
                    "utf-8", "surrogateescape"
                )
            )
    records.sort()
    h = hashlib.sha256()
    for r in records:
        h.update(r)
        h.update(b"\n")
    return "sha256:" + h.hexdigest()
