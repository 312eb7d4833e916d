"""``dockyard pull``, and the pull ``run``/``create`` do when the image is missing.

``POST /images/create?fromImage=NAME&tag=TAG`` with the registry's credentials from
``config.json`` in ``X-Registry-Auth``; the answer streams progress messages. Docker prints the
pulled reference last (``docker.io/library/busybox:latest``), and only that with ``-q``.
"""

from __future__ import annotations

from dockyard.cli import progress
from dockyard.cli.command import Command
from dockyard.client import auth, reference

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

    from dockyard.cli.context import Context


def pull_image(
    ctx: Context,
    image: str,
    *,
    platform: str = "",
    quiet: bool = False,
    out: BinaryIO | None = None,
    terminal: bool | None = None,
    all_tags: bool = False,
) -> reference.Reference:
    """Pull ``image``; progress to ``out`` (stdout by default) unless quiet. The reference pulled.

    ``all_tags``: ``image`` names a repository; the API pulls every tag when no tag is sent."""
    ref = reference.parse(image)
    if not all_tags:
        ref = ref.with_default_tag()
    params = {
        "fromImage": ref.familiar_name,
        "tag": ref.digest or ref.tag or None,
        "platform": platform or None,
    }
    headers = {"X-Registry-Auth": auth.header_for(ctx.config(), ref.domain)}
    messages = ctx.client.stream_json("POST", "/images/create", params, headers=headers)
    if quiet:
        progress.drain(messages)
        return ref
    target = out or ctx.stdout
    if terminal is None:
        terminal = ctx.stdout_is_tty() if target is ctx.stdout else False
    progress.show(messages, target, terminal)
    return ref


def full_name(ref: reference.Reference) -> str:
    text = ref.name
    if ref.tag:
        text += f":{ref.tag}"
    if ref.digest:
        text += f"@{ref.digest}"
    return text


def pull(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx, "[OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", min_args=1, max_args=1
    )
    cmd.flags.bool("all-tags", "a", "Download all tagged images in the repository")
    cmd.flags.string("platform", help="Set platform if server is multi-platform capable")
    cmd.flags.bool("quiet", "q", "Suppress verbose output")
    cmd.flags.bool("disable-content-trust", help="Skip image verification", default=True, hidden=True)
    opts, args = cmd.parse(argv)
    given = reference.parse(args[0])
    if opts.all_tags and (given.tag or given.digest):
        raise cmd.fail("tag can't be used with --all-tags/-a")
    if not opts.quiet and not opts.all_tags and not given.tag and not given.digest:
        ctx.print(f"Using default tag: {reference.DEFAULT_TAG}")
        ctx.flush()
    ref = pull_image(ctx, args[0], platform=opts.platform, quiet=opts.quiet, all_tags=opts.all_tags)
    ctx.print(full_name(ref))
    return 0
