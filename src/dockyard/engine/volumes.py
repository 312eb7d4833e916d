"""Volumes with Docker's ``local`` driver: folders under ``<data-root>/volumes/<name>/_data``.

Metadata lives in engine.db, table ``volumes`` (this module creates it): name, driver, labels,
driver options, creation time, and whether the volume is anonymous. The folder is the volume:

    <data-root>/volumes/            mode 0701 (others may traverse to a bind-mounted _data, not list)
      <name>/_data                  what containers mount; mode and owner copied up from the image

Driver options are the ``local`` driver's: ``type``, ``device`` and ``o``, given to mount(8) as
``mount -t TYPE -o O DEVICE _data`` when the first container uses the volume and unmounted after
the last one (``docker volume create -o type=tmpfs -o device=tmpfs -o o=size=64m``). Users are
counted in memory: after a daemon restart the engine acquires the volumes of its running
containers again.

Anonymous volumes (image VOLUMEs, ``-v /path``) get 64 hex digits as name and the label
``com.docker.volume.anonymous`` (dockerd >= 23), which is what ``volume prune`` removes by default.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import secrets
import shutil
import sqlite3
import stat
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dockyard.engine.events import EventBus
from dockyard.engine.volumes_copy import copy_up, dir_size, is_empty
from dockyard.errors import Conflict, InvalidArgument, NotFound, SystemFailure
from dockyard.runtime import mounts as mount_options
from dockyard.util import syscalls

ANONYMOUS_LABEL = "com.docker.volume.anonymous"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_VALID_OPTS = ("type", "device", "o")
# moby volume/local: each option needs the ones listed.
_REQUIRED_WITH = {"type": ("device",), "device": ("type",), "o": ("type", "device")}
_LIST_FILTERS = frozenset({"name", "driver", "label", "dangling"})
_PRUNE_FILTERS = frozenset({"label", "label!", "all"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS volumes (
    name       TEXT PRIMARY KEY,
    driver     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    labels     TEXT NOT NULL,
    options    TEXT NOT NULL,
    anonymous  INTEGER NOT NULL DEFAULT 0
)
"""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _truthy(value: str, key: str) -> bool:
    low = value.lower()
    if low in ("1", "true"):
        return True
    if low in ("0", "false"):
        return False
    raise InvalidArgument(f"invalid filter '{key}={value}': use true or false")


def _match(pattern: str, value: str) -> bool:
    """moby's filters.Match: the filter is a regular expression searched in the value."""
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return pattern in value


def _match_labels(wanted: list[str], labels: dict[str, str]) -> bool:
    for w in wanted:
        key, eq, value = w.partition("=")
        if key not in labels or (eq and labels[key] != value):
            return False
    return True


class VolumeStore:
    """The ``local`` volume driver and its metadata."""

    def __init__(self, conn: sqlite3.Connection, data_root: Path, events: EventBus | None = None) -> None:
        self._conn = conn
        self.events = events  # "create", "destroy" and "prune" volume events, as dockerd sends
        self.root = Path(data_root) / "volumes"
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o701)
        with conn:
            conn.execute(_SCHEMA)
        self._users: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ metadata

    def _row(self, name: str) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._conn.execute(
            "SELECT name, driver, created_at, labels, options, anonymous FROM volumes WHERE name = ?",
            (name,),
        ).fetchone()
        return row

    def _doc(self, row: tuple[Any, ...]) -> dict[str, Any]:
        name, driver, created, labels, options, _anon = row
        return {
            "CreatedAt": created,
            "Driver": driver,
            "Labels": json.loads(labels),
            "Mountpoint": str(self.mountpoint(name)),
            "Name": name,
            "Options": json.loads(options),
            "Scope": "local",
        }

    def mountpoint(self, name: str) -> Path:
        return self.root / name / "_data"

    def exists(self, name: str) -> bool:
        return self._row(name) is not None

    def get(self, name: str) -> dict[str, Any]:
        row = self._row(name)
        if row is None:
            raise NotFound(f"get {name}: no such volume")
        return self._doc(row)

    def is_anonymous(self, name: str) -> bool:
        row = self._row(name)
        return bool(row and row[5])

    def names(self) -> builtins.list[str]:
        return [r[0] for r in self._conn.execute("SELECT name FROM volumes ORDER BY name")]

    # ------------------------------------------------------------ create

    def create(
        self,
        name: str | None = None,
        driver: str = "local",
        labels: dict[str, str] | None = None,
        driver_opts: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Create a volume (or return the existing one of that name); its Volume JSON."""
        driver = driver or "local"
        anonymous = not name
        if not name:
            name = secrets.token_hex(32)
        if not _NAME.match(name):
            raise InvalidArgument(
                f'create {name}: "{name}" includes invalid characters for a local volume name, only '
                '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
                "use absolute path"
            )
        existing = self._row(name)
        if existing is not None:
            if existing[1] != driver:
                raise Conflict(
                    f"create {name}: volume name is already in use with driver {existing[1]!r}: "
                    "remove it first or pick another name"
                )
            return self._doc(existing)
        if driver != "local":
            raise NotFound(f"create {name}: volume driver {driver!r} not found: use the local driver")
        opts = {str(k): str(v) for k, v in (driver_opts or {}).items()}
        _validate_opts(name, opts)
        lbls = {str(k): str(v) for k, v in (labels or {}).items()}
        if anonymous:
            lbls.setdefault(ANONYMOUS_LABEL, "")
        data = self.mountpoint(name)
        data.parent.mkdir(mode=0o755, exist_ok=True)
        data.mkdir(mode=0o755, exist_ok=True)
        try:
            with self._conn:
                self._conn.execute(
                    "INSERT INTO volumes (name, driver, created_at, labels, options, anonymous) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (name, driver, _now(), json.dumps(lbls), json.dumps(opts), int(anonymous)),
                )
        except sqlite3.IntegrityError:
            # Created meanwhile by another request: the same outcome as finding it above.
            row = self._row(name)
            assert row is not None
            return self._doc(row)
        except BaseException:
            shutil.rmtree(data.parent, ignore_errors=True)
            raise
        self._publish("create", name)
        return self.get(name)

    def create_anonymous(self) -> dict[str, Any]:
        return self.create(None)

    def _publish(self, action: str, name: str) -> None:
        if self.events is not None:
            self.events.publish("volume", action, name, {"driver": "local"})

    # ------------------------------------------------------------ list, usage

    def _rows(self) -> builtins.list[tuple[Any, ...]]:
        return list(
            self._conn.execute(
                "SELECT name, driver, created_at, labels, options, anonymous FROM volumes ORDER BY name"
            )
        )

    def list(
        self,
        filters: dict[str, builtins.list[str]] | None = None,
        in_use: Callable[[str], builtins.list[str]] | None = None,
    ) -> dict[str, Any]:
        """``{"Volumes": [...], "Warnings": []}`` filtered by name, driver, label, dangling."""
        flt = filters or {}
        for key in flt:
            if key not in _LIST_FILTERS:
                raise InvalidArgument(
                    f"invalid filter '{key}': use one of {', '.join(sorted(_LIST_FILTERS))}"
                )
        dangling = None
        for v in flt.get("dangling", []):
            dangling = _truthy(v, "dangling")
        out = []
        for row in self._rows():
            doc = self._doc(row)
            if flt.get("name") and not any(_match(p, doc["Name"]) for p in flt["name"]):
                continue
            if flt.get("driver") and not any(_match(p, doc["Driver"]) for p in flt["driver"]):
                continue
            if flt.get("label") and not _match_labels(flt["label"], doc["Labels"]):
                continue
            if dangling is not None:
                used = bool(in_use(doc["Name"])) if in_use else False
                if used == dangling:
                    continue
            out.append(doc)
        return {"Volumes": out, "Warnings": []}

    def usage(self, name: str, ref_count: int) -> dict[str, int]:
        """``UsageData`` for /system/df: bytes in the volume and how many containers use it."""
        return {"Size": dir_size(self.mountpoint(name)), "RefCount": ref_count}

    def list_with_usage(self, ref_count: Callable[[str], int]) -> builtins.list[dict[str, Any]]:
        out = []
        for row in self._rows():
            doc = self._doc(row)
            doc["UsageData"] = self.usage(doc["Name"], ref_count(doc["Name"]))
            out.append(doc)
        return out

    # ------------------------------------------------------------ remove, prune

    def remove(
        self,
        name: str,
        force: bool = False,
        in_use: Callable[[str], builtins.list[str]] | None = None,
    ) -> None:
        """Remove a volume that no container uses; with ``force`` a missing one is no error."""
        row = self._row(name)
        if row is None:
            if force:
                return  # `docker volume rm -f` succeeds on a volume that is already gone
            raise NotFound(f"get {name}: no such volume")
        users = sorted(set(in_use(name) if in_use else []) | self._users.get(name, set()))
        if users:
            raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        self._unmount(name)
        with self._conn:
            self._conn.execute("DELETE FROM volumes WHERE name = ?", (name,))
        _remove_tree(self.root / name)
        self._publish("destroy", name)

    def prune(
        self,
        filters: dict[str, builtins.list[str]] | None,
        in_use: Callable[[str], builtins.list[str]],
    ) -> dict[str, Any]:
        """Remove unused volumes: anonymous ones only, unless the filter ``all=true`` is given
        (API >= 1.42; the handler adds it for older API versions, which pruned every volume)."""
        flt = filters or {}
        for key in flt:
            if key not in _PRUNE_FILTERS:
                raise InvalidArgument(
                    f"invalid filter '{key}': use one of {', '.join(sorted(_PRUNE_FILTERS))}"
                )
        prune_all = any(_truthy(v, "all") for v in flt.get("all", []))
        deleted: builtins.list[str] = []
        reclaimed = 0
        for row in self._rows():
            doc = self._doc(row)
            name = doc["Name"]
            if not prune_all and not row[5]:
                continue
            if flt.get("label") and not _match_labels(flt["label"], doc["Labels"]):
                continue
            if flt.get("label!") and any(_match_labels([w], doc["Labels"]) for w in flt["label!"]):
                continue
            if in_use(name) or self._users.get(name):
                continue
            size = dir_size(self.mountpoint(name))
            try:
                self.remove(name, in_use=in_use)
            except (Conflict, NotFound):
                continue  # taken into use or removed by someone else meanwhile
            deleted.append(name)
            reclaimed += size
        if self.events is not None:
            self.events.publish("volume", "prune", "", {"reclaimed": str(reclaimed)})
        return {"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed}

    # ------------------------------------------------------------ use by containers

    def acquire(self, name: str, container_id: str) -> str:
        """The host folder to bind-mount for ``container_id``; mounts the device on first use."""
        row = self._row(name)
        if row is None:
            raise NotFound(f"get {name}: no such volume")
        opts: dict[str, str] = json.loads(row[4])
        with self._lock:
            if opts and not self._mounted(name):
                self._mount(name, opts)
            self._users.setdefault(name, set()).add(container_id)
        return str(self.mountpoint(name))

    def release(self, name: str, container_id: str) -> None:
        """Forget one user; unmounts a device volume after the last one. Idempotent."""
        with self._lock:
            users = self._users.get(name)
            if users is not None:
                users.discard(container_id)
                if users:
                    return
                del self._users[name]
            self._unmount(name)

    def users(self, name: str) -> set[str]:
        return set(self._users.get(name, set()))

    def populate(self, name: str, source: str) -> bool:
        """Docker's copy-up: fill an empty volume from ``source`` (the image's content at the
        mount point, a host path inside the container's rootfs). True if anything was copied."""
        data = self.mountpoint(name)
        if not self.exists(name):
            raise NotFound(f"get {name}: no such volume")
        try:
            st = os.lstat(source)
        except FileNotFoundError:
            return False  # the image has nothing at that path: the volume stays empty
        if not stat.S_ISDIR(st.st_mode) or not is_empty(data):
            return False
        copy_up(source, str(data))
        return True

    # ------------------------------------------------------------ device mounts

    def _mounted(self, name: str) -> bool:
        return is_mount_point(str(self.mountpoint(name)))

    def _mount(self, name: str, opts: dict[str, str]) -> None:
        parsed = mount_options.parse([o for o in opts.get("o", "").split(",") if o])
        target = str(self.mountpoint(name))
        try:
            syscalls.mount(opts["device"], target, opts["type"], parsed.flags, parsed.data or None)
        except OSError as exc:
            raise SystemFailure(
                f"error while mounting volume '{target}': mount -t {opts['type']} -o {opts.get('o', '')!r} "
                f"{opts['device']}: {exc.strerror}: check the volume's driver options",
                exc.errno or 0,
            ) from None

    def _unmount(self, name: str) -> None:
        target = str(self.mountpoint(name))
        while is_mount_point(target):
            try:
                syscalls.umount2(target, syscalls.MNT_DETACH)
            except OSError:
                return  # EINVAL: unmounted meanwhile


_OCTAL = re.compile(r"\\([0-7]{3})")


def is_mount_point(path: str) -> bool:
    """True when something is mounted at ``path``. os.path.ismount cannot tell: a bind mount
    from the same filesystem has the same st_dev as its parent folder."""
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            # Field 5 is the mount point, with space, tab, newline and backslash octal-escaped.
            point = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), line.split(" ", 5)[4])
            if point == real:
                return True
    return False


def _validate_opts(name: str, opts: dict[str, str]) -> None:
    for key in opts:
        if key not in _VALID_OPTS:
            raise InvalidArgument(
                f'create {name}: invalid option: "{key}": the local driver takes {", ".join(_VALID_OPTS)}'
            )
    for key, needs in _REQUIRED_WITH.items():
        if key in opts:
            for need in needs:
                if not opts.get(need):
                    raise InvalidArgument(f'create {name}: missing required option: "{need}"')


def _remove_tree(path: Path) -> None:
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass  # already gone: removal is idempotent
