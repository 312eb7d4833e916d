"""``dockyard build`` and ``dockyard builder prune``: glue between flags and ``POST /build``.

The context is a folder (sent as a tar, less its .dockerignore), ``-`` (a tar or a Dockerfile on
stdin), and ``-f -`` reads the Dockerfile from stdin and adds it to the folder's tar under a
name of its own, as docker's CLI does. Progress goes to stderr (build_progress.py); ``-q``
prints only the image id, on stdout.
"""

from __future__ import annotations

import json
import os

from dockyard.cli import build_context, build_progress
from dockyard.cli.command import Command, Exit
from dockyard.cli.progress import StreamFailed
from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context


def _pairs(values: list[str], flag: str, env: Any) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in values:
        key, eq, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {flag} {item!r}: use KEY=VALUE")
        # docker: "--build-arg KEY" takes KEY's value from the environment, if set there.
        out[key] = value if eq else env.get(key)
    return out


def _secret(spec: str, env: Any) -> tuple[str, bytes]:
    fields = dict(part.partition("=")[::2] for part in spec.split(",") if part)
    sid = fields.get("id", "")
    if not sid:
        raise InvalidArgument(f"invalid --secret {spec!r}: use id=NAME,src=FILE or id=NAME,env=VAR")
    if "env" in fields:
        value = env.get(fields["env"])
        if value is None:
            raise InvalidArgument(f"--secret {spec}: environment variable {fields['env']} is not set")
        return sid, value.encode()
    src = fields.get("src") or fields.get("source") or ""
    if not src:
        value = env.get(sid)
        if value is not None:
            return sid, value.encode()
        raise InvalidArgument(f"invalid --secret {spec!r}: give src=FILE or env=VAR")
    try:
        with open(src, "rb") as f:
            return sid, f.read()
    except OSError as e:
        raise InvalidArgument(f"--secret {spec}: cannot read {src}: {e.strerror}") from None


def build(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS] PATH | -", "Build an image from a Dockerfile", min_args=1, max_args=1)
    cmd.flags.strings("tag", "t", 'Name and optionally a tag (format: "name:tag")')
    cmd.flags.string("file", "f", 'Name of the Dockerfile (default: "PATH/Dockerfile")')
    cmd.flags.strings("build-arg", help="Set build-time variables")
    cmd.flags.string("target", help="Set the target build stage to build")
    cmd.flags.bool("no-cache", help="Do not use cache when building the image")
    cmd.flags.bool("pull", help="Always attempt to pull a newer version of the image")
    cmd.flags.string("progress", help="Set type of progress output (auto, plain, tty)", default="auto")
    cmd.flags.string("iidfile", help="Write the image ID to the file")
    cmd.flags.strings("label", help="Set metadata for an image")
    cmd.flags.bool("quiet", "q", "Suppress the build output and print image ID on success")
    cmd.flags.string(
        "network", help="Set the networking mode for the RUN instructions during build", default="default"
    )
    cmd.flags.string("platform", help="Set platform if server is multi-platform capable")
    cmd.flags.strings(
        "secret", help='Secret to expose to the build (format: "id=mysecret,src=/local/secret")'
    )
    cmd.flags.strings("cache-from", help="Images to consider as cache sources")
    cmd.flags.bool("rm", help="Remove intermediate containers after a successful build", default=True)
    cmd.flags.bool("force-rm", help="Always remove intermediate containers")
    cmd.flags.bool(
        "reproducible", help="Fixed timestamps (SOURCE_DATE_EPOCH or the base image's)", default=True
    )
    opts, args = cmd.parse(argv)
    if opts.progress not in ("auto", "plain", "tty"):
        raise InvalidArgument(f"invalid --progress {opts.progress!r}: use auto, plain or tty")
    source = args[0]
    dockerfile = opts.file or "Dockerfile"
    body: Any
    if source == "-":
        if opts.file == "-":
            raise InvalidArgument("invalid argument: can't use stdin for both build context and dockerfile")
        body = ctx.stdin
        dockerfile = opts.file or "Dockerfile"
    else:
        if not os.path.isdir(source):
            raise InvalidArgument(f'unable to prepare context: path "{source}" not found')
        extra: dict[str, bytes] = {}
        if opts.file == "-":
            dockerfile = f"__dockerfile-dockyard-{os.urandom(8).hex()}"
            extra[dockerfile] = ctx.stdin.read()
        elif opts.file:
            path = os.path.abspath(opts.file)
            root = os.path.abspath(source)
            if not path.startswith(root + os.sep):
                # A Dockerfile outside the context travels inside it under a name of its own.
                try:
                    with open(path, "rb") as f:
                        extra_name = f"__dockerfile-dockyard-{os.urandom(8).hex()}"
                        extra[extra_name] = f.read()
                except OSError as e:
                    raise InvalidArgument(f"unable to prepare context: {opts.file}: {e.strerror}") from None
                dockerfile = extra_name
            else:
                dockerfile = os.path.relpath(path, root)
        elif not os.path.isfile(os.path.join(source, "Dockerfile")):
            raise InvalidArgument(
                f"unable to prepare context: cannot find Dockerfile in {source}: add one or give -f FILE"
            )
        body = build_context.tar_context(source, dockerfile, extra)
    params: dict[str, Any] = {
        "t": opts.tag or None,
        "dockerfile": dockerfile,
        "buildargs": json.dumps(_pairs(opts.build_arg, "--build-arg", ctx.env)) if opts.build_arg else None,
        "target": opts.target or None,
        "nocache": opts.no_cache or None,
        "pull": opts.pull or None,
        "labels": json.dumps({k: v or "" for k, v in _pairs(opts.label, "--label", {}).items()})
        if opts.label
        else None,
        "networkmode": opts.network if opts.network != "default" else None,
        "platform": opts.platform or None,
        "rm": "1" if opts.rm else "0",
        "forcerm": opts.force_rm or None,
        "cachefrom": json.dumps(opts.cache_from) if opts.cache_from else None,
        "reproducible": None if opts.reproducible else "0",
        "q": opts.quiet or None,
    }
    headers = {"Content-Type": "application/x-tar"}
    if opts.secret:
        import base64

        found = dict(_secret(s, ctx.env) for s in opts.secret)
        encoded = {k: base64.b64encode(v).decode() for k, v in found.items()}
        headers["X-Dockyard-Build-Secrets"] = base64.b64encode(json.dumps(encoded).encode()).decode()
    messages = ctx.client.stream_json("POST", "/build", params, body=body, headers=headers)
    tty = opts.progress == "tty" or (opts.progress == "auto" and _stderr_is_tty(ctx))
    try:
        if opts.quiet:
            view = build_progress.BuildView(lambda kind, step, text: None)
            try:
                for message in messages:
                    view.feed(message)
            except StreamFailed as e:
                ctx.warn(build_progress.failure_text(view, str(e)))
                raise
        elif tty:
            view = build_progress.show_tty(messages, _TextOut(ctx.stderr))
        else:
            view = build_progress.show_plain(messages, ctx.warn)
    except StreamFailed:
        raise Exit(1) from None
    if opts.quiet:
        ctx.print(view.image_id)
    if opts.iidfile:
        with open(opts.iidfile, "w") as f:
            f.write(view.image_id)
    return 0


class _TextOut:
    """The text file rich writes to, over the context's binary stderr."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def write(self, text: str) -> int:
        self._raw.write(text.encode("utf-8", "replace"))
        return len(text)

    def flush(self) -> None:
        self._raw.flush()

    def isatty(self) -> bool:
        return True


def _stderr_is_tty(ctx: Context) -> bool:
    try:
        return os.isatty(ctx.stderr.fileno())
    except (AttributeError, OSError, ValueError):
        return False


def prune(ctx: Context, argv: list[str]) -> int:
    cmd = Command(ctx, "[OPTIONS]", "Remove build cache", max_args=0)
    cmd.flags.bool("all", "a", "Remove all unused build cache, not just dangling ones")
    cmd.flags.bool("force", "f", "Do not prompt for confirmation")
    opts, _ = cmd.parse(argv)
    if not opts.force:
        from dockyard.cli.lifecycle import confirm

        if not confirm(ctx, "WARNING! This will remove all dangling build cache."):
            return 0
    result = ctx.client.post("/build/prune", {"all": opts.all or None})
    deleted = result.get("CachesDeleted") or []
    if deleted:
        ctx.print("Deleted build cache objects:")
        for item in deleted:
            ctx.print(str(item))
    from dockyard.cli import humanize

    ctx.print(f"Total reclaimed space: {humanize.bytes_size(int(result.get('SpaceReclaimed') or 0))}")
    return 0
