"""``run``: create + start, then (unless --detach) wait for the container, forwarding signals."""

from __future__ import annotations

import os

from dockyard.runtime.create import CreateOptions, create
from dockyard.runtime.start import release
from dockyard.util import syscalls as sc

FORWARDED = (1, 2, 3, 10, 12, 15, 28)  # HUP INT QUIT USR1 USR2 TERM WINCH


def run(opts: CreateOptions, detach: bool = False, keep: bool = False) -> int:
    from dockyard.runtime import hooks
    from dockyard.runtime.state import oci_state

    if not detach:
        # The init is a grandchild: as subreaper we inherit it when stage A exits, and can wait.
        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
        opts.proxy_console = True
    created = create(opts)
    state, sd = created.state, created.state_dir
    try:
        release(state, sd)
    except BaseException:
        from dockyard.runtime.delete import delete

        delete(opts.root, opts.container_id, force=True)
        raise
    for w in hooks.run_hooks("poststart", state.hooks, oci_state(state, "running")):
        os.write(2, f"dockyard-runtime: warning: {w}\n".encode())
    if detach:
        return 0
    code = wait_foreground(state.pid, created.console_master)
    if not keep:
        from dockyard.runtime.delete import delete

        delete(opts.root, opts.container_id, force=True)
    return code


def wait_foreground(pid: int, console_master_sock: int = -1) -> int:
    """Wait for ``pid`` (our child by subreaping), forwarding signals; its exit code (128+sig)."""
    import _signal  # type: ignore[import-not-found]  # `signal` would import enum (slow)
    import gc

    # Off for the short start (see launcher.py); this wait may last for days. Everything made so
    # far is moved out of the collector's sight first: it holds no garbage worth a pass, and the
    # first pass would otherwise walk all of it (over a millisecond, as the container starts).
    gc.freeze()
    gc.enable()

    master = -1

    def forward(signum: int, _frame: object) -> None:
        if signum == 28 and master >= 0:
            # Our terminal changed size: give the container's pty the new size, as runc does;
            # the kernel then sends SIGWINCH to the pty's foreground process group itself.
            from dockyard.runtime import tty

            size = tty.get_size(0)
            if size:
                tty.set_size(master, *size)
            return
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for sig in FORWARDED:
        _signal.signal(sig, forward)
    if console_master_sock >= 0:
        import threading

        from dockyard.runtime import tty

        master = tty.recv_fd(console_master_sock)  # read by forward() for SIGWINCH
        os.close(console_master_sock)
        t = threading.Thread(target=tty.proxy, args=(master,), daemon=True)
        t.start()
    while True:
        try:
            wpid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 255
        if wpid == pid:
            if console_master_sock >= 0:
                t.join(timeout=1.0)
            return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
