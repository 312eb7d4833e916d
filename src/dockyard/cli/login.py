"""``dockyard login``/``logout``: credentials checked by the daemon (``POST /auth``), kept in config.json."""

from __future__ import annotations

from dockyard.cli.command import Command, Exit
from dockyard.client import auth

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.context import Context


def _prompt(ctx: Context, text: str, secret: bool) -> str:
    if not ctx.stdin_is_tty():
        ctx.warn("Error: Cannot perform an interactive login from a non TTY device")
        raise Exit(1)
    if secret:
        import getpass

        return getpass.getpass(text)
    ctx.print(text, end="")
    ctx.flush()
    return ctx.stdin.readline().decode(errors="replace").strip()


def login(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx,
        "[OPTIONS] [SERVER]",
        "Log in to a registry.\nIf no server is specified, the default is defined by the daemon.",
        max_args=1,
    )
    cmd.flags.string("password", "p", "Password or Personal Access Token (PAT)")
    cmd.flags.bool("password-stdin", help="Take the Password or Personal Access Token (PAT) from stdin")
    cmd.flags.string("username", "u", "Username")
    opts, args = cmd.parse(argv)
    server = args[0] if args else auth.INDEX_SERVER
    password = opts.password
    if opts.password and opts.password_stdin:
        ctx.warn("--password and --password-stdin are mutually exclusive")
        raise Exit(1)
    if opts.password_stdin:
        if not opts.username:
            ctx.warn("Must provide --username with --password-stdin")
            raise Exit(1)
        password = ctx.stdin.read().decode(errors="replace").rstrip("\r\n")
    elif opts.password:
        ctx.warn("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
    username = opts.username or _prompt(ctx, "Username: ", secret=False)
    if not password:
        password = _prompt(ctx, "Password: ", secret=True)
    if not username or not password:
        ctx.warn("Error: Username and password required")
        raise Exit(1)
    key = auth.server_key(server)
    answer = (
        ctx.client.call(
            "POST", "/auth", json={"username": username, "password": password, "serveraddress": key}
        )
        or {}
    )
    config = ctx.config()
    auth.put(config, server, username, password)
    if answer.get("IdentityToken"):
        config["auths"][key]["identitytoken"] = answer["IdentityToken"]
    auth.save(ctx.config_path, config)
    if not auth.helper_for(config, server):
        ctx.warn(f"WARNING! Your password will be stored unencrypted in {ctx.config_path}.")
    ctx.print(str(answer.get("Status") or "Login Succeeded"))
    return 0


def logout(ctx: Context, argv: list[str]) -> int:
    cmd = Command(
        ctx,
        "[SERVER]",
        "Log out from a registry.\nIf no server is specified, the default is defined by the daemon.",
        max_args=1,
    )
    _, args = cmd.parse(argv)
    server = args[0] if args else auth.INDEX_SERVER
    config = ctx.config()
    if not auth.remove(config, server):
        ctx.print(f"Not logged in to {server}")
        return 0
    ctx.print(f"Removing login credentials for {server}")
    auth.save(ctx.config_path, config)
    return 0
