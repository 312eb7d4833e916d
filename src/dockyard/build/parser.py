"""The Dockerfile's lines into instructions: directives, comments, continuations, heredocs.

    parse(text, name="Dockerfile") -> Dockerfile(directives, nodes)

A :class:`Node` is one instruction as written: its keyword (upper case), the text after it with
continuations joined, its flags (``--from=x``) split off, its heredocs, and the line it starts
on. What the arguments mean is :mod:`dockyard.build.instructions`' work.

The rules are moby/buildkit's ``frontend/dockerfile/parser``:
- parser directives (``# escape=``, ``# syntax=``, ``# check=``) only at the very top, before
  any other comment, blank line or instruction; an unknown ``# key=value`` there ends them;
- a line ending in the escape character (after trailing blanks) continues on the next line;
  comment lines and blank lines inside a continuation are dropped (an empty continuation line
  is allowed, as in Docker, which only warns);
- ``<<EOF``, ``<<-EOF`` (leading tabs stripped), ``<<"EOF"``/``<<'EOF'`` (no expansion) after
  RUN, COPY and ADD: the body follows the instruction line up to a line that is the word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dockyard.errors import InvalidArgument

KNOWN = frozenset(
    {
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    }
)
HEREDOC_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_KNOWN_DIRECTIVES = frozenset({"escape", "syntax", "check"})
_HEREDOC = re.compile(r"<<(-?)\s*(?:\"([^\"\s]+)\"|'([^'\s]+)'|([A-Za-z_][A-Za-z0-9_]*))")


class DockerfileError(InvalidArgument):
    """A syntax error, named by file, line (and column when known)."""

    def __init__(self, name: str, line: int, message: str, column: int | None = None) -> None:
        where = f"{name}:{line}" + (f":{column}" if column is not None else "")
        super().__init__(f"{where}: {message}")
        self.line = line
        self.column = column


@dataclass
class Heredoc:
    name: str
    content: str
    expand: bool  # False when the word was quoted: no variable substitution in the body
    strip_tabs: bool = False


@dataclass
class Node:
    keyword: str  # upper case
    args: str  # the text after the keyword and its flags, continuations joined
    line: int  # 1-based line of the keyword
    end_line: int
    original: str  # the instruction as written (one line)
    flags: list[str] = field(default_factory=list)  # ["--from=a", "--chown=1:1"]
    heredocs: list[Heredoc] = field(default_factory=list)
    next: Node | None = None  # ONBUILD's instruction


@dataclass
class Dockerfile:
    nodes: list[Node]
    escape: str = "\\"
    directives: dict[str, str] = field(default_factory=dict)
    name: str = "Dockerfile"


def _directives(lines: list[str], name: str) -> tuple[dict[str, str], int]:
    found: dict[str, str] = {}
    for i, line in enumerate(lines):
        m = _DIRECTIVE.match(line.strip()) if line.strip().startswith("#") else None
        if m is None:
            return found, i
        key = m.group(1).lower()
        if key not in _KNOWN_DIRECTIVES:
            return found, i
        if key in found:
            raise DockerfileError(name, i + 1, f"only one {key} parser directive can be used")
        found[key] = m.group(2)
    return found, len(lines)


def parse(text: str, name: str = "Dockerfile") -> Dockerfile:
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.replace("\r\n", "\n").split("\n")
    directives, _ = _directives(lines, name)
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileError(name, 1, f"invalid escape token {escape!r} does not match ` or \\")
    nodes: list[Node] = []
    i = 0
    n = len(lines)
    while i < n:
        raw = lines[i]
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i
        parts: list[str] = []
        current = raw.lstrip()
        while True:
            body = current.rstrip()
            if body.endswith(escape):
                parts.append(body[:-1])
                i += 1
                # Skip comments and blank lines inside a continuation (Docker allows them).
                while i < n and (not lines[i].strip() or lines[i].strip().startswith("#")):
                    i += 1
                if i >= n:
                    break
                current = lines[i]
                continue
            parts.append(current.rstrip("\n"))
            break
        joined = "".join(parts).strip()
        node = _node(joined, start + 1, i + 1, name, raw.strip())
        i += 1
        if node.keyword in HEREDOC_INSTRUCTIONS or (node.next and node.next.keyword in HEREDOC_INSTRUCTIONS):
            target = node.next or node
            i = _read_heredocs(target, lines, i, name)
            node.end_line = i
        nodes.append(node)
    return Dockerfile(nodes, escape, directives, name)


def _node(text: str, line: int, end: int, name: str, original: str) -> Node:
    keyword, _, rest = text.partition(" ")
    if "\t" in keyword:
        keyword, _, more = keyword.partition("\t")
        rest = more + " " + rest if rest else more
    upper = keyword.upper()
    if upper not in KNOWN:
        raise DockerfileError(name, line, f'unknown instruction "{keyword}"')
    rest = rest.strip()
    flags, rest = split_flags(rest)
    node = Node(upper, rest, line, end, original, flags)
    if upper == "ONBUILD":
        if not rest:
            raise DockerfileError(name, line, "ONBUILD requires at least one argument")
        inner = _node(rest, line, end, name, original)
        if inner.keyword in ("ONBUILD", "FROM", "MAINTAINER"):
            raise DockerfileError(name, line, f"{inner.keyword} isn't allowed as an ONBUILD trigger")
        node.next = inner
    return node


def split_flags(rest: str) -> tuple[list[str], str]:
    """Leading ``--name[=value]`` words; a quoted value keeps its spaces."""
    flags: list[str] = []
    while rest.startswith("--"):
        end = 0
        quote = ""
        while end < len(rest):
            ch = rest[end]
            if quote:
                if ch == quote:
                    quote = ""
            elif ch in "\"'":
                quote = ch
            elif ch in " \t":
                break
            end += 1
        word = rest[:end]
        if word == "--":
            break
        flags.append(_unquote_flag(word))
        rest = rest[end:].lstrip()
    return flags, rest


def _unquote_flag(word: str) -> str:
    name, eq, value = word.partition("=")
    if eq and len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return name + eq + value


def _read_heredocs(node: Node, lines: list[str], i: int, name: str) -> int:
    for m in _HEREDOC.finditer(node.args):
        strip = m.group(1) == "-"
        word = m.group(2) or m.group(3) or m.group(4)
        quoted = bool(m.group(2) or m.group(3))
        body: list[str] = []
        while True:
            if i >= len(lines):
                raise DockerfileError(name, node.line, f"unterminated heredoc {word!r}: add a line {word}")
            line = lines[i]
            i += 1
            check = line.lstrip("\t") if strip else line
            if check.rstrip() == word:
                break
            body.append(line.lstrip("\t") if strip else line)
        node.heredocs.append(Heredoc(word, "\n".join(body) + "\n", not quoted, strip))
    return i
