"""OCI hooks (config.md "POSIX-platform Hooks"): each gets the container state as JSON on stdin.

prestart, createRuntime, createContainer and startContainer failures abort the operation;
poststart and poststop failures are only logged, as the spec says.
"""

from __future__ import annotations

import os
import time

from dockyard.errors import DockyardError
from dockyard.oci import fastjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FATAL = {"prestart", "createRuntime", "createContainer", "startContainer"}


class HookError(DockyardError):
    pass


def run_hooks(kind: str, hooks: dict[str, Any], state: dict[str, Any]) -> list[str]:
    """Run every hook of ``kind`` in order; returns warnings for non-fatal failures."""
    warnings: list[str] = []
    payload = fastjson.dumps(state).encode()
    for i, hook in enumerate(hooks.get(kind) or []):
        try:
            _run_one(hook, payload)
        except HookError as exc:
            msg = f"{kind} hook #{i} ({hook['path']}): {exc}"
            if kind in FATAL:
                raise HookError(msg) from None
            warnings.append(msg)
    return warnings


def _run_one(hook: dict[str, Any], payload: bytes) -> None:
    path: str = hook["path"]
    args: list[str] = hook.get("args") or [path]
    env: list[str] = hook.get("env") or []
    timeout = hook.get("timeout")
    rfd, wfd = os.pipe()
    errr, errw = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.dup2(rfd, 0)
            os.dup2(errw, 2)
            os.execve(path, args, dict(e.split("=", 1) for e in env))
        except BaseException as exc:
            os.write(2, f"cannot execute: {exc}".encode())
        os._exit(127)
    os.close(rfd)
    os.close(errw)
    try:
        # A hook that does not read stdin must not block us: ignore EPIPE.
        os.write(wfd, payload)
    except BrokenPipeError:
        pass
    os.close(wfd)
    deadline = None if not timeout else time.monotonic() + timeout
    status = 0
    while True:
        done, status = os.waitpid(pid, os.WNOHANG if deadline else 0)
        if done:
            break
        if deadline and time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            os.close(errr)
            raise HookError(f"timed out after {timeout} s")
        time.sleep(0.005)
    stderr = b""
    try:
        stderr = os.read(errr, 4096)
    finally:
        os.close(errr)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        detail = stderr.decode(errors="replace").strip()
        raise HookError(f"exited with status {code}" + (f": {detail}" if detail else ""))
