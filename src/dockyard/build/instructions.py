"""Parsed nodes into typed instructions: flags checked, JSON and shell forms told apart.

Words are kept as written: variables are substituted when the builder reaches the instruction
(the values depend on ARG and ENV above it). Only the structure is checked here, so a typo
anywhere in the file fails the build before its first step, with the line named.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from dockyard.build.parser import Dockerfile, DockerfileError, Heredoc, Node
from dockyard.build.shellwords import split_raw

#: flags each instruction accepts; a value of True: may be given more than once
FLAGS: dict[str, dict[str, bool]] = {
    "FROM": {"platform": False},
    "RUN": {"mount": True, "network": False},
    "COPY": {"from": False, "chown": False, "chmod": False, "link": False},
    "ADD": {"chown": False, "chmod": False, "link": False, "checksum": False},
    "HEALTHCHECK": {
        "interval": False,
        "timeout": False,
        "start-period": False,
        "start-interval": False,
        "retries": False,
    },
}


@dataclass
class Command:
    """CMD, ENTRYPOINT, RUN, SHELL: an argv (exec form) or a string for the shell."""

    argv: list[str] | None  # exec (JSON) form
    shell: str | None  # shell form

    @property
    def json_form(self) -> bool:
        return self.argv is not None


@dataclass
class Instruction:
    node: Node
    flags: dict[str, list[str]] = field(default_factory=dict)

    @property
    def keyword(self) -> str:
        return self.node.keyword

    @property
    def line(self) -> int:
        return self.node.line

    def flag(self, name: str) -> str | None:
        values = self.flags.get(name)
        return values[-1] if values else None


@dataclass
class From(Instruction):
    image: str = ""
    name: str | None = None


@dataclass
class KeyValues(Instruction):
    """ENV, LABEL, ARG: pairs as written (ARG's value None: no default)."""

    pairs: list[tuple[str, str | None]] = field(default_factory=list)


@dataclass
class Run(Instruction):
    command: Command = field(default_factory=lambda: Command(None, ""))
    heredocs: list[Heredoc] = field(default_factory=list)


@dataclass
class CommandInstruction(Instruction):
    """CMD, ENTRYPOINT, SHELL."""

    command: Command = field(default_factory=lambda: Command(None, ""))


@dataclass
class Copy(Instruction):
    """COPY and ADD."""

    sources: list[str] = field(default_factory=list)
    dest: str = ""
    heredocs: list[Heredoc] = field(default_factory=list)


@dataclass
class Words(Instruction):
    """EXPOSE, VOLUME (shell or JSON form), USER, WORKDIR, STOPSIGNAL, MAINTAINER: raw text."""

    text: str = ""
    items: list[str] | None = None  # VOLUME's JSON form


@dataclass
class Healthcheck(Instruction):
    command: Command | None = None  # None: HEALTHCHECK NONE
    none: bool = False


@dataclass
class Onbuild(Instruction):
    trigger: str = ""


@dataclass
class Stage:
    index: int
    base: From
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def name(self) -> str | None:
        return self.base.name


@dataclass
class Plan:
    """The whole file: global ARGs (before the first FROM), then the stages."""

    meta_args: list[KeyValues]
    stages: list[Stage]
    escape: str
    name: str

    def stage(self, ref: str) -> Stage | None:
        for s in self.stages:
            if s.name is not None and s.name.lower() == ref.lower():
                return s
        if ref.isdigit() and int(ref) < len(self.stages):
            return self.stages[int(ref)]
        return None

    def count(self) -> int:
        return sum(1 + len(s.instructions) for s in self.stages)


def parse_json_array(text: str) -> list[str] | None:
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _command(text: str) -> Command:
    argv = parse_json_array(text)
    return Command(argv, None) if argv is not None else Command(None, text)


def _flags(node: Node, name: str) -> dict[str, list[str]]:
    allowed = FLAGS.get(node.keyword, {})
    out: dict[str, list[str]] = {}
    for flag in node.flags:
        key, eq, value = flag[2:].partition("=")
        if key not in allowed:
            raise DockerfileError(name, node.line, f"unknown flag: --{key} for {node.keyword}")
        if key in out and not allowed[key]:
            raise DockerfileError(name, node.line, f"duplicate flag specified: --{key}")
        if not eq and key != "link":
            raise DockerfileError(name, node.line, f"missing a value on flag: --{key}")
        out.setdefault(key, []).append(value if eq else "true")
    return out


def _pairs(node: Node, name: str, escape: str) -> list[tuple[str, str | None]]:
    words = split_raw(node.args, escape)
    if not words:
        raise DockerfileError(name, node.line, f"{node.keyword} requires at least one argument")
    if node.keyword == "ARG":
        out: list[tuple[str, str | None]] = []
        for w in words:
            key, eq, value = w.partition("=")
            if not key:
                raise DockerfileError(name, node.line, f"ARG names can not be blank: {w!r}")
            out.append((key, value if eq else None))
        return out
    if "=" not in words[0]:
        # Legacy "ENV key value with spaces": one pair, the rest of the line is the value.
        if node.keyword == "LABEL" or len(words) < 2:
            raise DockerfileError(
                name, node.line, f"{node.keyword} must have two arguments: write {node.keyword} key=value"
            )
        key, _, rest = node.args.strip().partition(" ")
        return [(key, rest.strip())]
    pairs: list[tuple[str, str | None]] = []
    for w in words:
        key, eq, value = w.partition("=")
        if not eq or not key:
            raise DockerfileError(
                name, node.line, f"Syntax error - can't find = in {w!r}. Must be of the form: name=value"
            )
        pairs.append((key, value))
    return pairs


def instruction(node: Node, name: str = "Dockerfile", escape: str = "\\") -> Instruction:
    kw = node.keyword
    flags = _flags(node, name)
    args = node.args
    if kw not in ("RUN", "CMD", "ENTRYPOINT", "SHELL", "HEALTHCHECK") and not args and not node.heredocs:
        raise DockerfileError(name, node.line, f"{kw} requires at least one argument")
    if kw == "FROM":
        words = args.split()
        if len(words) == 3 and words[1].lower() == "as":
            return From(node, flags, words[0], words[2])
        if len(words) != 1:
            raise DockerfileError(
                name, node.line, "FROM requires either one or three arguments: FROM image [AS name]"
            )
        return From(node, flags, words[0], None)
    if kw in ("ENV", "LABEL", "ARG"):
        return KeyValues(node, flags, _pairs(node, name, escape))
    if kw == "RUN":
        if not args and not node.heredocs:
            raise DockerfileError(name, node.line, "RUN requires at least one argument")
        return Run(node, flags, _command(args), list(node.heredocs))
    if kw in ("CMD", "ENTRYPOINT", "SHELL"):
        cmd = _command(args)
        if kw == "SHELL" and cmd.argv is None:
            raise DockerfileError(
                name, node.line, 'SHELL requires the arguments to be in JSON form: SHELL ["sh", "-c"]'
            )
        if kw == "SHELL" and not cmd.argv:
            raise DockerfileError(name, node.line, "SHELL requires at least one argument")
        return CommandInstruction(node, flags, cmd)
    if kw in ("COPY", "ADD"):
        argv = parse_json_array(args)
        words = argv if argv is not None else split_raw(args, escape)
        if len(words) < 2:
            raise DockerfileError(
                name,
                node.line,
                f"{kw} requires at least two arguments, but only one was provided. "
                "Destination could not be determined.",
            )
        return Copy(node, flags, list(words[:-1]), words[-1], list(node.heredocs))
    if kw == "HEALTHCHECK":
        if args.upper() == "NONE":
            if flags:
                raise DockerfileError(name, node.line, "HEALTHCHECK NONE takes no flags")
            return Healthcheck(node, flags, None, True)
        word, _, rest = args.partition(" ")
        if word.upper() != "CMD":
            raise DockerfileError(name, node.line, f'Unknown type "{word}" in HEALTHCHECK (try CMD)')
        return Healthcheck(node, flags, _command(rest.strip()), False)
    if kw == "ONBUILD":
        assert node.next is not None
        instruction(node.next, name, escape)  # fail now on a bad trigger
        text = node.args
        return Onbuild(node, flags, text)
    if kw == "VOLUME":
        return Words(node, flags, args, parse_json_array(args))
    return Words(node, flags, args)


def plan(dockerfile: Dockerfile) -> Plan:
    meta: list[KeyValues] = []
    stages: list[Stage] = []
    for node in dockerfile.nodes:
        ins = instruction(node, dockerfile.name, dockerfile.escape)
        if isinstance(ins, From):
            stages.append(Stage(len(stages), ins))
        elif not stages:
            if not isinstance(ins, KeyValues) or ins.keyword != "ARG":
                raise DockerfileError(
                    dockerfile.name,
                    node.line,
                    f"{node.keyword} before the first FROM: only ARG may come before FROM",
                )
            meta.append(ins)
        else:
            stages[-1].instructions.append(ins)
    if not stages:
        raise DockerfileError(dockerfile.name, 1, "the Dockerfile has no FROM instruction: add FROM <image>")
    seen: set[str] = set()
    for s in stages:
        if s.name is not None:
            if s.name.lower() in seen:
                raise DockerfileError(dockerfile.name, s.base.line, f"duplicate stage name {s.name!r}")
            seen.add(s.name.lower())
    return Plan(meta, stages, dockerfile.escape, dockerfile.name)
