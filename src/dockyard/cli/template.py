"""A subset of Go's ``text/template``, for ``--format`` and ``inspect -f``.

Supported: text and ``{{ }}`` actions with ``{{-``/``-}}`` trimming and ``{{/* */}}`` comments;
fields (``.State.Status``), methods with arguments (``.Label "x"``), variables (``$``, ``$x :=``,
``$i, $e := range``), string/number/bool/nil literals, parentheses, pipes (``.Names | upper``);
``if``/``else if``/``else``, ``range`` (lists, maps in key order, ``else``), ``with``; Go's
builtins (``and or not len index slice print printf println eq ne lt le gt ge``) and docker's
(``json join split title lower upper pad truncate``).

Values print as Go prints them: nil as ``<nil>``, lists ``[a b]``, maps ``map[k:v]`` in key
order. A missing map key is an error (docker's templates use ``missingkey=error``), reported as
Go reports it: ``template: :1:2: executing "" at <.Bogus>: map has no entry for key "Bogus"``.

Data is plain JSON values (dicts, lists...) or objects whose attributes (methods) are fields.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class TemplateError(InvalidArgument):
    """A template that does not parse, or fails on the data given."""


class _Missing:
    """Go's "no value" (a missing key read by ``index``, an unset variable)."""

    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE = _Missing()

# ---------------------------------------------------------------------------- lexing


class _Tok:
    __slots__ = ("kind", "pos", "text")

    def __init__(self, kind: str, text: str, pos: int) -> None:
        self.kind = kind  # field var ident string number char ( ) | := = , . dot eof
        self.text = text
        self.pos = pos

    def __repr__(self) -> str:
        return f"{self.kind}:{self.text}"


_DELIMS = "()|,"
_IDENT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _lex_action(src: str, base: int) -> list[_Tok]:
    toks: list[_Tok] = []
    i = 0
    n = len(src)
    while i < n:
        ch = src[i]
        pos = base + i
        if ch in " \t\r\n":
            i += 1
        elif ch in _DELIMS:
            toks.append(_Tok(ch, ch, pos))
            i += 1
        elif src.startswith(":=", i):
            toks.append(_Tok(":=", ":=", pos))
            i += 2
        elif ch == "=":
            toks.append(_Tok("=", "=", pos))
            i += 1
        elif ch == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            if j >= n:
                raise TemplateError(f"template: :{_line(src, i)}: unterminated quoted string")
            toks.append(_Tok("string", _unquote(src[i : j + 1]), pos))
            i = j + 1
        elif ch == "`":
            j = src.find("`", i + 1)
            if j < 0:
                raise TemplateError("template: :1: unterminated raw quoted string")
            toks.append(_Tok("string", src[i + 1 : j], pos))
            i = j + 1
        elif ch == "'":
            j = src.find("'", i + 1)
            if j < 0:
                raise TemplateError("template: :1: unterminated character constant")
            toks.append(_Tok("number", str(ord(_unquote('"' + src[i + 1 : j] + '"'))), pos))
            i = j + 1
        elif ch in ".$":
            j = i + 1
            while j < n and (
                src[j] in _IDENT_CHARS or (src[j] == "." and j + 1 < n and src[j + 1] in _IDENT_CHARS)
            ):
                j += 1
            text = src[i:j]
            if ch == "." and text[1:2].isdigit():
                toks.append(_Tok("number", text, pos))
            elif ch == "$":
                toks.append(_Tok("var", text, pos))
            elif text == ".":
                toks.append(_Tok("dot", ".", pos))
            else:
                toks.append(_Tok("field", text, pos))
            i = j
        elif ch.isdigit() or (ch in "+-" and i + 1 < n and src[i + 1].isdigit()):
            j = i + 1
            while j < n and (src[j].isalnum() or src[j] in "._" or (src[j] in "+-" and src[j - 1] in "eEpP")):
                j += 1
            toks.append(_Tok("number", src[i:j], pos))
            i = j
        elif ch in _IDENT_CHARS:
            j = i + 1
            while j < n and src[j] in _IDENT_CHARS:
                j += 1
            word = src[i:j]
            # A field chain may follow an identifier only after a parenthesis; idents stand alone.
            toks.append(_Tok("ident", word, pos))
            i = j
        else:
            raise TemplateError(f"template: :{_line(src, i)}: unexpected {ch!r} in command")
    toks.append(_Tok("eof", "", base + n))
    return toks


def _line(src: str, i: int) -> int:
    return src.count("\n", 0, i) + 1


def _unquote(quoted: str) -> str:
    body = quoted[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    simple = {
        "n": "\n",
        "t": "\t",
        "r": "\r",
        "\\": "\\",
        '"': '"',
        "'": "'",
        "a": "\a",
        "b": "\b",
        "f": "\f",
        "v": "\v",
    }
    while i < len(body):
        ch = body[i]
        if ch != "\\" or i + 1 >= len(body):
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in simple:
            out.append(simple[nxt])
            i += 2
        elif nxt in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[nxt]
            out.append(chr(int(body[i + 2 : i + 2 + width], 16)))
            i += 2 + width
        elif nxt.isdigit():
            out.append(chr(int(body[i + 1 : i + 4], 8)))
            i += 4
        else:
            raise TemplateError(f"template: :1: invalid escape \\{nxt} in quoted string")
    return "".join(out)


# ---------------------------------------------------------------------------- parse tree

# Nodes are tuples, tagged by their first item:
#   ("text", str)                     ("action", pipe)                  ("field", names, pos): {{.A.B}}
#   ("if", pipe, list, else_list)     ("range", pipe, list, else_list)   ("with", pipe, list, else_list)
# pipe = (decl_names, is_assign, [command...]); command = [operand...]
# operand = ("field", names, pos) | ("dot",) | ("var", name, names, pos) | ("lit", value)
#         | ("ident", name, pos) | ("pipe", pipe, names, pos)


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.items = self._split(src)
        self.i = 0

    @staticmethod
    def _split(src: str) -> list[tuple[str, str, int]]:
        """("text", text, pos) and ("action", inner, pos) items, whitespace trimming applied."""
        items: list[tuple[str, str, int]] = []
        i = 0
        trim_next = False
        while True:
            start = src.find("{{", i)
            text = src[i:] if start < 0 else src[i:start]
            if trim_next:
                text = text.lstrip(" \t\r\n")
            if start < 0:
                if text:
                    items.append(("text", text, i))
                return items
            inner_start = start + 2
            if (
                src.startswith("- ", inner_start)
                or src.startswith("-\t", inner_start)
                or src.startswith("-\n", inner_start)
            ):
                text = text.rstrip(" \t\r\n")
                inner_start += 1
            if text:
                items.append(("text", text, i))
            end = src.find("}}", inner_start)
            if end < 0:
                raise TemplateError(f"template: :{_line(src, start)}: unclosed action")
            inner_end = end
            trim_next = False
            if end - 1 >= inner_start and src[end - 1] == "-" and src[end - 2 : end - 1] in (" ", "\t", "\n"):
                trim_next = True
                inner_end = end - 1
            inner = src[inner_start:inner_end]
            stripped = inner.strip()
            if not (stripped.startswith("/*") and stripped.endswith("*/")):
                items.append(("action", inner, inner_start))
            i = end + 2

    def parse(self) -> list[Any]:
        nodes, stop = self._list()
        if stop is not None:
            raise TemplateError(f"template: :{_line(self.src, stop[2])}: unexpected {{{{{stop[0]}}}}}")
        return nodes

    def _list(self) -> tuple[list[Any], tuple[str, list[_Tok], int] | None]:
        """Nodes up to an ``end``/``else`` (returned as the stop keyword) or the end of input."""
        nodes: list[Any] = []
        while self.i < len(self.items):
            kind, text, pos = self.items[self.i]
            self.i += 1
            if kind == "text":
                nodes.append(("text", text))
                continue
            toks = _lex_action(text, pos)
            head = toks[0]
            if head.kind == "ident" and head.text in ("end", "else"):
                return nodes, (head.text, toks[1:], head.pos)
            if head.kind == "ident" and head.text in ("if", "range", "with"):
                nodes.append(self._control(head.text, toks[1:], pos))
                continue
            if head.kind == "ident" and head.text in ("define", "template", "block", "break", "continue"):
                raise TemplateError(f'template: :{_line(self.src, pos)}: "{head.text}" is not supported here')
            if head.kind == "eof":
                raise TemplateError(f"template: :{_line(self.src, pos)}: missing value for command")
            pipe = _PipeParser(toks, self.src).pipeline()
            decl, _, commands = pipe
            if not decl and len(commands) == 1 and len(commands[0]) == 1 and commands[0][0][0] == "field":
                # {{.A.B}}, by far the most common action: evaluated without the pipeline machinery.
                nodes.append(("field", commands[0][0][1], commands[0][0][2]))
            else:
                nodes.append(("action", pipe))
        return nodes, None

    def _control(self, keyword: str, toks: list[_Tok], pos: int) -> tuple[Any, ...]:
        pipe = _PipeParser(toks, self.src).pipeline(allow_decl=True)
        body, stop = self._list()
        else_body: list[Any] = []
        if stop is None:
            raise TemplateError(f"template: :{_line(self.src, pos)}: unexpected EOF")
        if stop[0] == "else":
            rest = stop[1]
            if rest and rest[0].kind == "ident" and rest[0].text in ("if", "with"):
                # "else if" / "else with": the rest of the chain shares this node's {{end}}.
                else_body = [self._control(rest[0].text, rest[1:], stop[2])]
            else:
                if rest[0].kind != "eof":
                    raise TemplateError(
                        f"template: :{_line(self.src, stop[2])}: unexpected {rest[0].text} in else"
                    )
                else_body, stop2 = self._list()
                if stop2 is None or stop2[0] != "end":
                    raise TemplateError(f"template: :{_line(self.src, pos)}: expected end; found EOF")
        return (keyword, pipe, body, else_body)


class _PipeParser:
    def __init__(self, toks: list[_Tok], src: str) -> None:
        self.toks = toks
        self.src = src
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def next(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, message: str, tok: _Tok) -> TemplateError:
        return TemplateError(f"template: :{_line(self.src, tok.pos)}: {message}")

    def pipeline(
        self, allow_decl: bool = True, until: str = "eof"
    ) -> tuple[list[str], bool, list[list[Any]]]:
        decl: list[str] = []
        assign = False
        if allow_decl and self.peek().kind == "var":
            save = self.i
            names = [self.next().text]
            if self.peek().kind == "," and self.toks[self.i + 1].kind == "var":
                self.next()
                names.append(self.next().text)
            if self.peek().kind in (":=", "="):
                assign = self.next().kind == "="
                decl = names
            else:
                self.i = save
        commands: list[list[Any]] = []
        while True:
            command = self.command(until)
            if not command:
                raise self.error("missing value for command", self.peek())
            commands.append(command)
            tok = self.peek()
            if tok.kind == "|":
                self.next()
                continue
            if tok.kind == until:
                if until == "eof":
                    self.next()
                return decl, assign, commands
            raise self.error(f"unexpected {tok.text!r} in operand", tok)

    def command(self, until: str) -> list[Any]:
        operands: list[Any] = []
        while self.peek().kind not in ("|", until, "eof"):
            operands.append(self.operand())
        return operands

    def operand(self) -> Any:
        tok = self.next()
        if tok.kind == "field":
            return ("field", tok.text[1:].split("."), tok.pos)
        if tok.kind == "dot":
            return ("dot",)
        if tok.kind == "var":
            name, _, rest = tok.text.partition(".")
            return ("var", name, rest.split(".") if rest else [], tok.pos)
        if tok.kind == "string":
            return ("lit", tok.text)
        if tok.kind == "number":
            return ("lit", _number(tok.text))
        if tok.kind == "ident":
            if tok.text in ("true", "false"):
                return ("lit", tok.text == "true")
            if tok.text == "nil":
                return ("lit", None)
            if tok.text not in FUNCS:
                raise self.error(f'function "{tok.text}" not defined', tok)
            return ("ident", tok.text, tok.pos)
        if tok.kind == "(":
            pipe = self.pipeline(allow_decl=False, until=")")
            self.next()  # ")"
            names: list[str] = []
            nxt = self.peek()
            if nxt.kind == "field" and nxt.pos == self.toks[self.i - 1].pos + 1:
                names = self.next().text[1:].split(".")
            return ("pipe", pipe, names, tok.pos)
        raise self.error(f"unexpected {tok.text or 'EOF'!r} in operand", tok)


def _number(text: str) -> int | float:
    clean = text.replace("_", "")
    try:
        return int(clean, 0)
    except ValueError:
        try:
            return float(clean)
        except ValueError:
            raise TemplateError(f"template: :1: bad number syntax: {text!r}") from None


# ---------------------------------------------------------------------------- values


def go_string(value: Any) -> str:
    """How Go's fmt prints a value with ``%v`` (text/template's output)."""
    if isinstance(value, str):
        return value
    if value is None:
        return "<nil>"
    if value is NO_VALUE:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value).replace("e+0", "e+").replace("e-0", "e-")
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{go_string(k)}:{go_string(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def truth(value: Any) -> bool:
    if value is NO_VALUE or value is None:
        return False
    if isinstance(value, bool | int | float | str | list | tuple | dict):
        return bool(value)
    return True


def to_json(value: Any) -> str:
    import json

    if hasattr(value, "json_fields"):
        value = value.json_fields()
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=go_string)


def _go_quote(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


def _printf(fmt: str, *args: Any) -> str:
    out: list[str] = []
    i = 0
    argi = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        j = i + 1
        while j < len(fmt) and fmt[j] in "+-# 0123456789.":
            j += 1
        if j >= len(fmt):
            out.append(fmt[i:])
            break
        verb, flags = fmt[j], fmt[i + 1 : j]
        i = j + 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        if verb in "vs":
            out.append(("%" + flags + "s") % go_string(arg))
        elif verb == "q":
            out.append(_go_quote(go_string(arg)))
        elif verb in "dxXob" and isinstance(arg, int | float) and not isinstance(arg, bool):
            out.append(format(int(arg), flags + verb) if verb != "d" else ("%" + flags + "d") % int(arg))
        elif verb in "feEgG" and isinstance(arg, int | float):
            out.append(("%" + flags + verb) % arg)
        elif verb == "t":
            out.append(go_string(bool(arg)))
        else:
            out.append(f"%!{verb}({go_string(arg)})")
    return "".join(out)


def _sprint(*args: Any) -> str:
    out = ""
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out += " "
        out += go_string(arg)
    return out


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key, "")
        elif isinstance(value, list | tuple | str):
            if not isinstance(key, int) or not 0 <= key < len(value):
                raise TemplateError(f"error calling index: index out of range: {key}")
            value = value[key]
        elif value is None:
            raise TemplateError("error calling index: index of untyped nil")
        else:
            raise TemplateError(f"error calling index: can't index item of type {type(value).__name__}")
    return value


def _slice(value: Any, *bounds: int) -> Any:
    return value[slice(*bounds)] if bounds else value


def _compare(op: str) -> Callable[..., bool]:
    def compare(a: Any, *others: Any) -> bool:
        if op == "eq":
            return any(a == b for b in others)
        b = others[0]
        if op == "ne":
            return bool(a != b)
        try:
            return bool({"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op])
        except TypeError:
            raise TemplateError(f"error calling {op}: incompatible types for comparison") from None

    return compare


def _length(value: Any) -> int:
    if value is None or not hasattr(value, "__len__"):
        raise TemplateError(f"error calling len: len of type {type(value).__name__}")
    return len(value)


def _title(text: str) -> str:
    return "".join(
        ch.upper() if i == 0 or not text[i - 1].isalnum() else ch for i, ch in enumerate(go_string(text))
    )


def _pad(text: Any, before: int, after: int) -> str:
    return " " * before + go_string(text) + " " * after


def _truncate(text: Any, n: int) -> str:
    s = go_string(text)
    return s[:n] if len(s) > n else s


FUNCS: dict[str, Callable[..., Any]] = {
    "and": lambda *a: next((x for x in a if not truth(x)), a[-1]),
    "or": lambda *a: next((x for x in a if truth(x)), a[-1]),
    "not": lambda a: not truth(a),
    "len": _length,
    "index": _index,
    "slice": _slice,
    "print": _sprint,
    "printf": _printf,
    "println": lambda *a: " ".join(go_string(x) for x in a) + "\n",
    "eq": _compare("eq"),
    "ne": _compare("ne"),
    "lt": _compare("lt"),
    "le": _compare("le"),
    "gt": _compare("gt"),
    "ge": _compare("ge"),
    "json": to_json,
    "join": lambda items, sep: sep.join(go_string(x) for x in (items or [])),
    "split": lambda text, sep: go_string(text).split(sep),
    "title": _title,
    "lower": lambda s: go_string(s).lower(),
    "upper": lambda s: go_string(s).upper(),
    "pad": _pad,
    "truncate": _truncate,
    "html": lambda s: go_string(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
    "urlquery": lambda s: go_string(s),
}

# ---------------------------------------------------------------------------- execution


class _Exec:
    def __init__(self, src: str, root: Any) -> None:
        self.src = src
        self.vars: list[tuple[str, Any]] = [("$", root)]
        self.out: list[str] = []

    def where(self, pos: int, what: str) -> str:
        line = _line(self.src, pos)
        col = pos - (self.src.rfind("\n", 0, pos) + 1)
        return f'template: :{line}:{col}: executing "" at <{what}>'

    def run(self, nodes: list[Any], dot: Any) -> None:
        for node in nodes:
            kind = node[0]
            if kind == "text":
                self.out.append(node[1])
            elif kind == "field":
                self.out.append(go_string(self.chain(dot, node[1], node[2], "", None)))
            elif kind == "action":
                value = self.pipe(node[1], dot)
                if not node[1][0]:
                    self.out.append(go_string(value))
            elif kind in ("if", "with"):
                mark = len(self.vars)
                value = self.pipe(node[1], dot)
                if truth(value):
                    self.run(node[2], value if kind == "with" else dot)
                else:
                    self.run(node[3], dot)
                del self.vars[mark:]
            else:
                self.range(node, dot)

    def range(self, node: tuple[Any, ...], dot: Any) -> None:
        _, pipe, body, else_body = node
        decl, _, commands = pipe
        mark = len(self.vars)
        value = self.pipe(([], False, commands), dot)
        if isinstance(value, dict):
            pairs = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, list | tuple):
            pairs = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            pairs = [(i, i) for i in range(value)]
        elif value is None or value is NO_VALUE:
            pairs = []
        else:
            raise TemplateError(f"range can't iterate over {go_string(value)}")
        for key, item in pairs:
            if len(decl) == 1:
                self.vars.append((decl[0], item))
            elif len(decl) == 2:
                self.vars += [(decl[0], key), (decl[1], item)]
            self.run(body, item)
            del self.vars[mark:]
        if not pairs:
            self.run(else_body, dot)

    def lookup_var(self, name: str, pos: int) -> Any:
        for var, value in reversed(self.vars):
            if var == name:
                return value
        raise TemplateError(f"template: :{_line(self.src, pos)}: undefined variable: {name}")

    def pipe(self, pipe: tuple[list[str], bool, list[list[Any]]], dot: Any) -> Any:
        decl, assign, commands = pipe
        value: Any = NO_VALUE
        for i, command in enumerate(commands):
            value = self.command(command, dot, value if i else NO_VALUE, i > 0)
        if decl:
            if assign:
                for idx in range(len(self.vars) - 1, -1, -1):
                    if self.vars[idx][0] == decl[0]:
                        self.vars[idx] = (decl[0], value)
                        break
            else:
                self.vars.append((decl[-1], value))
        return value

    def command(self, command: list[Any], dot: Any, piped: Any, has_piped: bool) -> Any:
        head = command[0]
        extra = [piped] if has_piped else []
        if head[0] == "ident":
            args = [self.arg(a, dot) for a in command[1:]] + extra
            try:
                return FUNCS[head[1]](*args)
            except TemplateError as exc:
                raise TemplateError(f"{self.where(head[2], head[1])}: {exc.message}") from None
            except (TypeError, ValueError, AttributeError) as exc:
                raise TemplateError(
                    f"{self.where(head[2], head[1])}: error calling {head[1]}: {exc}"
                ) from None
        if head[0] in ("field", "var", "pipe") and (len(command) > 1 or has_piped):
            args = [self.arg(a, dot) for a in command[1:]] + extra
            return self.arg(head, dot, args)
        if len(command) > 1 or has_piped:
            raise TemplateError(f"template: :1: can't give argument to non-function {self._name(head)}")
        return self.arg(head, dot)

    @staticmethod
    def _name(op: Any) -> str:
        if op[0] == "field":
            return "." + ".".join(op[1])
        if op[0] == "var":
            return str(op[1]) + "".join("." + n for n in op[2])
        if op[0] == "dot":
            return "."
        return go_string(op[1]) if op[0] == "lit" else str(op[0])

    def arg(self, op: Any, dot: Any, call_args: list[Any] | None = None) -> Any:
        kind = op[0]
        if kind == "lit":
            return op[1]
        if kind == "dot":
            return dot
        if kind == "field":
            return self.chain(dot, op[1], op[2], "", call_args)
        if kind == "var":
            return self.chain(self.lookup_var(op[1], op[3]), op[2], op[3], op[1], call_args)
        if kind == "pipe":
            return self.chain(self.pipe(op[1], dot), op[2], op[3], "(...)", call_args)
        if kind == "ident":
            return FUNCS[op[1]]()
        raise TemplateError(f"template: cannot evaluate {kind}")

    def chain(self, value: Any, names: list[str], pos: int, prefix: str, call_args: list[Any] | None) -> Any:
        last_index = len(names) - 1
        for i, name in enumerate(names):
            last = i == last_index

            def at(i: int = i) -> str:  # the error position, built only when there is an error
                return self.where(pos, prefix + "." + ".".join(names[: i + 1]))

            if isinstance(value, dict):
                if name not in value:
                    raise TemplateError(f'{at()}: map has no entry for key "{name}"')
                value = value[name]
                if last and call_args:
                    raise TemplateError(f"{at()}: {name} is not a method but has arguments")
                continue
            if value is None or value is NO_VALUE:
                raise TemplateError(f"{at()}: nil pointer evaluating interface {{}}.{name}")
            attr = getattr(value, name, None) if name[0] != "_" else None
            if attr is None:
                raise TemplateError(f"{at()}: can't evaluate field {name} in type {type(value).__name__}")
            if callable(attr):
                try:
                    value = attr(*call_args) if last and call_args else attr()
                except TypeError as exc:
                    raise TemplateError(f"{at()}: wrong number of args for {name}: {exc}") from None
            else:
                if last and call_args:
                    raise TemplateError(f"{at()}: {name} is not a method but has arguments")
                value = attr
        if not names and call_args:
            raise TemplateError(f"{self.where(pos, prefix or '.')}: can't give argument to non-function")
        return value


class Template:
    """A parsed template; ``execute(data)`` renders it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.nodes = _Parser(source).parse()

    def execute(self, data: Any) -> str:
        ex = _Exec(self.source, data)
        ex.run(self.nodes, data)
        return "".join(ex.out)


def render(source: str, data: Any) -> str:
    return Template(source).execute(data)
