"""Image configs (OCI image-spec config.md, Docker's image JSON): read the fields, build new ones.

Standard library only.
"""

from __future__ import annotations

import json
import time
from typing import Any

from dockyard.errors import InvalidArgument
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import canonical


def load(data: bytes, where: str = "image config") -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InvalidArgument(f"{where}: not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise InvalidArgument(f"{where}: expected a JSON object")
    diff_ids(obj, where)
    return obj


def diff_ids(config: dict[str, Any], where: str = "image config") -> list[str]:
    rootfs = config.get("rootfs") or {}
    if not isinstance(rootfs, dict) or rootfs.get("type", "layers") != "layers":
        raise InvalidArgument(f'{where}: rootfs.type must be "layers"')
    ids = rootfs.get("diff_ids") or []
    if not isinstance(ids, list):
        raise InvalidArgument(f"{where}: rootfs.diff_ids must be a list")
    for i in ids:
        if not isinstance(i, str):
            raise InvalidArgument(f"{where}: rootfs.diff_ids holds {i!r}, not a digest")
        Digest.parse(i)
    return list(ids)


def now_rfc3339() -> str:
    """UTC with nanoseconds as Go's time.RFC3339Nano prints (Docker's ``Created``)."""
    ns = time.time_ns()
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + f".{ns % 1_000_000_000:09d}Z"
    )


def new_config(
    *,
    parent: dict[str, Any] | None,
    diff_id: str | None,
    container_config: dict[str, Any],
    created: str,
    created_by: str,
    comment: str = "",
    author: str = "",
    container: str = "",
    architecture: str = "amd64",
    os_name: str = "linux",
) -> dict[str, Any]:
    """A child image of ``parent`` (or a base image) with one more layer (``diff_id``) or none.

    History gets one entry; with no layer it is marked ``empty_layer`` (config.md "history").
    """
    ids = diff_ids(parent) if parent else []
    history = list(parent.get("history") or []) if parent else []
    entry: dict[str, Any] = {"created": created, "created_by": created_by}
    if author:
        entry["author"] = author
    if comment:
        entry["comment"] = comment
    if diff_id is None:
        entry["empty_layer"] = True
    else:
        ids.append(diff_id)
    history.append(entry)
    out: dict[str, Any] = {
        "architecture": (parent or {}).get("architecture", architecture),
        "os": (parent or {}).get("os", os_name),
        "config": container_config,
        "created": created,
        "history": history,
        "rootfs": {"type": "layers", "diff_ids": ids},
    }
    if parent and parent.get("variant"):
        out["variant"] = parent["variant"]
    if author:
        out["author"] = author
    if comment:
        out["comment"] = comment
    if container:
        out["container"] = container
    return out


def encode(config: dict[str, Any]) -> bytes:
    return canonical(config)
