"""Remapped copies of image layers: --userns-remap on kernels without idmapped overlay layers.

Where overlayfs cannot stack idmapped layers (before Linux 5.19, engine/idmapped.py), a
remapped container needs its image's files owned by the range instead, as dockerd does it: a
copy of each layer with every owner shifted into the range, made once per layer and range under
``<data-root>/overlay-remapped/<uid>.<gid>/<chain hex>/diff`` and shared by every container of
that image. A copy is made in a temporary folder and renamed into place when complete, under a
lock, so two starts of one image never see half a layer. Ids beyond the range map to the
overflow id 65534, as the kernel shows unmapped ids.

A layer's copies (one per range) go when the image store removes the layer (``remove_layer``,
hooked to ``ImageService.layer_removed``: image rm, image/builder/system prune, check --repair);
``sweep`` at engine start drops copies of layers removed while no remapping daemon listened.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from dockyard.engine.userns import IdMap
from dockyard.errors import SystemFailure
from dockyard.snapshots.mount import mount_overlay
from dockyard.snapshots.overlay import OverlayMount

DIR = "overlay-remapped"
_CHAIN_HEX = re.compile(r"[0-9a-f]{64}")


def _shift(path: str, idmap: IdMap) -> None:
    st = os.lstat(path)
    os.lchown(path, idmap.host_uid(st.st_uid), idmap.host_gid(st.st_gid))
    if not os.path.islink(path) and st.st_mode & 0o6000:
        # chown clears set-user-ID and set-group-ID bits; a remapped setuid binary keeps them.
        os.chmod(path, st.st_mode & 0o7777)


def remapped_copy(lower: Path, idmap: IdMap, data_root: Path) -> Path:
    """The remapped copy of one layer folder (made now if missing); returns its path."""
    real = Path(os.path.realpath(lower))
    key = real.parent.name if real.name == "diff" else real.name
    home = data_root / DIR / f"{idmap.uid_start}.{idmap.gid_start}"
    home.mkdir(parents=True, exist_ok=True)
    done = home / key / "diff"
    if done.is_dir():
        return done
    with open(home / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_dir():
            return done  # another start made it while we waited
        tmp = home / f"{key}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        # cp -a keeps modes, times, links, hard links, device nodes, xattrs (overlay's whiteouts
        # are 0:0 character devices and opaque xattrs) and sparse files, as a layer needs.
        res = subprocess.run(["cp", "-a", "--reflink=auto", f"{real}/.", str(tmp / "diff")],
                             capture_output=True, text=True, check=False)  # fmt: skip
        if res.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise SystemFailure(f"copying layer {real} for --userns-remap failed: {res.stderr.strip()}")
        for folder, dirs, files in os.walk(tmp / "diff"):
            for name in dirs + files:
                _shift(os.path.join(folder, name), idmap)
        _shift(str(tmp / "diff"), idmap)
        os.rename(tmp, home / key)
    return done


def mount_remapped_overlay(m: OverlayMount, target: str, idmap: IdMap, data_root: Path) -> None:
    """Mount the stack at ``target`` over remapped copies of its lower layers."""
    copies = [remapped_copy(lower, idmap, data_root) for lower in m.lower_paths()]
    upper = work = None
    if m.upper and m.work:
        for folder in (m.base / m.upper, m.base / m.work):
            os.chown(folder, idmap.uid_start, idmap.gid_start)
        upper, work = str(m.base / m.upper).lstrip("/"), str(m.base / m.work).lstrip("/")
    # Paths relative to "/": mount.py takes lowers, upper and work relative to the base folder.
    stack = OverlayMount(
        base=Path("/"), lowers=tuple(str(c).lstrip("/") for c in copies), upper=upper, work=work
    )
    mount_overlay(stack, target)


def remove_layer(data_root: Path, chain_id: str) -> list[Path]:
    """Remove every range's copy of layer ``chain_id`` ("sha256:<hex>" or "<hex>"); the removed
    copies. Under the copy's lock: a start making the same copy finishes first (the layer is only
    removed when no container uses it, so no start should want it again)."""
    key = chain_id.rpartition(":")[2]
    if not key or "/" in key or key.startswith("."):
        return []
    removed: list[Path] = []
    top = data_root / DIR
    for home in sorted(top.iterdir()) if top.is_dir() else []:
        lock_path = home / f"{key}.lock"
        if not any(p.exists() for p in (home / key, lock_path, home / f"{key}.tmp")):
            continue
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (home / key).exists():
                shutil.rmtree(home / key, ignore_errors=True)
                removed.append(home / key)
            shutil.rmtree(home / f"{key}.tmp", ignore_errors=True)
            lock_path.unlink(missing_ok=True)
    return removed


def sweep(data_root: Path, layer_exists: Callable[[str], bool]) -> list[Path]:
    """Remove the copies whose layer is gone (``layer_exists(hex)`` False); the removed copies."""
    top = data_root / DIR
    names = (
        (p.name for home in top.iterdir() if home.is_dir() for p in home.iterdir()) if top.is_dir() else ()
    )
    keys = {name.split(".")[0] for name in names}
    removed: list[Path] = []
    for key in sorted(keys):
        if not _CHAIN_HEX.fullmatch(key) or not layer_exists(key):
            removed += remove_layer(data_root, key)
    return removed


def remove_all(data_root: Path) -> None:
    shutil.rmtree(data_root / DIR, ignore_errors=True)
