"""Variable substitution and quote removal in Dockerfile words, as moby's ``shell/lex.go``.

    expand(word, env)       one word: ``$VAR``, ``${VAR}``, ``${VAR:-x}`` ... substituted,
                            quotes removed, escapes applied
    expand_words(text, env) the same, split into words on unquoted blanks (EXPOSE, VOLUME ...)

Modifiers: ``${V:-w}`` w when V is unset or empty, ``${V-w}`` when unset; ``${V:+w}`` w when V is
set and not empty, ``${V+w}`` when set; ``${V:?msg}``/``${V?msg}`` fail. Inside single quotes
nothing is special; inside double quotes ``$`` expands and the escape character escapes only
``"``, ``$`` and itself (as the shell does). An unset variable expands to nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from dockyard.errors import InvalidArgument


class SubstitutionError(InvalidArgument):
    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.column = column


class _Lexer:
    def __init__(self, text: str, env: Mapping[str, str], escape: str) -> None:
        self.text = text
        self.pos = 0
        self.env = env
        self.escape = escape

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self) -> str:
        ch = self.peek()
        self.pos += 1
        return ch

    def words(self, stop: str = "", split: bool = False) -> list[str]:
        """Read up to ``stop`` (consumed) or the end; with ``split``, break on unquoted blanks."""
        out: list[str] = []
        cur: list[str] = []
        has_word = False
        while self.pos < len(self.text):
            ch = self.peek()
            if stop and ch == stop:
                self.pos += 1
                out.append("".join(cur))
                return out
            if split and ch in " \t\n":
                self.pos += 1
                if has_word:
                    out.append("".join(cur))
                    cur, has_word = [], False
                continue
            has_word = True
            if ch == "'":
                self.pos += 1
                cur.append(self._single())
            elif ch == '"':
                self.pos += 1
                cur.append(self._double())
            elif ch == "$":
                self.pos += 1
                value = self._dollar()
                if split and value is not None:
                    # An unquoted expansion is split on blanks too (as the shell's field splitting).
                    pieces = value.split()
                    if not pieces:
                        continue
                    if value[:1].isspace() and cur:
                        out.append("".join(cur))
                        cur = []
                    for piece in pieces[:-1]:
                        cur.append(piece)
                        out.append("".join(cur))
                        cur = []
                    cur.append(pieces[-1])
                    if value[-1:].isspace():
                        out.append("".join(cur))
                        cur, has_word = [], False
                else:
                    cur.append(value or "")
            elif ch == self.escape:
                self.pos += 1
                if self.pos < len(self.text):
                    cur.append(self.take())
                else:
                    cur.append(ch)
            else:
                self.pos += 1
                cur.append(ch)
        if stop:
            raise SubstitutionError(f"missing '{stop}' in {self.text!r}", self.pos)
        if has_word or not split:
            out.append("".join(cur))
        return out

    def _single(self) -> str:
        end = self.text.find("'", self.pos)
        if end < 0:
            raise SubstitutionError(
                f"unexpected end of statement while looking for matching single-quote in {self.text!r}",
                self.pos,
            )
        value = self.text[self.pos : end]
        self.pos = end + 1
        return value

    def _double(self) -> str:
        cur: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise SubstitutionError(
                    f"unexpected end of statement while looking for matching double-quote in {self.text!r}",
                    self.pos,
                )
            ch = self.take()
            if ch == '"':
                return "".join(cur)
            if ch == "$":
                cur.append(self._dollar() or "")
            elif ch == self.escape and self.peek() in ('"', "$", self.escape) and self.peek():
                cur.append(self.take())
            else:
                cur.append(ch)

    def _name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] == "_"):
            self.pos += 1
        return self.text[start : self.pos]

    def _dollar(self) -> str | None:
        """After a ``$``: the value (None: the variable is unset and no modifier applied)."""
        if self.peek() != "{":
            name = self._name()
            if not name:
                return "$"
            return self.env.get(name)
        self.pos += 1
        start = self.pos
        name = self._name()
        if not name:
            raise SubstitutionError(f"bad substitution: missing variable name in {self.text!r}", start)
        ch = self.take()
        if ch == "}":
            return self.env.get(name)
        colon = ch == ":"
        if colon:
            ch = self.take()
        if ch not in ("-", "+", "?"):
            raise SubstitutionError(
                f"unsupported modifier ({ch!r}) in substitution {self.text!r}: use ${{VAR:-x}}, ${{VAR:+x}} "
                "or ${VAR:?message}",
                self.pos - 1,
            )
        word = "".join(self.words(stop="}"))
        value = self.env.get(name)
        unset = value is None or (colon and value == "")
        if ch == "-":
            return word if unset else value
        if ch == "+":
            return "" if unset else word
        if unset:
            raise SubstitutionError(f"{name}: {word or 'is not allowed to be unset'}", start)
        return value


def expand(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    return "".join(_Lexer(word, env, escape).words())


def expand_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    return _Lexer(text, env, escape).words(split=True)


def split_raw(text: str, escape: str = "\\") -> list[str]:
    """Blank-separated words with quotes and escapes kept (ENV/LABEL's ``k=v`` pairs)."""
    out: list[str] = []
    cur: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            cur.append(ch)
            if ch == escape and quote == '"' and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch == escape and i + 1 < len(text):
            cur.append(ch + text[i + 1])
            i += 2
            continue
        elif ch in "\"'":
            quote = ch
            cur.append(ch)
        elif ch in " \t\n":
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
        i += 1
    if cur:
        out.append("".join(cur))
    return out
