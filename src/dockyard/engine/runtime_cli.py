"""The OCI runtime's command line (runc's verbs), run from the event loop without blocking it.

The engine speaks to any runc-compatible runtime: ``dockyard-runtime``, runc, crun, by name or
path. Each container keeps the argv prefix it was started with (``[path, "--root", dir]``), so
a changed default runtime never strands a running container. A failing verb raises
SystemFailure carrying the runtime's own message (its last stderr line, or the ``msg`` of a
``--log-format json`` line), which dockerd-style callers map to statuses and exit codes.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound, SystemFailure


def find_runtime(name: str, extra: dict[str, str] | None = None) -> str:
    """The executable of a runtime given by name ("dockyard", "runc", "crun", configured) or path."""
    if extra and name in extra:
        return extra[name]
    if name == "dockyard":
        venv = Path(sys.executable).parent / "dockyard-runtime"
        found = str(venv) if venv.exists() else shutil.which("dockyard-runtime")
    elif "/" in name:
        found = name if os.access(name, os.X_OK) else None
    else:
        found = shutil.which(name)
    if not found:
        raise InvalidArgument(f"Unknown runtime specified {name}: install it or name an executable path")
    return found


def runtime_message(stderr: bytes) -> str:
    """The runtime's error, from runc-style stderr (text or JSON log lines)."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("{"):
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(doc, dict) and doc.get("msg"):
                return str(doc["msg"])
        return line.removeprefix("dockyard-runtime: ").removeprefix("runc: ")
    return ""


async def run(argv: list[str], stdin: bytes | None = None, check: bool = True) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(stdin)
    code = proc.returncode or 0
    if check and code != 0:
        message = runtime_message(err) or f"exit status {code}"
        raise SystemFailure(f"{Path(argv[0]).name} {argv[_verb_index(argv)]} failed: {message}")
    return code, out, err


def _verb_index(argv: list[str]) -> int:
    i = 1
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in ("--root", "--log", "--log-format") else 1
    return min(i, len(argv) - 1)


def _library_root(prefix: list[str]) -> str | None:
    """The state root when ``prefix`` runs our own dockyard-runtime, whose verbs can then run in
    this process (on a worker thread): the same code without a ~25 ms interpreter start, on
    every `docker run`'s path. Any other runtime goes through its command line."""
    if len(prefix) == 3 and prefix[1] == "--root" and Path(prefix[0]).name == "dockyard-runtime":
        return prefix[2]
    return None


async def start(prefix: list[str], cid: str) -> None:
    root = _library_root(prefix)
    if root is None:
        await run([*prefix, "start", cid])
        return
    from dockyard.runtime.start import start as start_verb

    try:
        await asyncio.to_thread(start_verb, root, cid)
    except DockyardError as exc:
        raise SystemFailure(f"dockyard-runtime start failed: {exc.message}") from None


async def kill(prefix: list[str], cid: str, signal: int) -> bool:
    """False when the container is already gone or stopped (nothing to signal)."""
    root = _library_root(prefix)
    if root is not None:
        from dockyard.runtime.kill import kill as kill_verb

        try:
            await asyncio.to_thread(kill_verb, root, cid, signal)
        except (NotFound, Conflict):
            return False  # gone, or stopped: nothing to signal
        except DockyardError as exc:
            raise SystemFailure(f"cannot kill container {cid}: {exc.message}") from None
        return True
    code, _, err = await run([*prefix, "kill", cid, str(signal)], check=False)
    if code == 0:
        return True
    message = runtime_message(err)
    lowered = message.lower()
    if (
        "not running" in lowered
        or "does not exist" in lowered
        or "not exist" in lowered
        or "stopped" in lowered
    ):
        return False
    raise SystemFailure(f"cannot kill container {cid}: {message or f'exit status {code}'}")


async def delete(prefix: list[str], cid: str) -> None:
    # Idempotent: a container the runtime no longer knows is already deleted.
    root = _library_root(prefix)
    if root is not None:
        from dockyard.runtime.delete import delete as delete_verb

        try:
            await asyncio.to_thread(delete_verb, root, cid, True)
        except NotFound:
            pass
        except DockyardError as exc:
            raise SystemFailure(f"cannot delete container {cid} from the runtime: {exc.message}") from None
        return
    code, _, err = await run([*prefix, "delete", "--force", cid], check=False)
    if code != 0:
        message = runtime_message(err).lower()
        if "does not exist" not in message and "not exist" not in message and "not found" not in message:
            raise SystemFailure(f"cannot delete container {cid} from the runtime: {runtime_message(err)}")


async def pause(prefix: list[str], cid: str) -> None:
    await run([*prefix, "pause", cid])


async def resume(prefix: list[str], cid: str) -> None:
    await run([*prefix, "resume", cid])


async def update(prefix: list[str], cid: str, resources: dict[str, object]) -> None:
    await run([*prefix, "update", "--resources", "-", cid], stdin=json.dumps(resources).encode())


async def pids(prefix: list[str], cid: str) -> list[int]:
    _, out, _ = await run([*prefix, "ps", "--format", "json", cid])
    data = json.loads(out or b"[]")
    return [int(p) for p in data or []]
