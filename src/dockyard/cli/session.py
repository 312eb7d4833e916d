"""An attached container session, in the order docker runs it (``docker run``, ``start -a``, ``attach``).

1. attach (hijack ``POST /containers/{id}/attach``) before the start, so no output is lost;
2. ``POST /containers/{id}/wait?condition=next-exit`` (``removed`` with AutoRemove) before the
   start too: its answer's header arrives once the daemon is waiting, so even an instant exit is
   caught; its body (``{"StatusCode": N}``) is read at the end;
3. start; then size the container's TTY to ours (again on each SIGWINCH), or proxy signals;
4. copy the streams until the output ends (or the user types the detach keys);
5. the exit status from the wait.
"""

from __future__ import annotations

from dockyard.cli import sigproxy, terminal
from dockyard.cli.iopump import Pump
from dockyard.client.api import quote_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context
    from dockyard.client.hijack import RawStream
    from dockyard.client.http11 import Response


class Session:
    def __init__(
        self,
        ctx: Context,
        cid: str,
        *,
        tty: bool,
        stdin: bool,
        stdout: bool = True,
        stderr: bool = True,
        sig_proxy: bool = True,
        detach_keys: str = "",
    ) -> None:
        self.ctx = ctx
        self.cid = cid
        self.path = f"/containers/{quote_path(cid)}"
        self.tty = tty
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.sig_proxy = sig_proxy
        keys = detach_keys or str(ctx.config().get("detachKeys") or "") or terminal.DEFAULT_DETACH_KEYS
        self.detach_keys = terminal.detach_keys(keys)
        self.stream: RawStream | None = None
        self.waiter: Response | None = None
        self.handlers = sigproxy.Handlers()

    def attach(self) -> None:
        if not (self.stdin or self.stdout or self.stderr):
            return
        params = {"stream": True, "stdin": self.stdin, "stdout": self.stdout, "stderr": self.stderr}
        self.stream = self.ctx.client.hijack(f"{self.path}/attach", params, multiplexed=not self.tty)

    def register_wait(self, auto_remove: bool, condition: str = "next-exit") -> None:
        if auto_remove:
            condition = "removed"
        self.waiter = self.ctx.client.request("POST", f"{self.path}/wait", {"condition": condition})

    def resize(self) -> None:
        dims = terminal.size(self.ctx.stdout.fileno())
        if dims is not None:
            self.ctx.client.call("POST", f"{self.path}/resize", {"h": dims[0], "w": dims[1]})

    def _monitor(self) -> None:
        if self.tty and self.ctx.stdout_is_tty():
            try:
                self.resize()
            except Exception:
                pass  # the process may not be up yet; SIGWINCH tries again
            sigproxy.resize_on_winch(self.resize, self.handlers)
        elif not self.tty and self.sig_proxy:
            sigproxy.proxy_signals(self.ctx.client, self.path, self.handlers)

    def pump(self) -> bool:
        """Copy the streams until the output ends; True if the user detached."""
        self._monitor()
        try:
            if self.stream is None:
                return False
            raw = self.tty and self.stdin and self.ctx.stdin_is_tty()
            pump = Pump(
                self.ctx, self.stream, detach_keys=self.detach_keys if self.tty and self.stdin else None
            )
            if raw:
                with terminal.RawMode(self.ctx.stdin.fileno()):
                    return pump.run(with_stdin=True)
            return pump.run(with_stdin=self.stdin)
        finally:
            self.handlers.restore()

    def exit_status(self) -> int:
        """The container's exit code from the wait registered before the start."""
        if self.waiter is None:
            return 0
        result: dict[str, Any] = self.waiter.json() or {}
        error = (result.get("Error") or {}).get("Message")
        if error:
            self.ctx.warn(error)
        return int(result.get("StatusCode", 125))

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
        if self.waiter is not None and not self.waiter.done:
            self.waiter.close()
