"""One command's grammar: its usage line, flags, argument count, and docker's usage errors.

Flag errors exit 125 and a wrong argument count exits 1, each followed by the usage line, as the
docker CLI (cobra) does::

    'dockyard rm' requires at least 1 argument

    Usage:  dockyard rm [OPTIONS] CONTAINER [CONTAINER...]

    See 'dockyard rm --help' for more information
"""

from __future__ import annotations

from dockyard.cli.flags import FlagError, FlagSet, HelpRequested
from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from dockyard.cli.context import Context
    from dockyard.cli.flags import Options


class UsageError(InvalidArgument):
    """The wrong number of arguments (exit 1)."""


class Exit(Exception):
    """End the command with this exit code (help printed, nothing to do, a container's status)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _plural(n: int) -> str:
    return "argument" if n == 1 else "arguments"


class Command:
    def __init__(
        self,
        ctx: Context,
        usage: str,
        summary: str,
        *,
        min_args: int = 0,
        max_args: int | None = None,
        interspersed: bool = True,
    ) -> None:
        self.ctx = ctx
        self.path = ctx.command_path
        self.usage = usage
        self.summary = summary
        self.min_args = min_args
        self.max_args = max_args
        self.flags = FlagSet(interspersed)
        self.aliases = ctx.aliases

    def usage_line(self) -> str:
        return f"{self.path} {self.usage}".rstrip()

    def help_text(self) -> str:
        text = f"\nUsage:  {self.usage_line()}\n\n{self.summary}\n"
        if self.aliases:
            text += "\nAliases:\n  " + ", ".join(self.aliases) + "\n"
        options = self.flags.usage()
        if options:
            text += "\nOptions:\n" + options
        return text

    def _count_error(self, n: int) -> str | None:
        name = f"'{self.path}'"
        lo, hi = self.min_args, self.max_args
        if lo == hi and n != lo:
            return f"{name} requires {lo} {_plural(lo)}" if lo else f"{name} accepts no arguments"
        if n < lo:
            return f"{name} requires at least {lo} {_plural(lo)}"
        if hi is not None and n > hi:
            return f"{name} requires at most {hi} {_plural(hi)}"
        return None

    def parse(self, argv: Sequence[str]) -> tuple[Options, list[str]]:
        try:
            opts, args = self.flags.parse(argv)
        except HelpRequested:
            self.ctx.print(self.help_text())
            raise Exit(0) from None
        except FlagError as exc:
            message = (
                f"{exc.message}\n\nUsage:  {self.usage_line()}\n\n"
                f"Run '{self.path} --help' for more information"
            )
            raise FlagError(message) from None
        problem = self._count_error(len(args))
        if problem:
            raise UsageError(
                f"{problem}\n\nUsage:  {self.usage_line()}\n\nSee '{self.path} --help' for more information"
            )
        return opts, args

    def fail(self, message: str) -> FlagError:
        """A bad flag combination or value found after parsing (exit 125, with the usage line)."""
        return FlagError(
            f"{message}\n\nUsage:  {self.usage_line()}\n\nRun '{self.path} --help' for more information"
        )
