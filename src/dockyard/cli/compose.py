"""``dockyard compose [OPTIONS] COMMAND``: the global options, the project, the dispatch.

The behaviour lives in :mod:`dockyard.compose`; this module reads the command line, loads the
project (``loader.load``) and hands both over. Commands that only act on what the engine has
(``ps``, ``down``, ``stop``, ``logs``...) also work with ``-p NAME`` and no Compose file, as
Compose's do: the project is then found by its labels alone.
"""

from __future__ import annotations

import os

from dockyard.cli.command import Exit
from dockyard.cli.flags import FlagSet, HelpRequested
from dockyard.errors import DockyardError, InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.cli.context import Context
    from dockyard.cli.flags import Options
    from dockyard.compose.model import Project
    from dockyard.compose.progress import Progress

# command -> (function in dockyard.cli.compose_cmds, summary)
COMMANDS: dict[str, tuple[str, str]] = {
    "attach": (
        "compose_more.attach",
        "Attach local standard input, output, and error streams to a service's running container",
    ),
    "build": ("build", "Build or rebuild services"),
    "commit": ("compose_more.commit", "Create a new image from a service container's changes"),
    "config": ("config", "Parse, resolve and render compose file in canonical format"),
    "cp": ("compose_more.cp", "Copy files/folders between a service container and the local filesystem"),
    "create": ("compose_more.create", "Creates containers for a service"),
    "down": ("down", "Stop and remove containers, networks"),
    "events": ("events", "Receive real time events from containers"),
    "exec": ("exec_", "Execute a command in a running container"),
    "export": ("compose_more.export", "Export a service container's filesystem as a tar archive"),
    "images": ("compose_more.images", "List images used by the created containers"),
    "kill": ("kill", "Force stop service containers"),
    "logs": ("logs", "View output from containers"),
    "ls": ("ls", "List running compose projects"),
    "pause": ("compose_more.pause", "Pause services"),
    "port": ("port", "Print the public port for a port binding"),
    "ps": ("ps", "List containers"),
    "pull": ("pull", "Pull service images"),
    "push": ("push", "Push service images"),
    "restart": ("restart", "Restart service containers"),
    "rm": ("rm", "Removes stopped service containers"),
    "run": ("run", "Run a one-off command on a service"),
    "scale": ("compose_more.scale", "Scale services"),
    "start": ("start", "Start services"),
    "stats": ("compose_more.stats", "Display a live stream of container(s) resource usage statistics"),
    "stop": ("stop", "Stop services"),
    "top": ("top", "Display the running processes"),
    "unpause": ("compose_more.unpause", "Unpause services"),
    "up": ("up", "Create and start containers"),
    "version": ("compose_more.version", "Show the Docker Compose version information"),
    "wait": ("compose_more.wait", "Block until containers of all (or specified) services stop."),
}


def global_flags() -> FlagSet:
    f = FlagSet(interspersed=False)
    f.strings("file", "f", "Compose configuration files", metavar="stringArray")
    f.string("project-name", "p", "Project name")
    f.string(
        "project-directory", help="Specify an alternate working directory (default: the first file's folder)"
    )
    f.strings("env-file", help="Specify an alternate environment file", metavar="stringArray")
    f.strings("profile", help="Specify a profile to enable", metavar="stringArray")
    f.string(
        "ansi", help='Control when to print ANSI control characters ("never"|"always"|"auto")', default="auto"
    )
    f.string("progress", help='Set type of progress output ("auto", "tty", "plain", "quiet")', default="auto")
    return f


def help_text() -> str:
    width = max(len(name) for name in COMMANDS) + 2
    lines = [
        "",
        "Usage:  dockyard compose [OPTIONS] COMMAND",
        "",
        "Define and run multi-container applications with dockyard",
        "",
        "Options:",
        global_flags().usage().rstrip("\n"),
        "",
        "Commands:",
        *(f"  {name.ljust(width)}{summary}" for name, (_, summary) in sorted(COMMANDS.items())),
        "",
        "Run 'dockyard compose COMMAND --help' for more information on a command.",
        "",
    ]
    return "\n".join(lines)


class Compose:
    """What every compose command gets: the context, the global options, the project."""

    def __init__(self, ctx: Context, opts: Options) -> None:
        self.ctx = ctx
        self.opts = opts
        self._project: Project | None = None

    def load(self, targets: list[str] | None = None) -> Project:
        """The project; ``targets``: services named on the command line, enabled (with what they
        depend on) even when their profile is not, as Compose does for ``up svc`` and ``run svc``."""
        if self._project is None:
            from dockyard.compose import loader

            self._project = loader.load(
                loader.LoadOptions(
                    files=list(self.opts.file),
                    project_name=self.opts.project_name or None,
                    project_dir=self.opts.project_directory or None,
                    env_files=list(self.opts.env_file),
                    profiles=list(self.opts.profile),
                    environ=os.environ,
                )
            )
            for warning in self._project.warnings:  # unset variables, ignored keys
                self.ctx.warn(f"WARN[0000] {warning}")
        if targets:
            from dockyard.compose import loader

            loader.enable_services(self._project, targets)
        return self._project

    def project_or_name(self) -> tuple[Project | None, str]:
        """The project, or with ``-p`` (or COMPOSE_PROJECT_NAME) and no file to read, its name only."""
        name = self.opts.project_name or os.environ.get("COMPOSE_PROJECT_NAME", "")
        if name and not self.opts.file:
            try:
                project = self.load()
            except (DockyardError, NotImplementedError, OSError):
                return None, name
            return project, project.name
        project = self.load()
        return project, project.name

    def progress(self, title: str = "Running") -> Progress:
        from dockyard.compose.progress import Progress

        mode = self.opts.progress
        if mode == "quiet":
            from dockyard.compose.progress import Quiet

            return Quiet()
        terminal = mode == "tty" or (mode == "auto" and self.ctx.stdout_is_tty() and _isatty(self.ctx.stderr))
        return Progress(TextOut(self.ctx.stderr), terminal=terminal, title=title)

    def colour(self) -> bool:
        if self.opts.ansi == "never" or os.environ.get("NO_COLOR"):
            return False
        return self.opts.ansi == "always" or self.ctx.stdout_is_tty()


class TextOut:
    """A text stream over one of the context's byte streams (never closes it)."""

    def __init__(self, raw: object) -> None:
        self.raw = raw

    def write(self, text: str) -> int:
        self.raw.write(text.encode("utf-8", "surrogateescape"))  # type: ignore[attr-defined]
        return len(text)

    def flush(self) -> None:
        self.raw.flush()  # type: ignore[attr-defined]

    def isatty(self) -> bool:
        return _isatty(self.raw)


def _isatty(stream: object) -> bool:
    try:
        return os.isatty(stream.fileno())  # type: ignore[attr-defined]
    except (OSError, ValueError, AttributeError):
        return False


def compose(ctx: Context, argv: list[str]) -> int:
    try:
        opts, rest = global_flags().parse(argv)
    except HelpRequested:
        ctx.print(help_text())
        return 0
    if not rest or rest[0] == "help":
        ctx.print(help_text())
        return 0
    entry = COMMANDS.get(rest[0])
    if entry is None:
        raise InvalidArgument(f"unknown compose command: {rest[0]!r}: see 'dockyard compose --help'")
    if opts.ansi not in ("never", "always", "auto"):
        raise InvalidArgument(f'invalid --ansi "{opts.ansi}": use never, always or auto')
    import importlib

    module, _, attr = entry[0].rpartition(".")
    commands = importlib.import_module(f"dockyard.cli.{module or 'compose_cmds'}")
    ctx.command_path = f"dockyard compose {rest[0]}"
    ctx.aliases = []
    function: Callable[[Compose, list[str]], int] = getattr(commands, attr)
    try:
        return function(Compose(ctx, opts), rest[1:])
    except KeyboardInterrupt:
        raise Exit(130) from None
