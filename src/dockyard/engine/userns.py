"""``dockyard daemon --userns-remap``: container root mapped to an unprivileged range of host ids.

As dockerd's ``--userns-remap``: the value is ``default`` (a ``dockyard`` system user, created
when missing, with a range of 65536 ids added to /etc/subuid and /etc/subgid when it has none),
or ``USER[:GROUP]`` / ``UID[:GID]`` naming an existing account whose first subordinate ranges
are used. Every container then gets a user namespace mapping its ids 0..size-1 to
start..start+size-1 on the host, unless it asks for ``--userns host``.

dockerd keeps a second copy of every layer, chowned into the range, under
``<data-root>/<uid>.<gid>``. Dockyard shares the layers between remapped and host-namespace
containers: their lower folders are mounted through idmapped mounts (engine/idmapped.py) when the
kernel has them for overlay layers (Linux 5.19+), so a file root owns in the image shows as the
range's first id on the host and as 0 in the container, at no copying cost.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument, SystemFailure

DEFAULT_USER = "dockyard"
RANGE_SIZE = 65536
FIRST_START = 100000  # below this, ids belong to the host's own users (as Docker's and useradd's)
SUBUID = "/etc/subuid"
SUBGID = "/etc/subgid"


@dataclass(frozen=True)
class IdMap:
    """Container ids 0..size-1 are host ids uid_start.. (and gid_start.. for groups)."""

    uid_start: int
    gid_start: int
    size: int

    def host_uid(self, uid: int) -> int:
        return self.uid_start + uid if 0 <= uid < self.size else 65534

    def host_gid(self, gid: int) -> int:
        return self.gid_start + gid if 0 <= gid < self.size else 65534

    def container_uid(self, uid: int) -> int:
        """A host id as the container sees it; outside the range, the overflow id (as the kernel)."""
        return uid - self.uid_start if 0 <= uid - self.uid_start < self.size else 65534

    def container_gid(self, gid: int) -> int:
        return gid - self.gid_start if 0 <= gid - self.gid_start < self.size else 65534

    def oci(self) -> dict[str, list[dict[str, int]]]:
        """linux.uidMappings / gidMappings."""
        return {
            "uidMappings": [{"containerID": 0, "hostID": self.uid_start, "size": self.size}],
            "gidMappings": [{"containerID": 0, "hostID": self.gid_start, "size": self.size}],
        }

    def to_json(self) -> dict[str, Any]:
        return {"UidStart": self.uid_start, "GidStart": self.gid_start, "Size": self.size}


def read_ranges(path: str, names: tuple[str, ...]) -> list[tuple[int, int]]:
    """(start, count) ranges of /etc/subuid-style ``name:start:count`` lines for any of ``names``."""
    out: list[tuple[int, int]] = []
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) == 3 and parts[0] in names and parts[1].isdigit() and parts[2].isdigit():
            out.append((int(parts[1]), int(parts[2])))
    return out


def _all_ranges(path: str) -> list[tuple[int, int]]:
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.strip().split(":")
                if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                    out.append((int(parts[1]), int(parts[2])))
    except FileNotFoundError:
        pass
    return out


def free_start(path: str, size: int = RANGE_SIZE) -> int:
    """The lowest start >= FIRST_START of ``size`` ids overlapping no range in ``path``."""
    start = FIRST_START
    for low, count in sorted(_all_ranges(path)):
        if start + size <= low:
            break
        start = max(start, low + count)
    return start


def _append_range(path: str, name: str, size: int) -> None:
    start = free_start(path, size)
    line = f"{name}:{start}:{size}\n"
    # Appended in place (shadow-utils' own tools edit these files the same way); O_APPEND keeps a
    # concurrent writer's line whole.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_default_user(name: str = DEFAULT_USER) -> None:
    """The ``default`` remap user and its subordinate ranges, created when missing (as dockerd
    creates ``dockremap``)."""
    try:
        pwd.getpwnam(name)
        exists = True
    except KeyError:
        exists = False
    if not exists:
        res = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if res.returncode not in (0, 9):  # 9: the name exists (made meanwhile)
            raise SystemFailure(f"--userns-remap default: useradd {name} failed: {res.stderr.strip()}")
    for path in (SUBUID, SUBGID):
        if not read_ranges(path, (name,)):
            _append_range(path, name, RANGE_SIZE)


def resolve(value: str, subuid: str = SUBUID, subgid: str = SUBGID) -> IdMap:
    """The id map for a ``--userns-remap`` value (``default`` creates its user first)."""
    if not value:
        raise InvalidArgument("--userns-remap needs a value: default, USER, USER:GROUP or UID:GID")
    if value == "default":
        ensure_default_user()
        user, group = DEFAULT_USER, DEFAULT_USER
    else:
        user, _, group = value.partition(":")
        group = group or user
    try:
        pw = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except KeyError:
        raise InvalidArgument(
            f"--userns-remap {value}: no user {user!r} on this host: create it (useradd --system {user}) "
            "or use --userns-remap default"
        ) from None
    try:
        gr = grp.getgrgid(int(group)) if group.isdigit() else grp.getgrnam(group)
    except KeyError:
        raise InvalidArgument(f"--userns-remap {value}: no group {group!r} on this host") from None
    uids = read_ranges(subuid, (pw.pw_name, str(pw.pw_uid)))
    gids = read_ranges(subgid, (gr.gr_name, str(gr.gr_gid)))
    if not uids or not gids:
        missing = subuid if not uids else subgid
        raise InvalidArgument(
            f"--userns-remap {value}: {missing} has no range for {pw.pw_name if not uids else gr.gr_name}: "
            f"add one, e.g. {pw.pw_name}:{FIRST_START}:{RANGE_SIZE}"
        )
    # Docker maps only the first range of each; so do we (one uid_map line each).
    size = min(uids[0][1], gids[0][1])
    return IdMap(uids[0][0], gids[0][0], size)


def wanted(host_config: dict[str, Any], idmap: IdMap | None) -> IdMap | None:
    """The map a container runs with: the daemon's, unless it asked for the host's namespace."""
    if idmap is None or host_config.get("UsernsMode") == "host":
        return None
    return idmap


def check_host_config(host_config: dict[str, Any], idmap: IdMap | None) -> None:
    """dockerd's refusals when remapping is on: they need the host's user namespace."""
    mode = host_config.get("UsernsMode") or ""
    if mode not in ("", "host"):
        raise InvalidArgument(f"invalid --userns {mode!r}: use host (or leave it out)")
    if idmap is None or mode == "host":
        return
    if host_config.get("Privileged"):
        raise InvalidArgument(
            "privileged mode is incompatible with user namespaces.  You must run the container in the "
            "host namespace when running privileged mode (--userns host)"
        )
    for key, what in (("NetworkMode", "network"), ("PidMode", "pid")):
        if host_config.get(key) == "host":
            raise InvalidArgument(
                f"cannot share the host's {what} namespace when user namespaces are enabled: "
                "add --userns host"
            )


def adopt_empty_folder(path: str, idmap: IdMap) -> None:
    """A new, empty, root-owned volume folder handed to the range's root (dockerd creates remapped
    daemons' volumes owned by it); a folder with content or another owner is left as it is."""
    try:
        st = os.stat(path)
        if (st.st_uid, st.st_gid) == (0, 0) and not os.listdir(path):
            os.chown(path, idmap.uid_start, idmap.gid_start)
    except OSError:
        pass  # a volume driver's mount that refuses chown (nfs root squash): used as it is


def make_traversable(path: Path) -> None:
    """Let the remapped root walk down to ``path``: a folder on the way that others cannot search
    (mode without o+x, such as a 0700 temp folder) gets o+x, as dockerd does to its roots'
    parents. The runtime resolves the rootfs, bind sources and hosts files as container root,
    inside the user namespace, where host root's folders are "others"'. Nothing is made readable."""
    for folder in (path, *path.parents):
        try:
            mode = folder.stat().st_mode
        except FileNotFoundError:
            continue
        if not mode & 0o001:
            os.chmod(folder, (mode & 0o7777) | 0o001)
