"""``dockyard start``: start containers, or with ``-a``/``-i`` start one attached to it (as ``run`` does)."""

from __future__ import annotations

from dockyard.cli.command import Command, Exit
from dockyard.cli.lifecycle import for_each
from dockyard.cli.session import Session
from dockyard.client.api import quote_path
from dockyard.client.errors import DaemonError
from dockyard.errors import DockyardError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.context import Context


def start(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx, "[OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers", min_args=1
    )
    cmd.flags.bool("attach", "a", "Attach STDOUT/STDERR and forward signals")
    cmd.flags.bool("interactive", "i", "Attach container's STDIN")
    cmd.flags.string("detach-keys", help="Override the key sequence for detaching a container")
    opts, names = cmd.parse(argv)
    if not (opts.attach or opts.interactive):
        try:
            return for_each(
                ctx, names, lambda n: ctx.client.call("POST", f"/containers/{quote_path(n)}/start")
            )
        except Exit:
            ctx.warn(f"Error: failed to start containers: {', '.join(names)}")
            raise
    if len(names) > 1:
        ctx.warn("Error: you cannot start and attach multiple containers at once")
        raise Exit(1)
    info = ctx.client.get(f"/containers/{quote_path(names[0])}/json")
    config = info.get("Config") or {}
    session = Session(
        ctx,
        str(info["Id"]),
        tty=bool(config.get("Tty")),
        stdin=bool(opts.interactive and config.get("OpenStdin")),
        detach_keys=opts.detach_keys,
    )
    try:
        session.attach()
        session.register_wait(auto_remove=bool((info.get("HostConfig") or {}).get("AutoRemove")))
        try:
            ctx.client.call("POST", f"/containers/{quote_path(names[0])}/start")
        except DockyardError as exc:
            prefix = "Error response from daemon: " if isinstance(exc, DaemonError) else ""
            ctx.warn(f"{prefix}{exc.message}")
            raise Exit(1) from None
        if session.pump():
            return 0
        ctx.flush()
        status = session.exit_status()
    finally:
        session.close()
    if status:
        raise Exit(status)
    return 0
