"""The build context: the request body unpacked into a folder, less what .dockerignore excludes.

    unpack(body_file, folder) -> str | None    the Dockerfile text when the body was not a tar

Docker's API takes a tar (plain, gzip, bzip2 or xz) of the context, or a Dockerfile alone
(``docker build - < Dockerfile``). Entries are unpacked without their owners (context files
belong to root in the image unless COPY --chown says otherwise) and never outside the folder:
absolute names and ``..`` are made relative, a hardlink to a missing or outside target is
skipped. Symlinks are kept as written; COPY resolves them inside the context.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path
from typing import BinaryIO

from dockyard.errors import InvalidArgument
from dockyard.oci.dockerignore import Matcher, read

_MAGICS = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


def _is_archive(head: bytes) -> bool:
    if any(head.startswith(m) for m in _MAGICS):
        return True
    if len(head) >= 512:
        try:
            tarfile.TarInfo.frombuf(head[:512], "utf-8", "surrogateescape")
            return True
        except tarfile.HeaderError:
            return False
    return False


def clean_name(name: str) -> str | None:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    return "/".join(parts)


def unpack(body: BinaryIO, folder: Path) -> str | None:
    """Unpack ``body`` (seekable) into ``folder``; a body that is no archive is the Dockerfile."""
    head = body.read(512)
    body.seek(0)
    if not head:
        raise InvalidArgument("the build context is empty: send a tar of the context folder or a Dockerfile")
    if not _is_archive(head):
        return body.read().decode("utf-8", "replace")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=body, mode="r:*") as tar:
            for member in tar:
                _extract(tar, member, folder)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise InvalidArgument(
            f"the build context is not a valid tar archive ({e}): send an uncompressed, gzip, bzip2 or xz tar"
        ) from None
    return None


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, folder: Path) -> None:
    name = clean_name(member.name)
    if not name:
        return
    target = folder / name
    root = str(folder.resolve())
    parent = str(target.parent.resolve())
    if parent != root and not parent.startswith(root + os.sep):
        return  # a parent that is an earlier entry's symlink leading out: never write through it
    target.parent.mkdir(parents=True, exist_ok=True)
    if member.isdir():
        target.mkdir(exist_ok=True)
        os.chmod(target, member.mode & 0o7777 | 0o700)
    elif member.isreg():
        src = tar.extractfile(member)
        if src is None:
            return
        if target.is_symlink() or target.exists():
            _remove(target)
        with open(target, "wb") as f:
            shutil.copyfileobj(src, f, 1 << 20)
        os.chmod(target, member.mode & 0o7777)
    elif member.issym():
        if target.is_symlink() or target.exists():
            _remove(target)
        os.symlink(member.linkname, target)
    elif member.islnk():
        link = clean_name(member.linkname)
        if not link or not (folder / link).is_file() or (folder / link).is_symlink():
            return
        if target.exists():
            _remove(target)
        os.link(folder / link, target)
    else:
        return  # devices and fifos have no place in a context
    try:
        os.utime(target, (member.mtime, member.mtime), follow_symlinks=False)
    except OSError:
        pass


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def apply_dockerignore(folder: Path, keep: tuple[str, ...] = ()) -> None:
    """Delete what the context's .dockerignore excludes (``keep``: the Dockerfile's path)."""
    ignore = folder / ".dockerignore"
    if not ignore.is_file():
        return
    matcher = Matcher(read(ignore.read_text(errors="replace")))
    if not matcher.patterns:
        return
    kept = {".dockerignore", *keep}
    for dirpath, dirnames, filenames in os.walk(folder, topdown=True):
        rel_dir = os.path.relpath(dirpath, folder)
        rel_dir = "" if rel_dir == "." else rel_dir
        for d in list(dirnames):
            rel = f"{rel_dir}/{d}" if rel_dir else d
            if matcher.excluded(rel) and not matcher.may_include_below(rel):
                dirnames.remove(d)
                shutil.rmtree(os.path.join(dirpath, d), ignore_errors=True)
        for f in filenames:
            rel = f"{rel_dir}/{f}" if rel_dir else f
            if rel not in kept and matcher.excluded(rel):
                os.unlink(os.path.join(dirpath, f))
