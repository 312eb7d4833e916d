"""Garbage collection of the image store: blobs, layer folders and short links nothing uses.

Run by ``image prune`` (and so ``system prune``) after the images it removes, and by ``system
check --repair``. "Used" is what images.db references (configs, manifests, layer blobs, layer
chains) plus the chains containers' writable layers sit on. A pull in progress stores blobs and
layers before its image is recorded, so anything newer than the oldest running pull is left
alone (containerd protects such content with leases; this is the same idea, by time).

Partial downloads (ingests) are kept unless untouched for ``INGEST_MAX_AGE``: a pull resumes
them.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockyard.images.service import ImageService

INGEST_MAX_AGE = 24 * 3600.0


@dataclass
class Collected:
    blobs: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    ingests: list[str] = field(default_factory=list)
    reclaimed: int = 0


def disk_usage(path: Path) -> int:
    """Bytes of disk a file or tree takes (``du -s -B1``: allocated blocks, hardlinks once)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0
    total = st.st_blocks * 512
    if not os.path.isdir(path) or os.path.islink(path):
        return total
    seen: set[tuple[int, int]] = set()
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                s = os.lstat(os.path.join(folder, name))
            except FileNotFoundError:
                continue
            if s.st_nlink > 1 and not os.path.isdir(os.path.join(folder, name)):
                key = (s.st_dev, s.st_ino)
                if key in seen:
                    continue
                seen.add(key)
            total += s.st_blocks * 512
    return total


def collect(svc: ImageService, *, ingest_max_age: float = INGEST_MAX_AGE) -> Collected:
    out = Collected()
    horizon = svc.pulls_running_since()
    with svc.lock:
        used_blobs = svc.db.used_blobs()
        used_chains = svc.db.used_chains() | svc.snapshots.in_use_by_containers()
        for info in list(svc.content.list()):
            if info.digest in used_blobs or (horizon is not None and info.created >= horizon):
                continue
            out.reclaimed += disk_usage(svc.content.path(info.digest))
            svc.content.delete(info.digest)
            out.blobs.append(info.digest)
        if out.blobs:
            svc.db.forget_sources(set(out.blobs))
        for chain in svc.snapshots.layers():
            if chain in used_chains:
                continue
            folder = svc.snapshots.layer_dir(chain)
            if horizon is not None and folder.stat().st_mtime >= horizon:
                continue
            out.reclaimed += disk_usage(folder)
            svc.remove_layer(chain)
            out.layers.append(chain)
        for link in svc.snapshots.dangling_links():
            link.unlink(missing_ok=True)
    now = time.time()
    for ref, _size in svc.content.ingests():
        folder = svc.content.ingest_root / ref
        try:
            age = now - max(p.stat().st_mtime for p in [folder, *folder.iterdir()])
        except (FileNotFoundError, ValueError):
            continue
        if age > ingest_max_age:
            out.reclaimed += disk_usage(folder)
            shutil.rmtree(folder, ignore_errors=True)
            out.ingests.append(ref)
    return out
