"""``dockyard [GLOBAL OPTIONS] COMMAND [ARGS...]``: global flags, dispatch, errors and exit codes.

Exit codes as docker's: a command's own status; 125 for a malformed command line (and for
``run``/``create`` failures before the container runs, set by those commands); 1 for any other
error. Daemon errors print as ``Error response from daemon: MESSAGE``.
"""

from __future__ import annotations

import os
import sys

from dockyard.cli import verbs
from dockyard.cli.command import Exit, UsageError
from dockyard.cli.flags import FlagError, FlagSet, HelpRequested
from dockyard.errors import DockyardError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from dockyard.cli.context import Context
    from dockyard.cli.flags import Options


def global_flags() -> FlagSet:
    flags = FlagSet(interspersed=False)
    flags.string("config", help="Location of client config files (default ~/.docker)")
    flags.strings("host", "H", help="Daemon socket to connect to (unix:///path or tcp://host:port)")
    flags.bool("tls", help="Use TLS; implied by --tlsverify")
    flags.bool("tlsverify", help="Use TLS and verify the remote")
    flags.string("tlscacert", help="Trust certs signed only by this CA (default $DOCKER_CERT_PATH/ca.pem)")
    flags.string("tlscert", help="Path to TLS certificate file (default $DOCKER_CERT_PATH/cert.pem)")
    flags.string("tlskey", help="Path to TLS key file (default $DOCKER_CERT_PATH/key.pem)")
    flags.bool("debug", "D", help="Enable debug mode")
    flags.string("log-level", "l", help='Set the logging level ("debug", "info", "warn", "error", "fatal")')
    flags.string("context", "c", help="Name of the context to use (only the default context exists)")
    flags.bool("version", "v", help="Print version information and quit")
    return flags


def help_text() -> str:
    lines = [
        "",
        "Usage:  dockyard [OPTIONS] COMMAND",
        "",
        "A Docker-class container engine",
        "",
        "Commands:",
    ]
    width = max(len(name) for name in verbs.TOP) + 2
    for name in sorted(verbs.TOP):
        lines.append(f"  {name.ljust(width)}{verbs.TOP[name][2]}")
    lines += ["", "Management Commands:"]
    for name, (_, _, summary) in verbs.GROUPS.items():
        lines.append(f"  {name.ljust(width)}{summary}")
    lines += [
        "",
        "Engine and tools:",
        f"  {'daemon'.ljust(width)}Run the dockyard daemon",
        f"  {'registry'.ljust(width)}Run an image registry",
        f"  {'runtime'.ljust(width)}The OCI runtime (runc's command line)",
        "",
        "Global Options:",
        global_flags().usage().rstrip("\n"),
        "",
        "Run 'dockyard COMMAND --help' for more information on a command.",
        "",
    ]
    return "\n".join(lines)


def group_help(group: str) -> str:
    table, _, summary = verbs.GROUPS[group]
    width = max(len(name) for name in table) + 2
    lines = ["", f"Usage:  dockyard {group} COMMAND", "", summary, "", "Commands:"]
    lines += [f"  {name.ljust(width)}{entry[2]}" for name, entry in sorted(table.items())]
    lines += ["", f"Run 'dockyard {group} COMMAND --help' for more information on a command.", ""]
    return "\n".join(lines)


def make_context(opts: Options) -> Context:
    from dockyard.cli.context import Context
    from dockyard.client import host, tls

    env = os.environ
    if len(opts.host) > 1:
        raise FlagError("specify only one -H (the daemon to talk to)")
    url = opts.host[0] if opts.host else host.from_environment(env)
    tls_config = tls.configure(
        env,
        tls=opts.tls,
        verify=True if opts.tlsverify else None,
        ca=opts.tlscacert or None,
        cert=opts.tlscert or None,
        key=opts.tlskey or None,
    )
    if opts.context and opts.context != "default":
        raise FlagError(f'context "{opts.context}" does not exist: only "default" (use -H to pick a daemon)')
    return Context(host=url, tls=tls_config, config_dir=opts.config or None)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = _main(args)
    except BrokenPipeError:
        # The reader of our output went away (``dockyard ps | head``): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    return code


def _main(args: list[str]) -> int:
    try:
        opts, rest = global_flags().parse(args)
    except HelpRequested:
        sys.stdout.write(help_text())
        return 0
    except FlagError as exc:
        sys.stderr.write(f"{exc.message}\nSee 'dockyard --help'.\n")
        return 125
    if opts.version:
        from dockyard import __version__

        sys.stdout.write(f"dockyard version {__version__}\n")
        return 0
    if not rest or rest[0] == "help":
        sys.stdout.write(help_text())
        return 0
    words, entry, taken = verbs.resolve(rest)
    if entry is None:
        if words and words[0] in verbs.GROUPS:
            if len(rest) > 1 and rest[1] not in ("--help", "-h", "help"):
                sys.stderr.write(
                    f"dockyard: unknown command: dockyard {words[0]} {rest[1]}\n\n"
                    f"Run 'dockyard {words[0]} --help' for more information\n"
                )
                return 1
            sys.stdout.write(group_help(words[0]))
            return 0
        sys.stderr.write(f"dockyard: '{rest[0]}' is not a dockyard command.\nSee 'dockyard --help'\n")
        return 1
    ctx = None
    try:
        ctx = make_context(opts)
        ctx.command_path = "dockyard " + " ".join(words)
        ctx.aliases = verbs.aliases_of(words)
        module_name, function, _ = entry
        module = __import__(f"dockyard.cli.{module_name}", fromlist=[function])
        code: int = getattr(module, function)(ctx, rest[taken:])
        return code
    except Exit as exc:
        return exc.code
    except UsageError as exc:
        sys.stderr.write(f"dockyard: {exc.message}\n")
        return 1
    except FlagError as exc:
        sys.stderr.write(f"{exc.message}\n")
        return 125
    except DockyardError as exc:
        from dockyard.client.errors import DaemonError

        prefix = "Error response from daemon: " if isinstance(exc, DaemonError) else ""
        sys.stderr.write(f"{prefix}{exc.message}\n")
        return exc.exit_code or 1
    finally:
        if ctx is not None:
            try:
                ctx.flush()
            except BrokenPipeError:
                pass
            if ctx._client is not None:
                ctx._client.close()
