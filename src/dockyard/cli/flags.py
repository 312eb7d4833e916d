"""Command-line flags with the docker CLI's grammar (spf13/pflag, as cobra uses it).

``--name value``, ``--name=value``, ``-n value``, ``-nvalue``, ``-n=value``; boolean shorthands
group (``-itd``) and booleans take ``--rm=false``; ``--`` ends the flags. Commands that run
another command (run, create, exec) stop at the first argument that is not a flag, so
``dockyard run busybox ls -l`` leaves ``-l`` to ``ls`` (pflag ``SetInterspersed(false)``); the
others accept flags after their arguments (``dockyard rm c1 -f``).

Errors carry pflag's wording, e.g. ``invalid argument "abc" for "-m, --memory" flag: invalid size:
'abc'``; the command line prints them with the usage line and exits 125, as docker does.
argparse is not used: it costs 9 ms of imports (``re``, ``gettext``) and words its errors its own way.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

_int = int  # FlagSet.int() shadows the builtin inside the class body

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any


class FlagError(InvalidArgument):
    """A malformed command line (unknown flag, missing or bad value): exit 125."""

    exit_code = 125


class HelpRequested(Exception):
    """``--help`` (or ``-h`` where it is not taken) was given."""


BOOL_WORDS = {"1": True, "t": True, "T": True, "true": True, "TRUE": True, "True": True}
BOOL_WORDS.update({"0": False, "f": False, "F": False, "false": False, "FALSE": False, "False": False})


def parse_bool(text: str) -> bool:
    try:
        return BOOL_WORDS[text]
    except KeyError:
        raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax') from None


def parse_int(text: str) -> int:
    try:
        return int(text, 0) if text[:2].lower() in ("0x", "0o", "0b") else int(text)
    except ValueError:
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None


def parse_uint(text: str) -> int:
    value = parse_int(text) if text and text[0] != "-" else -1
    if value < 0:
        raise ValueError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    return value


class Flag:
    __slots__ = ("default", "dest", "help", "hidden", "kind", "metavar", "name", "parse", "repeat", "short")

    def __init__(
        self,
        name: str,
        short: str,
        kind: str,
        default: Any,
        help: str,
        parse: Callable[[str], Any] | None,
        repeat: bool,
        metavar: str,
        hidden: bool,
    ) -> None:
        self.name = name
        self.short = short
        self.kind = kind
        self.default = default
        self.help = help
        self.parse = parse
        self.repeat = repeat
        self.metavar = metavar
        self.hidden = hidden
        self.dest = name.replace("-", "_")

    @property
    def is_bool(self) -> bool:
        return self.kind == "bool"

    def label(self) -> str:
        """How pflag names the flag in errors: ``-m, --memory`` or ``--cpus``."""
        return f"-{self.short}, --{self.name}" if self.short else f"--{self.name}"


class Options:
    """Parsed values, one attribute per flag (``--memory-swap`` -> ``memory_swap``)."""

    def __init__(self) -> None:
        self._changed: set[str] = set()

    def changed(self, name: str) -> bool:
        """Whether the flag was given on the command line (pflag ``Changed``)."""
        return name.replace("-", "_") in self._changed

    def __getattr__(self, name: str) -> Any:  # for mypy: flags are dynamic attributes
        raise AttributeError(name)


class FlagSet:
    def __init__(self, interspersed: bool = True) -> None:
        self.flags: list[Flag] = []
        self._long: dict[str, Flag] = {}
        self._short: dict[str, Flag] = {}
        self.interspersed = interspersed

    def add(
        self,
        name: str,
        short: str = "",
        *,
        kind: str = "string",
        default: Any = None,
        help: str = "",
        parse: Callable[[str], Any] | None = None,
        repeat: bool = False,
        metavar: str = "",
        hidden: bool = False,
        aliases: Sequence[str] = (),
    ) -> Flag:
        flag = Flag(name, short, kind, default, help, parse, repeat, metavar or kind, hidden)
        self.flags.append(flag)
        self._long[name] = flag
        for alias in aliases:
            self._long[alias] = flag
        if short:
            self._short[short] = flag
        return flag

    def bool(self, name: str, short: str = "", help: str = "", default: bool = False, **kw: Any) -> Flag:
        return self.add(name, short, kind="bool", default=default, help=help, **kw)

    def string(self, name: str, short: str = "", help: str = "", default: str = "", **kw: Any) -> Flag:
        return self.add(name, short, kind="string", default=default, help=help, **kw)

    def strings(self, name: str, short: str = "", help: str = "", **kw: Any) -> Flag:
        """A repeatable flag collecting every value given (pflag ``StringArray``)."""
        kw.setdefault("metavar", "list")
        return self.add(name, short, kind="list", default=None, help=help, repeat=True, **kw)

    def int(self, name: str, short: str = "", help: str = "", default: _int = 0, **kw: Any) -> Flag:
        kw.setdefault("parse", parse_int)
        return self.add(name, short, kind="int", default=default, help=help, **kw)

    def value(
        self, name: str, parse: Callable[[str], Any], short: str = "", help: str = "", **kw: Any
    ) -> Flag:
        """A flag whose text is converted (and checked) by ``parse``; ValueError is a flag error."""
        kw.setdefault("metavar", "string")
        return self.add(name, short, kind="value", parse=parse, help=help, **kw)

    def lookup_short(self, char: str) -> Flag | None:
        return self._short.get(char)

    # ------------------------------------------------------------------ parsing

    def parse(self, args: Sequence[str]) -> tuple[Options, list[str]]:
        opts = Options()
        for flag in self.flags:
            setattr(opts, flag.dest, [] if flag.repeat else flag.default)
        positional: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            i += 1
            if arg == "--":
                positional.extend(args[i:])
                break
            if arg.startswith("--"):
                i = self._long_flag(opts, arg, args, i)
            elif arg.startswith("-") and arg != "-":
                i = self._short_flags(opts, arg, args, i)
            else:
                positional.append(arg)
                if not self.interspersed:
                    positional.extend(args[i:])
                    break
        return opts, positional

    def _long_flag(self, opts: Options, arg: str, args: Sequence[str], i: _int) -> _int:
        name, has_value, value = arg[2:].partition("=")
        flag = self._long.get(name)
        if flag is None:
            if name == "help":
                raise HelpRequested
            raise FlagError(f"unknown flag: --{name}")
        if not has_value:
            if flag.is_bool:
                value = "true"
            elif i < len(args):
                value, i = args[i], i + 1
            else:
                raise FlagError(f"flag needs an argument: --{name}")
        self._set(opts, flag, value)
        return i

    def _short_flags(self, opts: Options, arg: str, args: Sequence[str], i: _int) -> _int:
        chars = arg[1:]
        while chars:
            char = chars[0]
            flag = self._short.get(char)
            if flag is None:
                if char == "h":
                    raise HelpRequested
                raise FlagError(f"unknown shorthand flag: '{char}' in -{chars}")
            rest = chars[1:]
            if rest.startswith("="):
                self._set(opts, flag, rest[1:])
                return i
            if flag.is_bool:
                self._set(opts, flag, "true")
                chars = rest
                continue
            if rest:
                self._set(opts, flag, rest)
            elif i < len(args):
                self._set(opts, flag, args[i])
                i += 1
            else:
                raise FlagError(f"flag needs an argument: '{char}' in -{char}")
            return i
        return i

    def _set(self, opts: Options, flag: Flag, text: str) -> None:
        try:
            if flag.is_bool:
                value: Any = parse_bool(text)
            elif flag.parse is not None:
                value = flag.parse(text)
            else:
                value = text
        except ValueError as exc:
            raise FlagError(f'invalid argument "{text}" for "{flag.label()}" flag: {exc}') from None
        if flag.repeat:
            getattr(opts, flag.dest).append(value)
        else:
            setattr(opts, flag.dest, value)
        opts._changed.add(flag.dest)

    # ------------------------------------------------------------------ help

    def usage(self) -> str:
        """The options block of ``--help``, laid out as pflag's ``FlagUsages``."""
        rows = []
        for flag in self.flags:
            if flag.hidden:
                continue
            left = f"  -{flag.short}, --{flag.name}" if flag.short else f"      --{flag.name}"
            if not flag.is_bool:
                left += f" {flag.metavar}"
            text = flag.help
            if flag.default not in (None, "", 0, False, []) and not flag.is_bool:
                text += (
                    f' (default "{flag.default}")' if flag.kind == "string" else f" (default {flag.default})"
                )
            elif flag.is_bool and flag.default:
                text += " (default true)"
            rows.append((left, text))
        width = max((len(left) for left, _ in rows), default=0)
        return "".join(f"{left.ljust(width)}   {text}\n" for left, text in rows)
