"""A container's filesystem as a whole: ``diff`` (changes), ``export`` (a tar), ``commit`` (an image)."""

from __future__ import annotations

import os

from dockyard.cli.command import Command, Exit
from dockyard.client import reference
from dockyard.client.api import quote_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from dockyard.cli.context import Context

KINDS = {0: "C", 1: "A", 2: "D"}


def diff(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx,
        "CONTAINER",
        "Inspect changes to files or directories on a container's filesystem",
        min_args=1,
        max_args=1,
    )
    _, (name,) = cmd.parse(argv)
    changes = ctx.client.get(f"/containers/{quote_path(name)}/changes") or []
    for change in changes:
        ctx.print(f"{KINDS.get(change.get('Kind'), '?')} {change.get('Path', '')}")
    return 0


def write_stream(ctx: Context, chunks: Iterable[bytes], output: str) -> None:
    """Save a tar stream to ``-o FILE`` (atomically) or stdout, which must not be a terminal."""
    if not output:
        if ctx.stdout_is_tty():
            ctx.warn("cowardly refusing to save to a terminal. Use the -o flag or redirect")
            raise Exit(1)
        for chunk in chunks:
            ctx.stdout.write(chunk)
        return
    tmp = f"{output}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, output)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass  # never created
        raise


def export(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx, "[OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive", min_args=1, max_args=1
    )
    cmd.flags.string("output", "o", "Write to a file, instead of STDOUT")
    opts, (name,) = cmd.parse(argv)
    if not opts.output and ctx.stdout_is_tty():
        ctx.warn("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        raise Exit(1)
    resp = ctx.client.request("GET", f"/containers/{quote_path(name)}/export")
    write_stream(ctx, resp.iter_chunks(), opts.output)
    return 0


def commit(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx,
        "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
        "Create a new image from a container's changes",
        min_args=1,
        max_args=2,
    )
    cmd.flags.string("author", "a", 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    cmd.flags.strings("change", "c", "Apply Dockerfile instruction to the created image")
    cmd.flags.string("message", "m", "Commit message")
    cmd.flags.bool("pause", "p", "Pause container during commit", default=True)
    opts, args = cmd.parse(argv)
    repo = tag = None
    if len(args) == 2:
        ref = reference.parse(args[1])
        if ref.digest:
            raise cmd.fail(f"refusing to create a tag with a digest reference: {args[1]}")
        repo, tag = ref.familiar_name, ref.tag or None
    params: dict[str, Any] = {
        "container": args[0],
        "repo": repo,
        "tag": tag,
        "comment": opts.message or None,
        "author": opts.author or None,
        "changes": opts.change or None,
        "pause": opts.pause,
    }
    result = ctx.client.call("POST", "/commit", params, json={}) or {}
    ctx.print(str(result.get("Id") or result.get("ID") or ""))
    return 0
