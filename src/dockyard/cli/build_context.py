"""The build context sent with ``dockyard build``: a folder as a tar stream, less what its
.dockerignore excludes (the Dockerfile and .dockerignore always go, as docker's CLI sends them).

Entries in sorted order; owners left out (the daemon makes context files root's); mtimes as
they are (the daemon clamps them to the build time, and its cache looks at content only).

The tar is written here (POSIX ustar headers, a PAX header for a name or link that does not fit)
rather than with ``tarfile``: this runs once per build command, and tarfile with shutil costs
more to import than the rest of the command.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from dockyard.oci.dockerignore import Matcher

_CHUNK = 1 << 20
_BLOCK = 512


def _matcher(folder: str) -> Matcher | None:
    try:
        with open(os.path.join(folder, ".dockerignore"), encoding="utf-8", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    from dockyard.oci.dockerignore import Matcher, read

    return Matcher(read(text))


def entries(folder: str, keep: frozenset[str]) -> Iterator[str]:
    """Relative paths to send, parents before children, sorted."""
    matcher = _matcher(folder)
    for dirpath, dirnames, filenames in os.walk(folder):
        rel_dir = os.path.relpath(dirpath, folder)
        rel_dir = "" if rel_dir == "." else rel_dir
        dirnames.sort()
        kept_dirs = []
        for d in dirnames:
            rel = f"{rel_dir}/{d}" if rel_dir else d
            if matcher is not None and matcher.excluded(rel):
                if matcher.may_include_below(rel):
                    kept_dirs.append(d)  # walk it: a "!" pattern may bring something back
                continue
            kept_dirs.append(d)
            yield rel
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if matcher is not None and rel not in keep and matcher.excluded(rel):
                continue
            yield rel


def _octal(value: int, width: int) -> bytes:
    return f"{value:0{width - 1}o}".encode() + b"\0"


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % _BLOCK)


def _header(name: str, mode: int, size: int, mtime: int, kind: bytes, link: str) -> bytes:
    raw_name = name.encode("utf-8", "surrogateescape")
    raw_link = link.encode("utf-8", "surrogateescape")
    head = bytearray(_BLOCK)
    head[0:100] = raw_name[:100].ljust(100, b"\0")
    head[100:108] = _octal(mode & 0o7777, 8)
    head[108:116] = _octal(0, 8)
    head[116:124] = _octal(0, 8)
    head[124:136] = _octal(size, 12) if size < 8**11 else b"\x80" + size.to_bytes(11, "big")
    head[136:148] = _octal(max(mtime, 0), 12)
    head[148:156] = b" " * 8
    head[156:157] = kind
    head[157:257] = raw_link[:100].ljust(100, b"\0")
    head[257:265] = b"ustar\x0000"
    checksum = sum(head)
    head[148:156] = f"{checksum:06o}".encode() + b"\0 "
    return bytes(head)


def _entry(name: str, mode: int, size: int, mtime: int, kind: bytes, link: str = "") -> bytes:
    out = b""
    records: dict[str, str] = {}
    if len(name.encode("utf-8", "surrogateescape")) > 100 or not name.isascii():
        records["path"] = name
    if len(link.encode("utf-8", "surrogateescape")) > 100 or not link.isascii():
        records["linkpath"] = link
    if records:
        out += _pax_block(records)
    return out + _header(name, mode, size, mtime, kind, link)


def _pax_block(records: dict[str, str]) -> bytes:
    body = b""
    for key, value in records.items():
        item = f" {key}={value}\n".encode("utf-8", "surrogateescape")
        # A record is "<length> <key>=<value>\n" where <length> counts itself too.
        length = len(item) + 1
        while len(str(length)) + len(item) != length:
            length = len(str(length)) + len(item)
        body += str(length).encode() + item
    return _header("././@PaxHeader", 0o644, len(body), 0, b"x", "") + _pad(body)


def tar_context(folder: str, dockerfile: str, extra: dict[str, bytes] | None = None) -> Iterator[bytes]:
    """The context as tar chunks; ``extra`` adds files (a Dockerfile read from stdin)."""
    keep = frozenset({".dockerignore", os.path.normpath(dockerfile)})
    links: dict[tuple[int, int], str] = {}
    for rel in entries(folder, keep):
        path = os.path.join(folder, rel)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        mtime = int(st.st_mtime)
        if stat.S_ISDIR(st.st_mode):
            yield _entry(rel + "/", st.st_mode, 0, mtime, b"5")
        elif stat.S_ISLNK(st.st_mode):
            yield _entry(rel, st.st_mode, 0, mtime, b"2", os.readlink(path))
        elif stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in links:
                yield _entry(rel, st.st_mode, 0, mtime, b"1", links[key])
                continue
            links[key] = rel
            try:
                f = open(path, "rb")  # noqa: SIM115 - closed below, after streaming
            except OSError:
                continue
            with f:
                yield _entry(rel, st.st_mode, st.st_size, mtime, b"0")
                remaining = st.st_size
                while remaining > 0:
                    chunk = f.read(min(_CHUNK, remaining)) or b"\0" * min(_CHUNK, remaining)
                    remaining -= len(chunk)
                    yield chunk
                yield b"\0" * (-st.st_size % _BLOCK)
    for name, data in (extra or {}).items():
        yield _entry(name, 0o644, len(data), 0, b"0") + _pad(data)
    yield b"\0" * (_BLOCK * 2)
