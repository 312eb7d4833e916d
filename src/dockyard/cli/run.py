"""``dockyard run`` and ``dockyard create``, following ``docker run``'s steps and exit codes.

create (on "No such image" with ``--pull missing``: print ``Unable to find image 'x:latest'
locally`` to stderr, pull, create again); then, unless ``-d``, attach and register the wait
before the start (see :mod:`dockyard.cli.session`); start; copy the streams; exit with the
container's status. ``-d`` prints the full id instead.

Exit codes as docker's: 125 when the daemon (or this command) fails before the container
runs, 126 when its command cannot be invoked, 127 when it is not found, else the container's.
"""

from __future__ import annotations

import os

from dockyard.cli import runconfig, runflags, terminal
from dockyard.cli.command import Command, Exit
from dockyard.cli.session import Session
from dockyard.client.api import quote_path
from dockyard.client.errors import DaemonError, DaemonUnreachable, NoSuchObject
from dockyard.errors import DockyardError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.context import Context
    from dockyard.cli.flags import Options

PULL_POLICIES = ("always", "missing", "never")


class CannotRun(DockyardError):
    """``run``/``create`` failed before the container ran: reported as docker does, exit 125."""

    exit_code = 125


def start_failure_code(message: str) -> int:
    """docker's ``runStartContainerErr``: which start errors mean 127 (not found) or 126 (not runnable)."""
    if any(
        text in message
        for text in (
            "executable file not found",
            "no such file or directory",
            "system cannot find the file specified",
        )
    ):
        return 127
    if "permission denied" in message or "is a directory" in message:
        return 126
    return 125


def _fail(ctx: Context, message: str, code: int = 125) -> Exit:
    ctx.flush()
    ctx.warn(f"dockyard: {message}\n\nRun '{ctx.command_path} --help' for more information")
    return Exit(code)


def _error_text(exc: DockyardError) -> str:
    return f"Error response from daemon: {exc.message}" if isinstance(exc, DaemonError) else exc.message


def create_container(ctx: Context, opts: Options, image: str, command: list[str], detach: bool) -> str:
    """POST /containers/create (pulling when the policy says so); the new container's id."""
    if opts.pull not in PULL_POLICIES:
        raise CannotRun(
            f'invalid pull option: \'{opts.pull}\': must be one of "always", "missing" or "never"'
        )
    console = terminal.size(ctx.stdout.fileno()) if opts.tty and ctx.stdout_is_tty() else None
    request = runconfig.build(opts, image, command, ctx.env, detach=detach, console_size=console)
    if opts.cidfile and os.path.exists(opts.cidfile):
        raise CannotRun(
            f"container ID file found, make sure the other container isn't running or delete {opts.cidfile}"
        )
    params = {"name": request.name or None, "platform": request.platform or None}
    if opts.pull == "always":
        from dockyard.cli.pull import pull_image

        pull_image(ctx, image, platform=request.platform, quiet=opts.quiet, out=ctx.stderr)
    try:
        created = ctx.client.post("/containers/create", params, json=request.body)
    except NoSuchObject as exc:
        # Only a missing image is pulled: a 404 for anything else (an old daemon without the
        # route, a --volumes-from container) is reported as it is.
        if opts.pull != "missing" or "image" not in exc.message.lower():
            raise
        from dockyard.client import reference

        ctx.warn(f"Unable to find image '{reference.parse(image).with_default_tag()}' locally")
        from dockyard.cli.pull import pull_image

        pull_image(ctx, image, platform=request.platform, quiet=opts.quiet, out=ctx.stderr)
        created = ctx.client.post("/containers/create", params, json=request.body)
    for warning in created.get("Warnings") or []:
        ctx.warn(f"WARNING: {warning}")
    cid = str(created["Id"])
    if opts.cidfile:
        with open(opts.cidfile, "x", encoding="ascii") as f:
            f.write(cid)
    return cid


def _flags(ctx: Context, usage: str, summary: str, run: bool) -> Command:
    cmd = Command(ctx, usage, summary, min_args=1, interspersed=False)
    runflags.add_container_flags(cmd.flags)
    if run:
        runflags.add_run_flags(cmd.flags)
    return cmd


def create(ctx: Context, argv: list[str]) -> int:
    cmd = _flags(ctx, "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container", run=False)
    opts, args = cmd.parse(argv)
    try:
        cid = create_container(ctx, opts, args[0], args[1:], detach=False)
    except (DockyardError, OSError) as exc:
        text = _error_text(exc) if isinstance(exc, DockyardError) else str(exc)
        raise _fail(ctx, text) from None
    ctx.print(cid)
    return 0


def run(ctx: Context, argv: list[str]) -> int:
    cmd = _flags(
        ctx, "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container from an image", run=True
    )
    opts, args = cmd.parse(argv)
    if opts.interactive and opts.tty and not opts.detach and not ctx.stdin_is_tty():
        ctx.warn("the input device is not a TTY")
        raise Exit(1)
    detach = opts.detach
    try:
        cid = create_container(ctx, opts, args[0], args[1:], detach=detach)
    except (DockyardError, OSError) as exc:
        text = _error_text(exc) if isinstance(exc, DockyardError) else str(exc)
        raise _fail(ctx, text) from None
    path = f"/containers/{quote_path(cid)}"
    if detach:
        try:
            ctx.client.call("POST", f"{path}/start")
        except DockyardError as exc:
            raise _fail(ctx, _error_text(exc), start_failure_code(exc.message)) from None
        ctx.print(cid)
        return 0
    attach = [s.lower() for s in opts.attach] or ["stdout", "stderr"] + (
        ["stdin"] if opts.interactive else []
    )
    session = Session(
        ctx,
        cid,
        tty=opts.tty,
        stdin="stdin" in attach,
        stdout="stdout" in attach,
        stderr="stderr" in attach,
        sig_proxy=opts.sig_proxy,
        detach_keys=opts.detach_keys,
    )
    try:
        try:
            session.attach()
            session.register_wait(auto_remove=opts.rm)
            ctx.client.call("POST", f"{path}/start")
        except DaemonUnreachable as exc:
            raise _fail(ctx, exc.message) from None
        except DockyardError as exc:
            code = start_failure_code(exc.message)
            if session.stream is not None:
                session.stream.close()
            if opts.rm and session.waiter is not None:
                # The daemon removes an AutoRemove container whose start failed; wait for it.
                try:
                    session.waiter.read()
                except OSError:
                    pass
            raise _fail(ctx, _error_text(exc), code) from None
        if session.pump():
            return 0  # detached with the escape keys: the container keeps running
        ctx.flush()
        status = session.exit_status()
    finally:
        session.close()
    if status:
        raise Exit(status)
    return 0
