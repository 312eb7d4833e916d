"""Garbage collection: remove blobs no manifest reaches, safely while pushes go on.

Mark: every manifest kept in every repository (all of them, or with ``delete_untagged`` only
those a tag reaches, directly, through an index, or as a referrer of a kept manifest), and every
blob and child manifest they name. Sweep: a blob not marked is removed only if it *and every link
to it* are older than ``grace`` seconds. A push in progress writes its blobs (or re-links ones
that exist) before its manifest, each write refreshing an mtime, so within the grace period
(default an hour) nothing a push is about to reference is removed; the registry need not be
read-only. Upload sessions older than ``grace`` are removed too (a client that died mid-push).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from dockyard.registry import paths
from dockyard.registry.digest import Digest, parse_digest
from dockyard.registry.errcode import RegistryError
from dockyard.registry.repositories import walk_repositories
from dockyard.registry.storage import PathNotFound, StorageDriver


@dataclass
class Report:
    dry_run: bool
    blobs_removed: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    manifests_removed: list[str] = field(default_factory=list)
    uploads_removed: list[str] = field(default_factory=list)
    blobs_kept: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "blobs_removed": len(self.blobs_removed),
            "bytes_freed": self.bytes_freed,
            "manifests_removed": self.manifests_removed,
            "uploads_removed": len(self.uploads_removed),
            "blobs_kept": self.blobs_kept,
        }


def _read_digest(driver: StorageDriver, path: str) -> Digest | None:
    try:
        return parse_digest(driver.get_content(path).decode().strip())
    except (PathNotFound, RegistryError, UnicodeDecodeError):
        return None


def _manifest_refs(driver: StorageDriver, d: Digest) -> tuple[list[Digest], list[Digest], Digest | None]:
    """(blobs, child manifests, subject) named by the stored manifest ``d``."""
    try:
        doc = json.loads(driver.get_content(paths.blob_data(d)))
    except (PathNotFound, ValueError):
        return [], [], None

    def digests(items: Any) -> list[Digest]:
        out = []
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and isinstance(item.get("digest"), str):
                try:
                    out.append(parse_digest(item["digest"]))
                except RegistryError:
                    continue
        return out

    blobs = digests([doc.get("config")] + (doc.get("layers") or [])) if "manifests" not in doc else []
    children = digests(doc.get("manifests") or [])
    subject = digests([doc.get("subject")])
    return blobs, children, subject[0] if subject else None


def _revisions(driver: StorageDriver, name: str) -> dict[Digest, float]:
    out = {}
    for info in driver.walk(paths.revisions(name)):
        if info.path.endswith("/link"):
            d = _read_digest(driver, info.path)
            if d is not None:
                out[d] = info.mtime
    return out


def collect(
    driver: StorageDriver, *, dry_run: bool = False, delete_untagged: bool = False, grace: float = 3600.0
) -> Report:
    report = Report(dry_run)
    now = time.time()
    old = now - grace
    repos = walk_repositories(driver)
    marked: set[Digest] = set()
    link_times: dict[Digest, float] = {}
    for name in repos:
        revisions = _revisions(driver, name)
        refs = {d: _manifest_refs(driver, d) for d in revisions}
        if delete_untagged:
            keep: set[Digest] = set()
            for tag in driver.list_dir(paths.tags(name)):
                d = _read_digest(driver, paths.tag_link(name, tag))
                if d is not None:
                    keep.add(d)
            changed = True
            while changed:  # close over index children and referrers of kept manifests
                changed = False
                for d, (_b, children, subject) in refs.items():
                    add = set(children) if d in keep else set()
                    if subject is not None and subject in keep:
                        add.add(d)
                    if not add <= keep:
                        keep |= add
                        changed = True
            for d, mtime in revisions.items():
                if d in keep or mtime > old:
                    continue
                report.manifests_removed.append(f"{name}@{d}")
                if not dry_run:
                    driver.delete(paths.revision_link(name, d).rsplit("/", 1)[0])
                    subject = refs[d][2]
                    if subject is not None:
                        driver.delete(paths.referrer_link(name, subject, d).rsplit("/", 1)[0])
                del refs[d]
        for d, (blobs, children, _subject) in refs.items():
            marked.add(d)
            marked.update(blobs)
            marked.update(children)
        for info in driver.walk(paths.layers(name)):
            d = _read_digest(driver, info.path)
            if d is not None:
                link_times[d] = max(link_times.get(d, 0.0), info.mtime)
    for info in driver.walk("blobs"):
        if not info.path.endswith("/data"):
            continue
        parts = info.path.split("/")
        try:
            d = parse_digest(f"{parts[1]}:{parts[3]}")
        except (RegistryError, IndexError):
            continue
        if d in marked or info.mtime > old or link_times.get(d, 0.0) > old:
            report.blobs_kept += 1
            continue
        report.blobs_removed.append(str(d))
        report.bytes_freed += info.size
        if not dry_run:
            driver.delete(paths.blob_dir(d))
            for name in repos:
                driver.delete(paths.layer_link(name, d).rsplit("/", 1)[0])
    for name in repos + _upload_only_repos(driver, repos):
        for upload_id in driver.list_dir(paths.uploads(name)):
            started = driver.stat(paths.upload_started(name, upload_id))
            if started is None or started.mtime <= old:
                report.uploads_removed.append(f"{name}/{upload_id}")
                if not dry_run:
                    driver.delete(paths.upload(name, upload_id))
    return report


def _upload_only_repos(driver: StorageDriver, repos: list[str]) -> list[str]:
    """Repositories with uploads but no manifest yet (a first push that died)."""
    found = []
    for info in driver.walk(paths.REPOS):
        if "/_uploads/" in info.path:
            name = info.path[len(paths.REPOS) + 1 :].split("/_uploads/", 1)[0]
            if name not in repos and name not in found:
                found.append(name)
    return found
