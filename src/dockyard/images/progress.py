"""Docker's progress messages (pkg/jsonmessage): what pull, push and load stream to clients."""

from __future__ import annotations

from typing import Any


def status(text: str, id: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"status": text}
    if id is not None:
        msg["id"] = id
    return msg


def progress(text: str, id: str, current: int, total: int | None) -> dict[str, Any]:
    detail: dict[str, Any] = {"current": current}
    if total:
        detail["total"] = total
    return {"status": text, "progressDetail": detail, "progress": bar(current, total), "id": id}


def error(message: str) -> dict[str, Any]:
    return {"errorDetail": {"message": message}, "error": message}


def human(n: float) -> str:
    """Docker's units.HumanSize: decimal units, 3 significant digits."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.4g}{unit}"
        n /= 1000
    return f"{n}B"


def bar(current: int, total: int | None, width: int = 50) -> str:
    if not total:
        return f"{human(current):>8}"
    filled = min(width, int(width * current / total))
    arrow = ("=" * (filled - 1) + ">") if filled else ""
    return f"[{arrow:<{width}}] {human(current):>8}/{human(total)}"
