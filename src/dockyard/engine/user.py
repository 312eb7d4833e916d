"""``Config.User`` resolved against the container's own /etc/passwd and /etc/group.

The forms dockerd accepts: ``name``, ``uid``, ``name:group``, ``uid:gid``, ``name:gid``,
``uid:group``. A name must be found in the container's files (runc's wording for the error:
``unable to find user x: no matching entries in passwd file``); a number need not be. The
supplementary groups are the groups listing the user by name, plus HostConfig.GroupAdd, plus
the primary gid first (dockerd writes ``additionalGids: [gid, ...]``). HOME is the user's home
from passwd, "/" when the uid has no entry.

The files are read through secure_join, as if the rootfs were "/": an image's /etc/passwd may be
a symlink, and it must not lead out of the container.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dockyard.errors import InvalidArgument
from dockyard.runtime.paths import secure_join


@dataclass
class ResolvedUser:
    uid: int
    gid: int
    additional_gids: list[int] = field(default_factory=list)
    home: str = "/"
    name: str = ""


def _read_db(rootfs: str, path: str) -> list[list[str]]:
    try:
        with open(secure_join(rootfs, path), encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip() and not line.startswith("#")]
    except (OSError, InvalidArgument):
        return []


def resolve(rootfs: str, spec: str, group_add: list[str] | None = None) -> ResolvedUser:
    user_part, _, group_part = (spec or "").partition(":")
    passwd = _read_db(rootfs, "/etc/passwd")
    groups = _read_db(rootfs, "/etc/group")
    entry: list[str] | None = None
    if not user_part:
        user_part = "0"
    if user_part.isdigit():
        uid = int(user_part)
        entry = next((p for p in passwd if len(p) >= 7 and p[2] == user_part), None)
    else:
        entry = next((p for p in passwd if len(p) >= 7 and p[0] == user_part), None)
        if entry is None:
            raise InvalidArgument(f"unable to find user {user_part}: no matching entries in passwd file")
        uid = _int(entry[2], spec)
    gid = _int(entry[3], spec) if entry is not None else 0
    name = entry[0] if entry is not None else ""
    home = (entry[5] or "/") if entry is not None else "/"
    if group_part:
        gid = _group_id(groups, group_part)
    extra: list[int] = [gid]
    if name:
        for g in groups:
            if len(g) >= 4 and name in g[3].split(",") and g[2].isdigit():
                number = int(g[2])
                if number not in extra:
                    extra.append(number)
    for added in group_add or []:
        number = _group_id(groups, added)
        if number not in extra:
            extra.append(number)
    return ResolvedUser(uid=uid, gid=gid, additional_gids=extra, home=home, name=name)


def _group_id(groups: list[list[str]], group: str) -> int:
    if group.isdigit():
        return int(group)
    found = next((g for g in groups if len(g) >= 3 and g[0] == group), None)
    if found is None:
        raise InvalidArgument(f"unable to find group {group}: no matching entries in group file")
    return _int(found[2], group)


def _int(text: str, spec: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidArgument(
            f"invalid user {spec!r}: the passwd entry has a non-numeric id {text!r}"
        ) from None


def exists_in(rootfs: str, path: str) -> bool:
    try:
        return os.path.exists(secure_join(rootfs, path))
    except InvalidArgument:
        return False
