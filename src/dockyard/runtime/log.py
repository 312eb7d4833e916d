"""``--log FILE --log-format text|json``: where runtime messages go (besides stderr for errors).

containerd's shim reads the last ``{"level":"error","msg":...}`` line of the log to show a
runtime's failure to the user, so errors are always written there when a log file is set.
"""

from __future__ import annotations

import os
import time


class Logger:
    def __init__(self, path: str = "", fmt: str = "text", debug: bool = False) -> None:
        self.path = path
        self.fmt = fmt
        self.debug_enabled = debug

    def _write(self, level: str, msg: str) -> None:
        if not self.path:
            return
        t = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1e9):09d}Z"
        if self.fmt == "json":
            from dockyard.oci import fastjson

            line = fastjson.dumps({"level": level, "msg": msg, "time": stamp})
        else:
            line = f'time="{stamp}" level={level} msg="{msg}"'
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            return
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    def error(self, msg: str) -> None:
        self._write("error", msg)

    def warning(self, msg: str) -> None:
        self._write("warning", msg)

    def debug(self, msg: str) -> None:
        if self.debug_enabled:
            self._write("debug", msg)
