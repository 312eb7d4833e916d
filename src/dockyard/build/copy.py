"""COPY and ADD on files: sources found in a root (the context, another stage's rootfs), copied
into a mounted rootfs with Docker's rules. Blocking: the builder runs these on a thread.

Docker's rules (moby builder/dockerfile/copy.go, and the reference's COPY section):
- a source is relative to its root; ``..`` cannot climb out (``forbidden path outside the build
  context``); ``*``, ``?`` and ``[]`` are globs, matched per path component, dotfiles included;
- a folder's *contents* are copied, not the folder itself;
- the destination is a folder when it ends in ``/``, when there are several sources, or when it
  is a folder already in the image; a relative destination is relative to WORKDIR;
- missing parent folders are made (0755); files and folders keep their modes and mtimes, and
  belong to 0:0 unless ``--chown`` (names looked up in the image's /etc/passwd and /etc/group);
  ``--chmod`` replaces the mode of everything copied;
- ADD of a local tar (plain, gzip, bzip2, xz) unpacks it into the destination folder.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path

from dockyard.build.context import clean_name
from dockyard.build.paths import secure_join
from dockyard.errors import InvalidArgument, NotFound

_GLOB_CHARS = frozenset("*?[")
_ARCHIVE_MAGICS = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


@dataclass
class Source:
    name: str  # as the user wrote it (after substitution), for messages and history
    path: str  # host path
    rel: str  # path inside its root


@dataclass
class Owner:
    uid: int = 0
    gid: int = 0


def find_sources(root: str, pattern: str, what: str = "build context") -> list[Source]:
    rel = pattern.lstrip("/")
    cleaned = os.path.normpath(rel) if rel else "."
    if cleaned == ".." or cleaned.startswith("../"):
        raise InvalidArgument(f"forbidden path outside the {what}: {pattern} ()")
    if _GLOB_CHARS & set(cleaned):
        found = sorted(glob.glob(cleaned, root_dir=root, include_hidden=True))
        if not found:
            raise NotFound(f"no source files were specified: {pattern!r} matches no file in the {what}")
        return [Source(pattern, secure_join(root, f), f) for f in found]
    path = secure_join(root, "" if cleaned == "." else cleaned)
    if not os.path.lexists(path):
        raise NotFound(
            f"file not found in {what} or excluded by .dockerignore: stat {pattern}: file does not exist"
        )
    return [Source(pattern, path, cleaned)]


def content_hash(sources: list[Source]) -> str:
    """Names, types, modes, link targets and bytes of the sources; not mtimes nor owners."""
    h = hashlib.sha256()
    for src in sources:
        h.update(f"\0src {src.rel}\0".encode())
        if os.path.isdir(src.path) and not os.path.islink(src.path):
            for dirpath, dirnames, filenames in os.walk(src.path):
                dirnames.sort()
                rel_dir = os.path.relpath(dirpath, src.path)
                h.update(f"d {rel_dir} {stat.S_IMODE(os.lstat(dirpath).st_mode):o}\0".encode())
                for name in sorted(
                    filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
                ):
                    _hash_entry(h, os.path.join(dirpath, name), f"{rel_dir}/{name}")
        else:
            _hash_entry(h, src.path, ".")
    return h.hexdigest()


def _hash_entry(h: hashlib._Hash, path: str, rel: str) -> None:
    st = os.lstat(path)
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        h.update(f"l {rel} {os.readlink(path)}\0".encode())
    elif stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        h.update(f"f {rel} {mode:o} {digest}\0".encode())
    else:
        h.update(f"o {rel} {stat.S_IFMT(st.st_mode)} {mode:o}\0".encode())


def _passwd_lookup(rootfs: str, file: str, name: str) -> tuple[int, int] | None:
    try:
        with open(secure_join(rootfs, file), encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) >= 3 and fields[0] == name:
                    # /etc/group has no fourth number: its gid is returned twice.
                    return int(fields[2]), int(fields[3] if file.endswith("passwd") else fields[2])
    except (OSError, ValueError):
        return None
    return None


def resolve_owner(rootfs: str, chown: str | None) -> Owner:
    if not chown:
        return Owner()
    user, _, group = chown.partition(":")
    if user.isdigit():
        uid, primary = int(user), int(user)
    else:
        found = _passwd_lookup(rootfs, "/etc/passwd", user)
        if found is None:
            raise NotFound(f"--chown: no such user {user!r} in the image's /etc/passwd")
        uid, primary = found
    if not group:
        return Owner(uid, primary)
    if group.isdigit():
        return Owner(uid, int(group))
    found_group = _passwd_lookup(rootfs, "/etc/group", group)
    if found_group is None:
        raise NotFound(f"--chown: no such group {group!r} in the image's /etc/group")
    return Owner(uid, found_group[0])


def parse_chmod(value: str | None) -> int | None:
    if not value:
        return None
    try:
        mode = int(value, 8)
    except ValueError:
        raise InvalidArgument(f"invalid --chmod={value}: use an octal mode such as 0755") from None
    if mode > 0o7777:
        raise InvalidArgument(f"invalid --chmod={value}: use an octal mode such as 0755")
    return mode


def dest_path(dest: str, workdir: str) -> str:
    if not dest.startswith("/"):
        dest = os.path.join(workdir or "/", dest)
    return dest


def is_archive(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    if any(head.startswith(m) for m in _ARCHIVE_MAGICS):
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


class Copier:
    def __init__(self, rootfs: str, owner: Owner, chmod: int | None) -> None:
        self.rootfs = rootfs
        self.owner = owner
        self.chmod = chmod

    def _mkdirs(self, path: str) -> str:
        """Make the folder (and missing parents) at ``path`` inside the rootfs; its host path."""
        host = secure_join(self.rootfs, path)
        if os.path.isdir(host):
            return host
        parts = [p for p in path.split("/") if p]
        current = "/"
        for part in parts:
            current = os.path.join(current, part)
            h = secure_join(self.rootfs, current)
            if not os.path.isdir(h):
                if os.path.lexists(h):
                    os.unlink(h)
                os.mkdir(h, 0o755)
                os.chown(h, self.owner.uid, self.owner.gid)
        return secure_join(self.rootfs, path)

    def copy(self, sources: list[Source], dest: str, *, extract: bool = False) -> None:
        dest_dir = dest.endswith("/") or dest.endswith("/.") or len(sources) > 1
        if len(sources) > 1 and not dest.endswith("/"):
            raise InvalidArgument(
                "When using COPY with more than one source file, the destination must be a directory and "
                f"end with a /: {dest}"
            )
        host_dest = secure_join(self.rootfs, dest)
        if os.path.isdir(host_dest):
            dest_dir = True
        for src in sources:
            if os.path.isdir(src.path):
                existed = os.path.isdir(secure_join(self.rootfs, dest))
                target = self._mkdirs(dest)
                self._copy_tree(src.path, target, dest, set_root=not existed)
            elif extract and is_archive(src.path):
                target = self._mkdirs(dest)
                self._extract(src.path, target)
            else:
                name = os.path.basename(src.rel.rstrip("/")) or os.path.basename(src.path)
                path = os.path.join(dest, name) if dest_dir else dest
                parent = os.path.dirname(path.rstrip("/")) or "/"
                self._mkdirs(parent)
                self._copy_entry(src.path, secure_join(self.rootfs, path, follow_last=False))

    def _copy_tree(self, src_dir: str, host_dir: str, dest: str, *, set_root: bool) -> None:
        if set_root:
            self._attrs(host_dir, os.stat(src_dir))
        for dirpath, dirnames, filenames in os.walk(src_dir):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, src_dir)
            for name in sorted(dirnames):
                src = os.path.join(dirpath, name)
                rel = os.path.normpath(os.path.join(rel_dir, name))
                target = secure_join(self.rootfs, os.path.join(dest, rel), follow_last=False)
                if os.path.islink(src):
                    self._copy_entry(src, target)
                    continue
                if not os.path.isdir(target):
                    if os.path.lexists(target):
                        os.unlink(target)
                    os.mkdir(target)
                self._attrs(target, os.lstat(src))
            for name in sorted(filenames):
                rel = os.path.normpath(os.path.join(rel_dir, name))
                self._copy_entry(
                    os.path.join(dirpath, name),
                    secure_join(self.rootfs, os.path.join(dest, rel), follow_last=False),
                )

    def _copy_entry(self, src: str, target: str) -> None:
        st = os.lstat(src)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        elif os.path.lexists(target):
            os.unlink(target)
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(src), target)
            os.lchown(target, self.owner.uid, self.owner.gid)
            os.utime(target, ns=(st.st_mtime_ns, st.st_mtime_ns), follow_symlinks=False)
            return
        if stat.S_ISREG(st.st_mode):
            shutil.copyfile(src, target)
        elif stat.S_ISDIR(st.st_mode):
            os.mkdir(target)
        else:
            return  # devices, fifos, sockets: not copied from a context
        self._attrs(target, st)

    def _attrs(self, target: str, st: os.stat_result) -> None:
        os.chown(target, self.owner.uid, self.owner.gid)
        os.chmod(target, self.chmod if self.chmod is not None else stat.S_IMODE(st.st_mode))
        os.utime(target, ns=(st.st_mtime_ns, st.st_mtime_ns))

    def _extract(self, archive: str, host_dir: str) -> None:
        try:
            with tarfile.open(archive, "r:*") as tar:
                for m in tar:
                    name = clean_name(m.name)
                    if not name:
                        continue
                    target = secure_join(host_dir, name, follow_last=False)
                    Path(target).parent.mkdir(parents=True, exist_ok=True)
                    if os.path.lexists(target) and not (m.isdir() and os.path.isdir(target)):
                        if os.path.isdir(target) and not os.path.islink(target):
                            shutil.rmtree(target)
                        else:
                            os.unlink(target)
                    if m.isdir():
                        os.makedirs(target, exist_ok=True)
                    elif m.isreg():
                        f = tar.extractfile(m)
                        assert f is not None
                        with open(target, "wb") as out:
                            shutil.copyfileobj(f, out, 1 << 20)
                    elif m.issym():
                        os.symlink(m.linkname, target)
                    elif m.islnk():
                        link = clean_name(m.linkname)
                        if not link:
                            continue
                        os.link(secure_join(host_dir, link), target)
                        continue
                    else:
                        continue
                    uid, gid = (m.uid, m.gid) if self.owner == Owner() else (self.owner.uid, self.owner.gid)
                    os.lchown(target, uid, gid)
                    if not m.issym():
                        os.chmod(target, self.chmod if self.chmod is not None else m.mode & 0o7777)
                    os.utime(target, (m.mtime, m.mtime), follow_symlinks=False)
        except (tarfile.TarError, EOFError) as e:
            raise InvalidArgument(f"ADD: cannot unpack {os.path.basename(archive)}: {e}") from None
