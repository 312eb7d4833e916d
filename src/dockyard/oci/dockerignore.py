""".dockerignore: which paths of a build context are left out, as moby's ``patternmatcher``.

Both sides use it: the client leaves the files out of the context it sends, the daemon again
when it unpacks a context (a client may not have done it). Standard library only.

- one pattern a line; ``#`` lines are comments; blank lines are ignored; each pattern is cleaned
  as a path (``./a//b/`` is ``a/b``; a leading ``/`` is dropped: paths are relative to the root);
- ``*`` matches any run of characters but ``/``, ``?`` one of them, ``[a-z]`` a class, ``\\``
  escapes; ``**`` matches any number of folders (also none);
- ``!pattern`` re-includes what an earlier pattern excluded; the last matching pattern wins;
- a pattern matching a folder excludes everything below it (a later ``!`` may bring a file back).
"""

from __future__ import annotations

import posixpath
import re


class Pattern:
    # A plain class, not a dataclass: `dockyard build` imports this module, and dataclasses
    # costs more to import than the rest of the command.
    __slots__ = ("dirs", "exclusion", "regex", "text")

    def __init__(self, text: str, exclusion: bool, regex: re.Pattern[str], dirs: int) -> None:
        self.text = text
        self.exclusion = exclusion  # a "!" pattern
        self.regex = regex
        self.dirs = dirs  # path components in the pattern


def read(text: str) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        out.append(line)
    return out


def _clean(path: str) -> str:
    cleaned = posixpath.normpath(path)
    cleaned = cleaned.lstrip("/")
    return "" if cleaned == "." else cleaned


def _regex(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 1
                # "**/" at any place: zero or more folders; "**" at the end: anything.
                if i + 1 < n and pattern[i + 1] == "/":
                    i += 1
                    out.append("(?:.*/)?")
                else:
                    out.append(".*")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!") or body.startswith("^"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return re.compile("".join(out))


def compile_patterns(lines: list[str]) -> list[Pattern]:
    out: list[Pattern] = []
    for line in lines:
        exclusion = line.startswith("!")
        text = _clean(line[1:].strip() if exclusion else line)
        if not text:
            continue
        out.append(Pattern(text, exclusion, _regex(text), text.count("/") + 1))
    return out


class Matcher:
    def __init__(self, lines: list[str]) -> None:
        self.patterns = compile_patterns(lines)
        self.has_exclusions = any(p.exclusion for p in self.patterns)

    def excluded(self, path: str) -> bool:
        """True when ``path`` (relative to the context root, ``/`` separated) is left out."""
        path = _clean(path)
        if not path:
            return False
        parts = path.split("/")
        matched = False
        for p in self.patterns:
            if p.exclusion != matched:
                continue  # cannot change the outcome
            hit = bool(p.regex.match(path))
            if not hit and p.dirs < len(parts):
                # The pattern may name a parent folder of the path.
                hit = bool(p.regex.match("/".join(parts[: p.dirs])))
            if hit:
                matched = not p.exclusion
        return matched

    def may_include_below(self, folder: str) -> bool:
        """For an excluded folder: could a ``!`` pattern bring back something below it?"""
        folder = _clean(folder)
        for p in self.patterns:
            if p.exclusion and (
                p.text.startswith(folder + "/") or "*" in p.text or "?" in p.text or "[" in p.text
            ):
                return True
        return False
