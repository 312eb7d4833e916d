"""BENCHMARKS.md: each benchmark owns the section between its `<!-- NAME: start/end -->` markers."""

from __future__ import annotations

import os


def write_section(path: str, name: str, section: str) -> None:
    start, end = f"<!-- {name}: start -->", f"<!-- {name}: end -->"
    block = f"{start}\n{section}{end}\n"
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        text = (
            "# Benchmarks\n\nWritten by the scripts in bench/; each owns the section between its markers.\n\n"
        )
    if start in text and end in text:
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
