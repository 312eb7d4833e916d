"""``docker rmi`` and ``docker image prune``, with Docker's rules and conflict messages
(moby daemon/images/image_delete.go, image_prune.go).

Removing by reference untags it; the image itself goes when no reference is left. Removing by
id untags every reference when they are all in one repository. Conflicts: dependent child
images (cannot be forced), a container using the image (must be forced), references in several
repositories when removing by id (must be forced). Layers and blobs no other image (and no
container) uses are deleted with the image; untagged parents are pruned unless ``noprune``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dockyard.errors import Conflict, NotFound
from dockyard.images import gc
from dockyard.images.inspect import _label_match, _until, parse_time
from dockyard.oci import reference

if TYPE_CHECKING:
    from dockyard.images.service import ImageService, InUse


def _short(image_or_container_id: str) -> str:
    return (
        image_or_container_id.partition(":")[2][:12]
        if ":" in image_or_container_id
        else image_or_container_id[:12]
    )


def _user(in_use: InUse, image_id: str) -> str | None:
    got = in_use(image_id)
    if not got:
        return None
    return got if isinstance(got, str) else "(unknown)"


def _single_reference(refs: list[tuple[str, str]]) -> bool:
    """At most one tag, and every reference in one repository."""
    tags = [n for n, k in refs if k == "tag"]
    repos = {_repo_of(n) for n, _ in refs}
    return len(tags) <= 1 and len(repos) <= 1


def _repo_of(name: str) -> str:
    return reference.parse(name, default_tag=False).repository


def remove(
    svc: ImageService, name: str, *, force: bool, noprune: bool, in_use: InUse
) -> list[dict[str, Any]]:
    image_id = svc.resolve_id(name)
    if image_id is None:
        raise NotFound(f"No such image: {svc._display(name)}")
    hexpart = image_id.partition(":")[2]
    by_id = image_id.startswith(name) or hexpart.startswith(name)
    records: list[dict[str, Any]] = []
    refs = svc.db.refs_of(image_id)
    quiet = False
    if not by_id:
        ref = reference.parse(name)
        if not force and _single_reference(refs):
            user = _user(in_use, image_id)
            if user:
                raise Conflict(
                    f'conflict: unable to remove repository reference "{name}" (must force) - container '
                    f"{_short(user)} is using its referenced image {_short(image_id)}"
                )
        full = str(ref)
        if svc.db.ref(full) != image_id:
            # name@digest matched through the manifest digest: untag every digest ref of that repo.
            full = next((n for n, _k in refs if _repo_of(n) == ref.repository), full)
        svc.db.delete_ref(full)
        records.append({"Untagged": reference.familiar(full)})
        refs = svc.db.refs_of(image_id)
        if ref.tag and not ref.digest:
            # The last tag of a repository takes the repository's digest references with it.
            same_repo = [(n, k) for n, k in refs if _repo_of(n) == ref.repository]
            if not any(k == "tag" for _n, k in same_repo):
                for n, _k in same_repo:
                    svc.db.delete_ref(n)
                    records.append({"Untagged": reference.familiar(n)})
                refs = svc.db.refs_of(image_id)
        if refs:
            return records
        quiet = True
    elif _single_reference(refs):
        conflict = _conflict(svc, image_id, hard=True, soft=not force, active=False, in_use=in_use)
        if conflict:
            raise Conflict(conflict)
        for n, _k in refs:
            svc.db.delete_ref(n)
            records.append({"Untagged": reference.familiar(n)})
    _delete_helper(svc, image_id, records, force=force, prune=not noprune, quiet=quiet, in_use=in_use)
    return records


def _conflict(
    svc: ImageService, image_id: str, *, hard: bool, soft: bool, active: bool, in_use: InUse
) -> str | None:
    short = _short(image_id)
    if hard and svc.db.children(image_id):
        return f"conflict: unable to delete {short} (cannot be forced) - image has dependent child images"
    if soft:
        user = _user(in_use, image_id)
        if user:
            return (
                f"conflict: unable to delete {short} (must be forced) - image is being used by stopped "
                f"container {_short(user)}"
            )
        if active and len({_repo_of(n) for n, _ in svc.db.refs_of(image_id)}) > 1:
            return (
                f"conflict: unable to delete {short} (must be forced) - image is referenced in multiple "
                "repositories"
            )
    return None


def _delete_helper(
    svc: ImageService,
    image_id: str,
    records: list[dict[str, Any]],
    *,
    force: bool,
    prune: bool,
    quiet: bool,
    in_use: InUse,
) -> None:
    conflict = _conflict(svc, image_id, hard=True, soft=not force, active=True, in_use=in_use)
    if conflict:
        if quiet:
            return  # a parent being pruned, or an untag that leaves the image to its users
        raise Conflict(conflict)
    row = svc.db.image_row(image_id)
    if row is None:
        return
    parent = row["parent"]
    for n, _k in svc.db.refs_of(image_id):
        svc.db.delete_ref(n)
        records.append({"Untagged": reference.familiar(n)})
    records.extend(delete_image(svc, image_id))
    if prune and parent and svc.db.image_row(parent) is not None and not svc.db.refs_of(parent):
        _delete_helper(svc, parent, records, force=False, prune=True, quiet=True, in_use=in_use)


def delete_image(svc: ImageService, image_id: str) -> list[dict[str, Any]]:
    """Drop the image row, then every layer and blob nothing else uses; Docker's records."""
    row = svc.db.image_row(image_id)
    layers = svc.db.layers(image_id)
    svc.db.delete_image(image_id)
    records: list[dict[str, Any]] = [{"Deleted": image_id}]
    used_chains = svc.db.used_chains() | svc.snapshots.in_use_by_containers()
    for layer in reversed(layers):
        if layer.chain_id not in used_chains and svc.snapshots.has(layer.chain_id):
            svc.remove_layer(layer.chain_id)
            records.append({"Deleted": layer.chain_id})
    used_blobs = svc.db.used_blobs()
    blobs = {image_id, *(la.blob for la in layers)}
    if row is not None and row["manifest"]:
        blobs.add(row["manifest"])
    for blob in blobs - used_blobs:
        svc.content.delete(blob)
    return records


def prune(
    svc: ImageService, dangling_only: bool, filters: dict[str, list[str]], in_use: InUse
) -> dict[str, Any]:
    if "dangling" in filters:
        dangling_only = filters["dangling"][-1].lower() in ("true", "1")
    deleted: list[dict[str, Any]] = []
    reclaimed = 0
    sizes = {}
    for img in svc.images():
        for la in img.layers:
            sizes[la.chain_id] = la.size
    for img in sorted(svc.images(), key=lambda i: parse_time(i.created), reverse=True):
        if svc.db.image_row(img.id) is None or svc.db.children(img.id):
            continue
        if dangling_only and img.repo_tags:
            continue
        if in_use(img.id):
            continue
        created = parse_time(img.created)
        if "until" in filters and not any(created < _until(u) for u in filters["until"]):
            continue
        if not all(_label_match(img.labels, f) for f in filters.get("label", [])):
            continue
        if not all(not _label_match(img.labels, f) for f in filters.get("label!", [])):
            continue
        try:
            records = remove(
                svc, img.id, force=bool(img.repo_tags or img.repo_digests), noprune=False, in_use=in_use
            )
        except (Conflict, NotFound):
            continue  # Docker skips images it cannot delete and goes on
        deleted.extend(records)
    for rec in deleted:
        if "Deleted" in rec and rec["Deleted"] in sizes:
            reclaimed += sizes[rec["Deleted"]]
    # Blobs and layers left unreferenced by earlier removals, interrupted pulls or crashes.
    reclaimed += gc.collect(svc).reclaimed
    return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}
