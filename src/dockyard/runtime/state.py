"""The state folder of one container under ``--root``.

``<root>/<id>/state.json`` is written atomically and records the init process's pid together with
its start time (field 22 of /proc/<pid>/stat, clock ticks since boot): a pid reused by another
process after the container died then never passes for the container. ``exec.fifo`` exists from
``create`` until ``start``: its presence is what makes a live init "created" rather than "running"
(the same convention as runc).
"""

from __future__ import annotations

import os
import time

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.oci import fastjson
from dockyard.util.atomic import write_atomic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

OCI_VERSION = "1.1.0"
STATE_FILE = "state.json"
FIFO = "exec.fifo"


def validate_id(container_id: str) -> None:
    if (
        not container_id
        or container_id in (".", "..")
        or "/" in container_id
        or len(container_id) > 1024
        or "\0" in container_id
    ):
        raise InvalidArgument(f"invalid container id {container_id!r}: use letters, digits, '_', '-', '.'")
    for ch in container_id:
        if not (ch.isalnum() or ch in "_-.+"):
            raise InvalidArgument(
                f"invalid container id {container_id!r}: {ch!r} is not allowed; "
                "use letters, digits, '_', '-', '.'"
            )


def process_start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot, or None when it does not exist.

    /proc/<pid>/stat's second field is the command name in parentheses and may itself hold spaces
    and parentheses, so the fields are counted from the last ')'.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = data[data.rindex(b")") + 2 :].split()
    # rest[0] is field 3 (state); the start time is field 22.
    if rest[0] == b"Z" or rest[0] == b"X":
        return None  # a zombie has exited: the container is stopped even before it is reaped
    return int(rest[19])


class State:
    __slots__ = (
        "annotations",
        "apparmor",
        "bundle",
        "cgroup_paths",
        "config_process",
        "created",
        "extra",
        "hooks",
        "id",
        "namespaces",
        "no_new_privileges",
        "owner",
        "pid",
        "pid_start",
        "rootfs",
        "rootless",
        "seccomp",
        "selinux",
        "use_systemd",
    )

    def __init__(
        self,
        id: str,
        bundle: str,
        rootfs: str,
        pid: int,
        pid_start: int,
        created: str,
        *,
        owner: str = "",
        annotations: dict[str, str] | None = None,
        cgroup_paths: dict[str, str] | None = None,
        namespaces: dict[str, str] | None = None,
        hooks: dict[str, Any] | None = None,
        config_process: dict[str, Any] | None = None,
        seccomp: dict[str, Any] | None = None,
        apparmor: str = "",
        selinux: str = "",
        no_new_privileges: bool = False,
        rootless: bool = False,
        use_systemd: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.id = id
        self.bundle = bundle
        self.rootfs = rootfs
        self.pid = pid
        self.pid_start = pid_start
        self.created = created
        self.owner = owner
        self.annotations: dict[str, str] = annotations if annotations is not None else {}
        self.cgroup_paths: dict[str, str] = cgroup_paths if cgroup_paths is not None else {}
        self.namespaces: dict[str, str] = namespaces if namespaces is not None else {}
        self.hooks: dict[str, Any] = hooks if hooks is not None else {}
        self.config_process: dict[str, Any] = config_process if config_process is not None else {}
        self.seccomp = seccomp
        self.apparmor = apparmor
        self.selinux = selinux
        self.no_new_privileges = no_new_privileges
        self.rootless = rootless
        self.use_systemd = use_systemd
        self.extra: dict[str, Any] = extra if extra is not None else {}

    def to_json(self) -> bytes:
        return fastjson.dumps({k: getattr(self, k) for k in self.__slots__}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> State:
        raw = fastjson.loads(data)
        known = {k: raw[k] for k in cls.__slots__ if k in raw}
        return cls(**known)


class StateDir:
    def __init__(self, root: str, container_id: str) -> None:
        validate_id(container_id)
        self.root = root
        self.id = container_id
        self.path = os.path.join(root, container_id)

    @property
    def fifo(self) -> str:
        return os.path.join(self.path, FIFO)

    def exists(self) -> bool:
        return os.path.exists(os.path.join(self.path, STATE_FILE))

    def make(self) -> None:
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        try:
            os.mkdir(self.path, 0o711)
        except FileExistsError:
            raise Conflict(
                f"container with id {self.id!r} already exists in {self.root}: "
                f"delete it first or choose another id"
            ) from None

    def save(self, state: State) -> None:
        # Atomic (temp file + rename: a reader sees the old or the new state, never a mix) but not
        # fsynced, as runc writes its state.json: the file describes live processes, which a
        # crash takes away with it, and engines keep it on tmpfs (/run). An fsync here costs
        # 5-10 ms on a disk (ext4 journal commit), more than the rest of `create`'s own writes.
        write_atomic(os.path.join(self.path, STATE_FILE), state.to_json(), 0o600, sync=False)

    def load(self) -> State:
        path = os.path.join(self.path, STATE_FILE)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise NotFound(f"container {self.id!r} does not exist") from None
        try:
            return State.from_json(data)
        except (ValueError, TypeError):
            # Only a crash while the file was being replaced leaves this (see save).
            raise NotFound(
                f"container {self.id!r}: {path} is unreadable (left by a crash?): "
                "remove it with `delete --force`"
            ) from None

    def remove(self) -> None:
        # Idempotent: a second delete, or a create that failed half-way, finds less or nothing.
        # (shutil.rmtree would import fnmatch and re: too slow for the runtime's start path.)
        # The usual folder holds only what this module puts there: no listing needed.
        for name in (STATE_FILE, FIFO):
            _unlink_quiet(os.path.join(self.path, name))
        try:
            os.rmdir(self.path)
            return
        except FileNotFoundError:
            return
        except OSError:
            pass  # something else in it: remove it all
        for top, dirs, files in os.walk(self.path, topdown=False):
            for name in files:
                _unlink_quiet(os.path.join(top, name))
            for name in dirs:
                path = os.path.join(top, name)
                if os.path.islink(path):
                    _unlink_quiet(path)
                else:
                    try:
                        os.rmdir(path)
                    except OSError:
                        pass
        try:
            os.rmdir(self.path)
        except FileNotFoundError:
            pass


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def status(state: State, state_dir: StateDir) -> str:
    """created | running | paused | stopped, derived from the live system, never stored."""
    if state.pid <= 0 or process_start_time(state.pid) != state.pid_start:
        return "stopped"
    if os.path.exists(state_dir.fifo):
        return "created"
    if state.cgroup_paths:
        from dockyard.runtime.cgroups import manager_from_paths

        try:
            if manager_from_paths(state.cgroup_paths).frozen():
                return "paused"
        except OSError:
            pass
    return "running"


def oci_state(state: State, status_value: str) -> dict[str, Any]:
    """The OCI state document (runtime.md "State"), also given to hooks on stdin."""
    doc: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "id": state.id,
        "status": status_value,
        "bundle": state.bundle,
    }
    if status_value != "stopped":
        doc["pid"] = state.pid
    else:
        doc["pid"] = 0
    if state.annotations:
        doc["annotations"] = state.annotations
    return doc


def now_rfc3339() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1e9):09d}Z"
