"""``dockyard exec``: run a command in a running container; exit with its exit code.

``POST /containers/{id}/exec`` creates the exec, ``POST /exec/{id}/start`` runs it (hijacked,
unless ``-d``), ``GET /exec/{id}/json`` gives its ``ExitCode`` once the streams end.
"""

from __future__ import annotations

from dockyard.cli import envfile, sigproxy, terminal
from dockyard.cli.command import Command, Exit
from dockyard.cli.iopump import Pump
from dockyard.client.api import quote_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context


def exec_(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx,
        "[OPTIONS] CONTAINER COMMAND [ARG...]",
        "Execute a command in a running container",
        min_args=2,
        interspersed=False,
    )
    f = cmd.flags
    f.bool("detach", "d", "Detached mode: run command in the background")
    f.string("detach-keys", help="Override the key sequence for detaching a container")
    f.strings("env", "e", "Set environment variables")
    f.strings("env-file", help="Read in a file of environment variables")
    f.bool("interactive", "i", "Keep STDIN open even if not attached")
    f.bool("privileged", help="Give extended privileges to the command")
    f.bool("tty", "t", "Allocate a pseudo-TTY")
    f.string("user", "u", "Username or UID (format: <name|uid>[:<group|gid>])")
    f.string("workdir", "w", "Working directory inside the container")
    opts, args = cmd.parse(argv)
    container, command = args[0], args[1:]
    if opts.interactive and opts.tty and not opts.detach and not ctx.stdin_is_tty():
        ctx.warn("the input device is not a TTY")
        raise Exit(1)
    env = [line for path in opts.env_file for line in envfile.read_env_file(path, ctx.env)]
    env += [envfile.env_value(spec, ctx.env) for spec in opts.env]
    keys = opts.detach_keys or str(ctx.config().get("detachKeys") or "")
    body: dict[str, Any] = {
        "AttachStdin": opts.interactive and not opts.detach,
        "AttachStdout": not opts.detach,
        "AttachStderr": not opts.detach,
        "Tty": opts.tty,
        "Privileged": opts.privileged,
        "Cmd": command,
    }
    if env:
        body["Env"] = env
    if opts.user:
        body["User"] = opts.user
    if opts.workdir:
        body["WorkingDir"] = opts.workdir
    if keys:
        body["DetachKeys"] = keys
    dims = terminal.size(ctx.stdout.fileno()) if opts.tty and ctx.stdout_is_tty() else None
    if dims is not None:
        body["ConsoleSize"] = list(dims)
    created = ctx.client.call("POST", f"/containers/{quote_path(container)}/exec", json=body)
    exec_path = f"/exec/{quote_path(str(created['Id']))}"
    if opts.detach:
        ctx.client.call("POST", f"{exec_path}/start", json={"Detach": True, "Tty": opts.tty})
        return 0
    start_body: dict[str, Any] = {"Detach": False, "Tty": opts.tty}
    if dims is not None:
        start_body["ConsoleSize"] = list(dims)
    stream = ctx.client.hijack(f"{exec_path}/start", json=start_body, multiplexed=not opts.tty)
    handlers = sigproxy.Handlers()

    def resize() -> None:
        size = terminal.size(ctx.stdout.fileno())
        if size is not None:
            ctx.client.call("POST", f"{exec_path}/resize", {"h": size[0], "w": size[1]})

    try:
        if dims is not None:
            try:
                resize()
            except Exception:
                pass  # the process may not have its pty yet; SIGWINCH tries again
            sigproxy.resize_on_winch(resize, handlers)
        detach_keys = terminal.detach_keys(keys or terminal.DEFAULT_DETACH_KEYS) if opts.tty else None
        pump = Pump(ctx, stream, detach_keys=detach_keys if opts.interactive else None)
        if opts.interactive and opts.tty and ctx.stdin_is_tty():
            with terminal.RawMode(ctx.stdin.fileno()):
                detached = pump.run(with_stdin=True)
        else:
            detached = pump.run(with_stdin=opts.interactive)
    finally:
        handlers.restore()
        stream.close()
    if detached:
        return 0
    ctx.flush()
    info = ctx.client.get(f"{exec_path}/json") or {}
    code = info.get("ExitCode")
    if info.get("Running"):
        # The streams ended first; the exit code follows shortly.
        import time

        for _ in range(50):
            time.sleep(0.02)
            info = ctx.client.get(f"{exec_path}/json") or {}
            if not info.get("Running"):
                code = info.get("ExitCode")
                break
    code = int(code or 0)
    if code:
        raise Exit(code)
    return 0
