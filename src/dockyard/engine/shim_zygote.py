"""The zygote: a small process that has loaded the shim's code once and forks shim processes.

Started by the daemon (shim_launch.py) as ``python -S -c ... FD``; FD is its end of a
SOCK_SEQPACKET socket pair. Each request is one message: the first container's spec as JSON,
with SCM_RIGHTS carrying the "sync" socket the shim reports on and, optionally, the shim
process's control socket (more containers for the same process, see shim_main.Host). For each,
the zygote forks; the child starts a new session and forks again, and the grandchild becomes the
shim while the child exits at once. The shim is thus nobody's child in the daemon's tree
(reparented to init) exactly as it will be after any daemon restart, so live restore has one
case, not two. The zygote exits when the daemon's end of its socket closes (the daemon stopped
or was killed); running shims do not notice.

Why a zygote (bench/shim_memory.py has the numbers): a fresh interpreter costs several MiB of
private memory and tens of milliseconds to start; a fork of an interpreter that already imported
everything shares it copy-on-write. ``gc.freeze()`` moves the preloaded objects into a
generation the collector never scans, so collections in a shim do not write to (and thereby
copy) the pages holding them.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    import gc
    import signal
    import socket

    args = sys.argv[1:] if argv is None else argv
    ctl = socket.socket(fileno=int(args[0]))
    gc.disable()
    from dockyard.engine import shim_main
    from dockyard.oci import fastjson

    shim_main.preload()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.collect()
    gc.freeze()
    try:
        ctl.send(b"ready")  # for Zygote.start(wait=True); nobody else reads it
    except OSError:
        return 0
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(ctl, 1 << 20, 4)
        except InterruptedError:
            continue
        except OSError:
            return 0
        if not msg:
            return 0  # the daemon closed its end
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                ctl.close()
                os.setsid()
                if os.fork() != 0:
                    os._exit(0)
                for extra in fds[2:]:
                    os.close(extra)
                gc.enable()
                code = shim_main.run(
                    fastjson.loads(msg), fds[0] if fds else -1, fds[1] if len(fds) > 1 else -1
                )
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        os.waitpid(pid, 0)


if __name__ == "__main__":
    sys.exit(main())
