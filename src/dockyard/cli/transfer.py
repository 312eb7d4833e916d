"""Images in and out: ``push``, ``save``, ``load``, ``import`` (``pull`` is :mod:`dockyard.cli.pull`)."""

from __future__ import annotations

from dockyard.cli import progress
from dockyard.cli.command import Command, Exit
from dockyard.cli.container_fs import write_stream
from dockyard.client import auth, reference
from dockyard.client.api import quote_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO

    from dockyard.cli.context import Context


def push(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS] NAME[:TAG]", "Upload an image to a registry", min_args=1, max_args=1)
    cmd.flags.bool("all-tags", "a", "Push all tags of an image to the repository")
    cmd.flags.string("platform", help="Push a platform-specific manifest as a single-platform image")
    cmd.flags.bool("quiet", "q", "Suppress verbose output")
    cmd.flags.bool("disable-content-trust", help="Skip image signing", default=True, hidden=True)
    opts, (name,) = cmd.parse(argv)
    ref = reference.parse(name)
    if ref.digest:
        raise cmd.fail(f"cannot push a digest reference: {name}: push NAME[:TAG]")
    if not ref.tag and not opts.all_tags:
        if not opts.quiet:
            ctx.print(f"Using default tag: {reference.DEFAULT_TAG}")
        ref = ref.with_default_tag()
    elif ref.tag and opts.all_tags:
        raise cmd.fail("tag can't be used with --all-tags/-a")
    params = {"tag": ref.tag or None, "platform": opts.platform or None}
    headers = {"X-Registry-Auth": auth.header_for(ctx.config(), ref.domain)}
    messages = ctx.client.stream_json(
        "POST", f"/images/{quote_path(ref.familiar_name)}/push", params, headers=headers
    )
    if opts.quiet:
        progress.drain(messages)
        ctx.print(str(ref))
        return 0
    ctx.flush()
    progress.show(messages, ctx.stdout, ctx.stdout_is_tty())
    return 0


def save(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx,
        "[OPTIONS] IMAGE [IMAGE...]",
        "Save one or more images to a tar archive (streamed to STDOUT by default)",
        min_args=1,
    )
    cmd.flags.string("output", "o", "Write to a file, instead of STDOUT")
    cmd.flags.strings("platform", help="Save only the given platform(s)")
    opts, names = cmd.parse(argv)
    if not opts.output and ctx.stdout_is_tty():
        ctx.warn("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        raise Exit(1)
    params: dict[str, Any] = {"names": names}
    if opts.platform:
        params["platform"] = opts.platform
    resp = ctx.client.request("GET", "/images/get", params)
    write_stream(ctx, resp.iter_chunks(), opts.output)
    return 0


def _open_input(ctx: Context, path: str) -> BinaryIO:
    if path and path != "-":
        try:
            return open(path, "rb")
        except OSError as exc:
            ctx.warn(f"open {path}: {exc.strerror.lower() if exc.strerror else exc}")
            raise Exit(1) from None
    return ctx.stdin


def load(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS]", "Load an image from a tar archive or STDIN", max_args=0)
    cmd.flags.string("input", "i", "Read from tar archive file, instead of STDIN")
    cmd.flags.bool("quiet", "q", "Suppress the load output")
    cmd.flags.strings("platform", help="Load only the given platform(s)")
    opts, _ = cmd.parse(argv)
    if not opts.input and ctx.stdin_is_tty():
        ctx.warn("requested load from stdin, but stdin is empty")
        raise Exit(1)
    terminal = ctx.stdout_is_tty() and not opts.quiet
    source = _open_input(ctx, opts.input)
    try:
        params: dict[str, Any] = {"quiet": not terminal}
        if opts.platform:
            params["platform"] = opts.platform
        messages = ctx.client.stream_json(
            "POST", "/images/load", params, body=source, headers={"Content-Type": "application/x-tar"}
        )
        progress.show(messages, ctx.stdout, terminal)
    finally:
        if source is not ctx.stdin:
            source.close()
    return 0


def import_(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx,
        "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
        "Import the contents from a tarball to create a filesystem image",
        min_args=1,
        max_args=2,
    )
    cmd.flags.strings("change", "c", "Apply Dockerfile instruction to the created image")
    cmd.flags.string("message", "m", "Set commit message for imported image")
    cmd.flags.string("platform", help="Set platform if server is multi-platform capable")
    opts, args = cmd.parse(argv)
    source = args[0]
    repo = tag = None
    if len(args) == 2:
        ref = reference.parse(args[1])
        repo, tag = ref.familiar_name, ref.tag or None
    is_url = source.startswith(("http://", "https://"))
    params: dict[str, Any] = {
        "fromSrc": source if is_url else "-",
        "repo": repo,
        "tag": tag,
        "message": opts.message or None,
        "changes": opts.change or None,
        "platform": opts.platform or None,
    }
    body = None if is_url else _open_input(ctx, source)
    try:
        messages = ctx.client.stream_json("POST", "/images/create", params, body=body)
        progress.show_plain(messages, ctx.stdout)
    finally:
        if body is not None and body is not ctx.stdin:
            body.close()
    return 0
