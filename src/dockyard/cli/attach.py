"""``dockyard attach``: connect our terminal to a running container's streams until it ends or we detach."""

from __future__ import annotations

from dockyard.cli.command import Command, Exit
from dockyard.cli.session import Session
from dockyard.client.api import quote_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.context import Context


def attach(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx,
        "[OPTIONS] CONTAINER",
        "Attach local standard input, output, and error streams to a running container",
        min_args=1,
        max_args=1,
    )
    cmd.flags.string("detach-keys", help="Override the key sequence for detaching a container")
    cmd.flags.bool("no-stdin", help="Do not attach STDIN")
    cmd.flags.bool("sig-proxy", help="Proxy all received signals to the process", default=True)
    opts, (name,) = cmd.parse(argv)
    info = ctx.client.get(f"/containers/{quote_path(name)}/json")
    state = info.get("State") or {}
    config = info.get("Config") or {}
    if not state.get("Running"):
        ctx.warn("You cannot attach to a stopped container, start it first")
        raise Exit(1)
    if state.get("Paused"):
        ctx.warn("You cannot attach to a paused container, unpause it first")
        raise Exit(1)
    tty = bool(config.get("Tty"))
    stdin = bool(config.get("OpenStdin")) and not opts.no_stdin
    if tty and stdin and not ctx.stdin_is_tty():
        ctx.warn("the input device is not a TTY")
        raise Exit(1)
    session = Session(
        ctx, str(info["Id"]), tty=tty, stdin=stdin, sig_proxy=opts.sig_proxy, detach_keys=opts.detach_keys
    )
    try:
        session.register_wait(auto_remove=False, condition="not-running")
        session.attach()
        if session.pump():
            return 0
        ctx.flush()
        status = session.exit_status()
    finally:
        session.close()
    if status:
        raise Exit(status)
    return 0
