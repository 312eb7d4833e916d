"""Read-side verbs and freezer verbs: ``state``, ``list``, ``ps``, ``pause``/``resume``, ``events``."""

from __future__ import annotations

import os
import sys
import time

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.oci import fastjson
from dockyard.runtime.state import OCI_VERSION, State, StateDir, status

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _full_doc(state: State, st: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "id": state.id,
        "pid": state.pid if st != "stopped" else 0,
        "status": st,
        "bundle": state.bundle,
        "rootfs": state.rootfs,
        "created": state.created,
        "owner": state.owner,
    }
    if state.annotations:
        doc["annotations"] = state.annotations
    return doc


def state_doc(root: str, container_id: str) -> dict[str, Any]:
    sd = StateDir(root, container_id)
    state = sd.load()
    return _full_doc(state, status(state, sd))


def _all(root: str) -> list[dict[str, Any]]:
    out = []
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    for name in names:
        try:
            sd = StateDir(root, name)
            state = sd.load()
        except (InvalidArgument, NotFound, OSError, ValueError, TypeError):
            # Not a container: a stray entry, or a half-created one without state.json yet
            # (runc does not list those either).
            continue
        out.append(_full_doc(state, status(state, sd)))
    return out


def list_containers(root: str, fmt: str, quiet: bool) -> int:
    docs = _all(root)
    if quiet:
        for d in docs:
            print(d["id"])
        return 0
    if fmt == "json":
        sys.stdout.write(fastjson.dumps(docs) + "\n")
        return 0
    if fmt != "table":
        raise InvalidArgument(f"--format {fmt!r}: use table or json")
    rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    rows += [(d["id"], str(d["pid"]), d["status"], d["bundle"], d["created"], d["owner"]) for d in docs]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


def _manager(state: State) -> Any:
    from dockyard.runtime.cgroups import manager_from_paths

    if not state.cgroup_paths:
        raise Conflict(f"container {state.id!r} has no cgroup")
    return manager_from_paths(state.cgroup_paths)


def ps(root: str, container_id: str, fmt: str, ps_args: list[str]) -> int:
    sd = StateDir(root, container_id)
    state = sd.load()
    pids = sorted(_manager(state).pids()) if state.cgroup_paths else []
    if fmt == "json":
        sys.stdout.write(fastjson.dumps(pids) + "\n")
        return 0
    if fmt != "table":
        raise InvalidArgument(f"--format {fmt!r}: use table or json")
    import subprocess

    out = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    if not lines:
        return 0
    header = lines[0].split()
    try:
        pid_col = header.index("PID")
    except ValueError:
        raise InvalidArgument("ps options must keep the PID column") from None
    print(lines[0])
    wanted = set(pids)
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > pid_col and fields[pid_col].isdigit() and int(fields[pid_col]) in wanted:
            print(line)
    return 0


def pause_resume(root: str, container_id: str, pause: bool) -> None:
    sd = StateDir(root, container_id)
    state = sd.load()
    st = status(state, sd)
    if pause and st != "running":
        raise Conflict(f"cannot pause container {container_id!r}: it is {st}, not running")
    if not pause and st != "paused":
        raise Conflict(f"cannot resume container {container_id!r}: it is {st}, not paused")
    mgr = _manager(state)
    if pause:
        mgr.freeze()
    else:
        mgr.thaw()


def _parse_interval(text: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * units[suffix]
            except ValueError:
                break
    raise InvalidArgument(f"--interval {text!r}: use a duration like 5s or 500ms")


def events(root: str, container_id: str, stats: bool, interval: str) -> int:
    sd = StateDir(root, container_id)
    state = sd.load()
    mgr = _manager(state)

    def sample() -> None:
        doc = {"type": "stats", "id": container_id, "data": mgr.stats()}
        sys.stdout.write(fastjson.dumps(doc) + "\n")
        sys.stdout.flush()

    if stats:
        sample()
        return 0
    period = _parse_interval(interval)
    oom_seen = mgr.oom_kill_count()
    import gc

    gc.freeze()  # see run.wait_foreground
    gc.enable()  # off for the short start (see launcher.py); this loop lasts as the container
    while status(state, sd) != "stopped":
        sample()
        count = mgr.oom_kill_count()
        if count > oom_seen:
            sys.stdout.write(fastjson.dumps({"type": "oom", "id": container_id}) + "\n")
            oom_seen = count
        time.sleep(period)
    return 0
