"""JSON-line messages between the runtime and the processes it forks (one pipe each way).

Messages: {"type": "userns"} / {"type": "maps_done"} (uid/gid maps written by the parent),
{"type": "pid", "pid": N} (host pid of the container init, from stage A),
{"type": "cgroup_made", "paths": {hierarchy: folder}} then {"type": "cgroup_done"} (the cgroup
exists, then the init is in it: launch.start_init),
{"type": "hooks"} / {"type": "hooks_done"} (prestart + createRuntime hooks), {"type": "ready"}, and
{"type": "error", "msg": ..., "kind": exception class name}.
"""

from __future__ import annotations

import os

from dockyard.oci import fastjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Channel:
    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd = rfd
        self.wfd = wfd
        self._buf = b""

    def send(self, msg: dict[str, Any]) -> None:
        data = fastjson.dumps(msg).encode() + b"\n"
        while data:
            n = os.write(self.wfd, data)
            data = data[n:]

    def recv(self) -> dict[str, Any] | None:
        """The next message, or None at end of file (the other side exited or closed)."""
        while b"\n" not in self._buf:
            chunk = os.read(self.rfd, 65536)
            if not chunk:
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        msg: dict[str, Any] = fastjson.loads(line)
        return msg

    def close(self) -> None:
        for fd in (self.rfd, self.wfd):
            try:
                os.close(fd)
            except OSError:
                pass


def pair() -> tuple[Channel, Channel]:
    """(parent side, child side): the child's side is used after fork."""
    p_r, c_w = os.pipe()
    c_r, p_w = os.pipe()
    return Channel(p_r, p_w), Channel(c_r, c_w)
