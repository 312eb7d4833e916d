"""``dockyard system check [--repair]``: the image store checked against itself.

    blobs      every blob re-hashed; its digest must be its name
    layers     every layer folder: its chain id must follow from its parent's and its recorded
               diff id (image-spec config.md "ChainID"), and the folder must still have the
               tree digest recorded when it was unpacked (snapshots/tree.py); its short link
               must point at it
    images     every image's config, manifest and layer blobs present, every layer unpacked
    leftovers  unpacks a crash interrupted, links to removed layers

With ``repair``: corrupt blobs and layer folders are removed, then the images that needed them
(their tags go too: pull them again), then whatever nothing uses any more (gc.collect). Layers a
container's writable layer sits on are reported but never removed under it. Partial downloads
are not problems: a pull resumes them (their count is reported).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.images import gc
from dockyard.oci.digest import Digest, chain_ids
from dockyard.snapshots.tree import tree_digest

if TYPE_CHECKING:
    from dockyard.images.service import ImageService

_CHUNK = 1 << 20


@dataclass
class Report:
    blobs: int = 0
    layers: int = 0
    images: int = 0
    ingests: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    def problem(self, kind: str, ident: str, text: str) -> None:
        self.problems.append({"Kind": kind, "ID": ident, "Problem": text})

    def to_json(self) -> dict[str, Any]:
        return {
            "Blobs": self.blobs,
            "Layers": self.layers,
            "Images": self.images,
            "Ingests": self.ingests,
            "Problems": self.problems,
            "Repaired": self.repaired,
            "Clean": not self.problems,
        }


def _blob_ok(path: str, digest: str) -> bool:
    want = Digest.parse(digest)
    h = hashlib.new(want.algorithm)
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest() == want.encoded


def check(svc: ImageService, repair: bool = False) -> dict[str, Any]:
    report = Report()
    bad_blobs: set[str] = set()
    bad_chains: set[str] = set()
    for info in list(svc.content.list()):
        report.blobs += 1
        try:
            ok = _blob_ok(str(svc.content.path(info.digest)), info.digest)
        except ValueError:
            ok = False
        if not ok:
            bad_blobs.add(info.digest)
            report.problem("blob", info.digest, "content does not match its digest (corrupt)")
    for leftover in svc.snapshots.leftovers():
        report.problem("leftover", str(leftover), "an unpack a crash interrupted")
        if repair:
            shutil.rmtree(leftover, ignore_errors=True)
            report.repaired.append(f"removed {leftover}")
    for link in svc.snapshots.dangling_links():
        report.problem("link", link.name, "short link to a layer that is gone")
        if repair:
            link.unlink(missing_ok=True)
            report.repaired.append(f"removed link l/{link.name}")
    for chain in sorted(svc.snapshots.layers()):
        report.layers += 1
        problem = _layer_problem(svc, chain)
        if problem:
            bad_chains.add(chain)
            report.problem("layer", chain, problem)
    known_blobs = {i.digest for i in svc.content.list()}
    chains = set(svc.snapshots.layers())
    broken_images: dict[str, str] = {}
    for image_id in svc.db.image_ids():
        report.images += 1
        row = svc.db.image_row(image_id)
        needed = {image_id: "config"}
        if row is not None and row["manifest"]:
            needed[row["manifest"]] = "manifest"
        layers = svc.db.layers(image_id)
        for la in layers:
            needed[la.blob] = "layer blob"
        for digest, what in needed.items():
            if digest in bad_blobs or digest not in known_blobs:
                broken_images[image_id] = (
                    f"its {what} {digest} is {'corrupt' if digest in bad_blobs else 'missing'}"
                )
        for la in layers:
            if la.chain_id in bad_chains or la.chain_id not in chains:
                state = "corrupt" if la.chain_id in bad_chains else "missing"
                broken_images[image_id] = f"its layer {la.chain_id} is {state}"
    for image_id, text in broken_images.items():
        report.problem("image", image_id, text)
    report.ingests = len(svc.content.ingests())
    if repair and (bad_blobs or bad_chains or broken_images):
        _repair(svc, report, bad_blobs, bad_chains, set(broken_images))
    return report.to_json()


def _layer_problem(svc: ImageService, chain: str) -> str:
    diff_id, tree = svc.snapshots.record(chain)
    if not diff_id:
        return ""  # unpacked before records were kept: nothing to compare against
    parent = svc.snapshots.parent(chain)
    want = chain_ids([parent, diff_id])[1] if parent else diff_id
    if want != chain:
        return f"recorded diff id {diff_id} on parent {parent or '(none)'} gives chain {want}, not its name"
    folder = svc.snapshots.diff_dir(chain)
    if not folder.is_dir():
        return "its diff folder is missing"
    link = svc.snapshots.root / "l" / svc.snapshots._link_name(chain)
    if not link.is_symlink() or os.path.realpath(link) != os.path.realpath(folder):
        return "its short link is missing or points elsewhere"
    if tree and tree_digest(str(folder)) != tree:
        return "its files differ from what was unpacked (changed, added or removed)"
    return ""


def _repair(
    svc: ImageService, report: Report, bad_blobs: set[str], bad_chains: set[str], broken: set[str]
) -> None:
    from dockyard.images.delete import delete_image

    containers = svc.snapshots.in_use_by_containers()
    with svc.lock:
        for image_id in sorted(broken):
            for name, _kind in svc.db.refs_of(image_id):
                svc.db.delete_ref(name)
            delete_image(svc, image_id)
            report.repaired.append(f"removed image {image_id}")
        for digest in sorted(bad_blobs):
            svc.content.delete(digest)
            report.repaired.append(f"removed blob {digest}")
        for chain in sorted(bad_chains):
            if chain in containers:
                report.repaired.append(f"kept layer {chain}: a container uses it")
                continue
            svc.remove_layer(chain)
            report.repaired.append(f"removed layer {chain}")
    collected = gc.collect(svc)
    report.repaired += [f"removed unused blob {b}" for b in collected.blobs]
    report.repaired += [f"removed unused layer {c}" for c in collected.layers]
