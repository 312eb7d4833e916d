"""Moving bytes over a hijacked connection: our stdin to the container, its output to ours.

Output is copied on the calling thread until the daemon closes the stream (the process ended,
or the container was detached from). Stdin is copied on a daemon thread; at its EOF the write
side is half-closed so the container's stdin sees EOF too (``echo hi | dockyard run -i busybox
cat``). With a TTY the typed bytes pass through the detach-key watcher; the detach sequence
closes the connection and the session ends with the container still running.
"""

from __future__ import annotations

import os

from dockyard.cli.terminal import EscapeProxy
from dockyard.client.stdcopy import STDERR

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.context import Context
    from dockyard.client.hijack import RawStream


class Pump:
    def __init__(self, ctx: Context, stream: RawStream, *, detach_keys: bytes | None = None) -> None:
        self.ctx = ctx
        self.stream = stream
        self.detach_keys = detach_keys
        self.detached = False
        self.stdin_error: BaseException | None = None

    def _copy_stdin(self) -> None:
        proxy = EscapeProxy(self.detach_keys) if self.detach_keys else None
        try:
            fd = self.ctx.stdin.fileno()
            while True:
                try:
                    data = os.read(fd, 32768)
                except OSError:
                    data = b""
                if not data:
                    self.stream.close_write()
                    return
                if proxy is not None:
                    data, detach = proxy.feed(data)
                    if detach:
                        if data:
                            self.stream.write(data)
                        self.detached = True
                        self.stream.close()
                        return
                if data:
                    self.stream.write(data)
        except OSError as exc:
            # The daemon closed the stream (the process ended) while we were still sending.
            self.stdin_error = exc

    def start_stdin(self) -> None:
        import threading  # only sessions with stdin need a second thread

        threading.Thread(target=self._copy_stdin, name="stdin", daemon=True).start()

    def copy_output(self) -> None:
        out, err = self.ctx.stdout, self.ctx.stderr
        try:
            for stream_id, data in self.stream.output():
                target = err if stream_id == STDERR else out
                target.write(data)
                target.flush()
        except OSError:
            if not self.detached:
                raise
        finally:
            self.stream.close()

    def run(self, with_stdin: bool) -> bool:
        """Copy both ways until the output ends; True if the user detached."""
        if with_stdin:
            self.start_stdin()
        self.copy_output()
        return self.detached
