"""``dockyard cp``: files between a container and the host, as tars over the archive API.

``cp CONTAINER:SRC DEST`` reads ``GET /containers/{id}/archive?path=SRC`` and extracts it where
docker would put it (:mod:`dockyard.client.archive`); ``cp SRC CONTAINER:DEST`` asks
``HEAD .../archive?path=DEST`` what DEST is, then ``PUT``s a tar into the right folder. ``-``
for DEST writes the container's tar to stdout; ``-`` for SRC sends a tar read from stdin.
"""

from __future__ import annotations

import os

from dockyard.cli.command import Command, Exit
from dockyard.client import archive
from dockyard.client.api import quote_path
from dockyard.client.errors import NoSuchObject
from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.context import Context


def split_container_path(arg: str) -> tuple[str, str]:
    """``name:path`` -> (name, path); a local path (``./a:b``, ``/x:y``) has no container."""
    if arg.startswith((".", "/")) or ":" not in arg:
        return "", arg
    name, _, path = arg.partition(":")
    return name, path


class _StreamReader:
    """A file-like ``read()`` over a response's chunks (``tarfile`` reads in its own sizes)."""

    def __init__(self, chunks: object) -> None:
        self.chunks = iter(chunks)  # type: ignore[call-overload]
        self.buffer = b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self.buffer) < n:
            try:
                self.buffer += next(self.chunks)
            except StopIteration:
                break
        if n < 0:
            data, self.buffer = self.buffer, b""
        else:
            data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data


def copy_from(ctx: Context, container: str, src: str, dest: str, follow: bool) -> None:
    path = f"/containers/{quote_path(container)}/archive"
    resp = ctx.client.request("GET", path, {"path": src})
    stat = archive.decode_stat(src, resp.header(archive.STAT_HEADER))
    if follow and stat.link_target:
        resp.close()
        src = (
            stat.link_target
            if stat.link_target.startswith("/")
            else os.path.join(os.path.dirname(src), stat.link_target)
        )
        resp = ctx.client.request("GET", path, {"path": src})
        stat = archive.decode_stat(src, resp.header(archive.STAT_HEADER))
    try:
        if dest == "-":
            for chunk in resp.iter_chunks():
                ctx.stdout.write(chunk)
            return
        if src.endswith("/.") or src == ".":
            stat.path = src
        target = archive.local_stat(dest)
        folder, old, new = archive.plan(stat, target)
        archive.extract(_StreamReader(resp.iter_chunks()), folder, old, new)  # type: ignore[arg-type]
    finally:
        if not resp.done:
            resp.close()


def copy_to(ctx: Context, src: str, container: str, dest: str, copy_uid_gid: bool, follow: bool) -> None:
    path = f"/containers/{quote_path(container)}/archive"
    try:
        head = ctx.client.request("HEAD", path, {"path": dest})
        target = archive.decode_stat(dest, head.header(archive.STAT_HEADER))
        if target.link_target and follow:
            target.is_dir = target.is_dir or dest.endswith("/")
    except NoSuchObject:
        target = archive.PathStat(dest, exists=False, is_dir=False)
    params = {"path": dest, "noOverwriteDirNonDir": True, "copyUIDGID": copy_uid_gid or None}
    if src == "-":
        if not target.is_dir:
            raise InvalidArgument(f'destination "{container}:{dest}" must be a directory')
        ctx.client.request("PUT", path, params, body=ctx.stdin).read()
        return
    source = archive.local_stat(os.path.realpath(src) if follow else src)
    if not source.exists and not os.path.lexists(src):
        raise InvalidArgument(f'no such file or directory: "{src}": check the local path')
    source.path = src
    source.is_dir = os.path.isdir(src) and (follow or not os.path.islink(src))
    folder, _, new = archive.plan(source, target)
    params["path"] = folder
    body = archive.tar_path(src, new, follow_link=follow)
    ctx.client.request("PUT", path, params, body=body).read()


def cp(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx,
        "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tdockyard cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
        "Copy files/folders between a container and the local filesystem",
        min_args=2,
        max_args=2,
    )
    cmd.flags.bool("archive", "a", "Archive mode (copy all uid/gid information)")
    cmd.flags.bool("follow-link", "L", "Always follow symbol link in SRC_PATH")
    cmd.flags.bool("quiet", "q", "Suppress progress output during copy", hidden=True)
    opts, (src_arg, dest_arg) = cmd.parse(argv)
    src_container, src = split_container_path(src_arg)
    dest_container, dest = split_container_path(dest_arg)
    if not src or not dest:
        ctx.warn("dockyard: filepath can not be empty")
        raise Exit(1)
    if src_container and dest_container:
        ctx.warn("dockyard: copying between containers is not supported")
        raise Exit(1)
    if not src_container and not dest_container:
        ctx.warn("dockyard: must specify at least one container source")
        raise Exit(1)
    if src_container:
        copy_from(ctx, src_container, src, dest, opts.follow_link)
    else:
        copy_to(ctx, src, dest_container, dest, opts.archive, opts.follow_link)
    return 0
