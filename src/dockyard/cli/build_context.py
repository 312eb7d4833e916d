"""The build context sent with ``dockyard build``: a folder as a tar stream, less what its
.dockerignore excludes (the Dockerfile and .dockerignore always go, as docker's CLI sends them).

Entries in sorted order; owners left out (the daemon makes context files root's); mtimes as
they are (the daemon clamps them to the build time, and its cache looks at content only).
"""

from __future__ import annotations

import os
import stat
import tarfile

from dockyard.oci.dockerignore import Matcher, read

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

_CHUNK = 1 << 20


class _Sink:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, b: bytes) -> int:
        self.parts.append(bytes(b))
        return len(b)

    def tell(self) -> int:  # tarfile asks once, for its starting offset
        return 0

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def _matcher(folder: str) -> Matcher | None:
    try:
        with open(os.path.join(folder, ".dockerignore"), encoding="utf-8", errors="replace") as f:
            return Matcher(read(f.read()))
    except FileNotFoundError:
        return None


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


def tar_context(folder: str, dockerfile: str, extra: dict[str, bytes] | None = None) -> Iterator[bytes]:
    """The context as tar chunks; ``extra`` adds files (a Dockerfile read from stdin)."""
    sink = _Sink()
    tar = tarfile.TarFile(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT)  # type: ignore[arg-type]
    keep = frozenset({".dockerignore", os.path.normpath(dockerfile)})
    for rel in entries(folder, keep):
        path = os.path.join(folder, rel)
        try:
            info = tar.gettarinfo(path, rel)
        except FileNotFoundError:
            continue
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        if info.isreg():
            with open(path, "rb") as f:
                tar.addfile(info, f)
        elif info.isdir() or info.issym() or info.islnk():
            tar.addfile(info)
        elif stat.S_ISFIFO(os.lstat(path).st_mode):
            continue
        yield sink.take()
    for name, data in (extra or {}).items():
        import io

        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    tar.close()
    yield sink.take()
