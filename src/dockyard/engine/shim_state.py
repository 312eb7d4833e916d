"""The files a shim keeps in its container's state folder, read by both the shim and the daemon.

    <exec-root>/containers/<cid>/
        shim.pid          {"pid", "start_time", "init_pid", "init_start_time", "tty", "log_path",
                          "cid"}: written once ``<runtime> create`` succeeded; "pid" is the shim
                          process (which may monitor other containers too); start times tell a
                          live process from a reused pid (field 22 of /proc/PID/stat)
        shim.sock         attach, resize, wait and kill requests (see shim_attach.py)
        exit.json         {"exit_code", "finished_at", "oom_killed", "pid"}: written atomically
                          after the container's init was reaped, its output drained and logged
        init.pid          the runtime's --pid-file
        runtime-log.json  the runtime's --log (json), where runc and we put the create error
        console.sock      --console-socket with a TTY; removed once the pty master arrived
        shim.log          only after a bug of the shim: its traceback

shim.pid and exit.json are renamed into place (readers see all or nothing) but not fsynced: the
exec-root is volatile (tmpfs, emptied by a reboot), so a sync buys no durability there, and on a
disk it would stall every container of the shim process behind the disk's queue (seconds under
load) -- exactly when the daemon waits for the exit. The daemon deletes the folder when it
removes the container; a new ``start_shim`` in the same folder clears what a previous run left.

Standard library only: this module runs in the shim.
"""

from __future__ import annotations

import os

PID_FILE = "shim.pid"
SOCKET = "shim.sock"
EXIT_FILE = "exit.json"
INIT_PID_FILE = "init.pid"
RUNTIME_LOG = "runtime-log.json"
CONSOLE_SOCKET = "console.sock"
CRASH_LOG = "shim.log"

#: Files of a previous run that a new shim in the same folder must not be confused by.
STALE = (PID_FILE, SOCKET, EXIT_FILE, INIT_PID_FILE, RUNTIME_LOG, CONSOLE_SOCKET, CRASH_LOG)

#: sun_path holds 108 bytes with the terminating NUL (unix(7)).
_SUN_PATH_MAX = 107

#: Exit code reported when the shim vanished without writing exit.json (dockerd reports 255
#: for a container whose exit status is lost).
UNKNOWN_EXIT = 255


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm (field 2) may contain spaces and parentheses: split after the last ")".
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def alive(pid: int, started: int) -> bool:
    """True while ``pid`` is the process that started at ``started`` and has not exited.

    A zombie has exited: its exit status is in exit.json already or lost, but it runs no more.
    """
    if started != start_time(pid):
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return False
    return raw[raw.rfind(b")") + 2 : raw.rfind(b")") + 3] not in (b"Z", b"X")


def unix_path(path: str, dir_fd: int | None = None) -> str:
    """A name of ``path`` short enough for a unix socket's sun_path.

    A deep state folder (a test's temp folder, a long --exec-root) makes
    ``<dir>/<64-hex id>/shim.sock`` longer than 107 bytes; bind(2) and connect(2) then fail with
    ENAMETOOLONG. The folder is reached instead through /proc/self/fd/N, a link to an open
    O_PATH descriptor of it that the caller keeps open for the call.
    """
    if len(os.fsencode(path)) <= _SUN_PATH_MAX or dir_fd is None:
        return path
    return f"/proc/self/fd/{dir_fd}/{os.path.basename(path)}"


def needs_dir_fd(path: str) -> bool:
    return len(os.fsencode(path)) > _SUN_PATH_MAX


def read_json(path: str) -> dict[str, object] | None:
    """A small JSON state file, or None when it is missing or (never expected) unreadable."""
    from dockyard.oci import fastjson

    try:
        with open(path, "rb") as f:
            doc = fastjson.loads(f.read())
    except (FileNotFoundError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None
