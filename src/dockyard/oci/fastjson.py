"""JSON through the C accelerator ``_json`` alone, without importing ``json``.

``import json`` pulls in ``re`` and ``enum``: about 5 ms, a quarter of the runtime's whole start
budget. The parsing and compact encoding done on the runtime's hot path (config.json, state.json,
messages between its processes) go through the same C code ``json`` itself uses; anything fancier
(indentation, error positions) falls back to the ``json`` module.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


class _Context:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_CONSTANTS.__getitem__)
    memo: dict[str, str] = {}


_scan = _json.make_scanner(_Context())  # type: ignore[arg-type]  # duck-typed context
_encode = _json.make_encoder(
    None,
    None,  # type: ignore[arg-type]  # no default hook: plain JSON types only
    _json.encode_basestring_ascii,
    None,
    ":",
    ",",
    False,
    False,
    True,
)
_WS = " \t\n\r"


def loads(data: str | bytes) -> Any:
    """Parse a JSON document; raises ValueError (json.JSONDecodeError) on malformed input."""
    if isinstance(data, bytes | bytearray):
        # What decode("utf-8-sig") does, without importing that codec's module on every start.
        text = (data[3:] if data.startswith(b"\xef\xbb\xbf") else data).decode("utf-8")
    else:
        text = data
    text = text.strip(_WS)
    try:
        value, end = _scan(text, 0)
    except (StopIteration, SystemError):
        # Malformed: the C scanner reports errors through json.decoder, which is not imported.
        end = -1
        value = None
    if end != len(text):
        import json

        return json.loads(text)  # raises JSONDecodeError with a position and a message
    return value


def dumps(value: Any, indent: int | None = None) -> str:
    """Compact JSON (no spaces), ASCII-escaped, as ``json.dumps(separators=(",", ":"))``.

    With ``indent``, laid out as ``json.dumps(value, indent=indent)`` does.
    """
    if indent is None:
        return "".join(_encode(value, 0))
    out: list[str] = []
    _pretty(value, indent, 0, out)
    return "".join(out)


def _pretty(value: Any, indent: int, level: int, out: list[str]) -> None:
    if isinstance(value, dict) and value:
        pad = "\n" + " " * (indent * (level + 1))
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            out.append(("," if i else "") + pad + _json.encode_basestring_ascii(str(key)) + ": ")
            _pretty(item, indent, level + 1, out)
        out.append("\n" + " " * (indent * level) + "}")
    elif isinstance(value, list | tuple) and value:
        pad = "\n" + " " * (indent * (level + 1))
        out.append("[")
        for i, item in enumerate(value):
            out.append(("," if i else "") + pad)
            _pretty(item, indent, level + 1, out)
        out.append("\n" + " " * (indent * level) + "]")
    else:
        out.append("".join(_encode(value, 0)))
