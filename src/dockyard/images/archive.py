"""``docker save`` / ``docker load``: docker-archive and OCI image layout, in one archive.

Save writes what dockerd 25+ writes, an archive that is both formats at once (moby
image/tarexport since v25), so ``docker load``, ``skopeo copy docker-archive:`` and ``skopeo
copy oci-archive:`` (and umoci) all read it::

    oci-layout             {"imageLayoutVersion": "1.0.0"}
    index.json             an OCI index: one manifest per image, named by the annotations
                           io.containerd.image.name (full reference) and
                           org.opencontainers.image.ref.name (the tag)
    blobs/sha256/<hex>     layers (uncompressed tar: the blob digest is the diff id), configs
                           byte for byte (the digest is the image id), OCI manifests
    manifest.json          [{"Config": "blobs/sha256/<hex>", "RepoTags": ["busybox:latest"],
                             "Layers": ["blobs/sha256/<diff-hex>", ...]}]   (docker-archive)
    repositories           {"busybox": {"latest": "<top diff hex>"}}      (legacy readers)

Load takes the older docker-archive form (``<hex>.json``, ``<diff-hex>/layer.tar``, as
dockerd < 25 and skopeo's docker-archive write it), compressed layer files (docker load accepts
them) and a plain OCI image layout (oci-layout, index.json, blobs/sha256/...). Archive entries
are checked like layer entries: no absolute names, no ``..``; symlinks (docker save links
duplicate layers) must stay inside.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from dockyard.errors import InvalidArgument, NotFound
from dockyard.images import progress
from dockyard.images.model import Image, Layer
from dockyard.oci import image_config, reference
from dockyard.oci import manifest as oci_manifest
from dockyard.oci import mediatypes as mt
from dockyard.oci import platform as oci_platform
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest, chain_ids, digest_bytes, digest_of
from dockyard.util.tartree import TarStream

if TYPE_CHECKING:
    from dockyard.images.service import ImageService

_CHUNK = 1 << 20


# ------------------------------------------------------------------ save


def _tags_for(svc: ImageService, name: str, image: Image) -> list[str]:
    """The tags a saved image carries: the one named, or every tag of a repository named bare."""
    if image.id.startswith(name) or image.id.partition(":")[2].startswith(name):
        return []
    ref = reference.parse(name, default_tag=False)
    if ref.tag:
        return [ref.familiar()]
    if ref.digest:
        return []
    return [t for t in image.repo_tags if reference.parse(t).repository == ref.repository]


def save(svc: ImageService, names: list[str]) -> Iterator[bytes]:
    if not names:
        raise InvalidArgument("docker save needs at least one image name")
    chosen: dict[str, tuple[Image, list[str]]] = {}
    for name in names:
        image = svc.resolve(name)
        tags = _tags_for(svc, name, image)
        if image.id in chosen:
            chosen[image.id][1].extend(t for t in tags if t not in chosen[image.id][1])
        else:
            chosen[image.id] = (image, tags)
    return _save_stream(svc, list(chosen.values()))


def _save_stream(svc: ImageService, images: list[tuple[Image, list[str]]]) -> Iterator[bytes]:
    ts = TarStream(mtime=0, xattrs=False)
    manifest: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    index_entries: list[dict[str, Any]] = []
    written: set[str] = set()
    yield ts.add_entry(_dir("blobs"))
    yield ts.add_entry(_dir("blobs/sha256"))
    for image, tags in images:
        paths = []
        layer_descs = []
        for layer in image.layers:
            hexpart = layer.diff_id.partition(":")[2]
            name = f"blobs/sha256/{hexpart}"
            paths.append(name)
            size = layer.diff_size if layer.diff_size > 0 else _plain_size(svc, layer)
            layer_descs.append(Descriptor(mt.OCI_LAYER_TAR, layer.diff_id, size))
            if hexpart in written:
                continue
            written.add(hexpart)
            info = _file(name)
            info.size = size
            with svc.layers.open_plain(layer) as f:
                yield from ts.add_file(info, f)
        config_bytes = svc.content.read(image.id)
        config_name = "blobs/sha256/" + image.id.partition(":")[2]
        if image.id.partition(":")[2] not in written:
            written.add(image.id.partition(":")[2])
            yield ts.add_bytes(_file(config_name), config_bytes)
        oci_manifest_bytes = oci_manifest.build_manifest(
            Descriptor(mt.OCI_CONFIG, image.id, len(config_bytes)), layer_descs
        )
        manifest_digest = digest_of(oci_manifest_bytes)
        if manifest_digest.partition(":")[2] not in written:
            written.add(manifest_digest.partition(":")[2])
            yield ts.add_bytes(_file("blobs/sha256/" + manifest_digest.partition(":")[2]), oci_manifest_bytes)
        desc: dict[str, Any] = {
            "mediaType": mt.OCI_MANIFEST,
            "digest": manifest_digest,
            "size": len(oci_manifest_bytes),
        }
        tag_list: list[str | None] = [*tags] if tags else [None]
        for tag in tag_list:
            entry = dict(desc)
            if tag:
                ref = reference.parse(tag)
                entry["annotations"] = {
                    "io.containerd.image.name": str(ref),
                    "org.opencontainers.image.ref.name": ref.tag or reference.DEFAULT_TAG,
                }
            index_entries.append(entry)
        manifest.append({"Config": config_name, "RepoTags": tags or None, "Layers": paths})
        for tag in tags:
            repo, _, t = tag.rpartition(":")
            if image.layers:
                repositories.setdefault(repo, {})[t] = image.layers[-1].diff_id.partition(":")[2]
    index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": index_entries}
    yield ts.add_bytes(_file("index.json"), json.dumps(index).encode())
    yield ts.add_bytes(_file("manifest.json"), json.dumps(manifest).encode())
    yield ts.add_bytes(_file("oci-layout"), b'{"imageLayoutVersion": "1.0.0"}')
    if repositories:
        yield ts.add_bytes(_file("repositories"), json.dumps(repositories).encode())
    yield ts.close()


def _plain_size(svc: ImageService, layer: Layer) -> int:
    """The uncompressed size of a layer whose record lacks it (read once, counted)."""
    n = 0
    with svc.layers.open_plain(layer) as f:
        while chunk := f.read(_CHUNK):
            n += len(chunk)
    return n


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return info


def _dir(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info


# ------------------------------------------------------------------ load


class _Archive:
    """An archive spooled to a temp folder, with its symlinks resolved inside it only."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.links: dict[str, str] = {}

    def _norm(self, name: str) -> str:
        if name.startswith("/"):
            raise InvalidArgument(f"archive entry {name!r} has an absolute path: the archive is malformed")
        parts: list[str] = []
        for p in name.split("/"):
            if p in ("", "."):
                continue
            if p == "..":
                if not parts:
                    raise InvalidArgument(f"archive entry {name!r} climbs out of the archive")
                parts.pop()
                continue
            parts.append(p)
        return "/".join(parts)

    def spool(self, stream: BinaryIO) -> None:
        try:
            with tarfile.open(fileobj=stream, mode="r|*", bufsize=_CHUNK) as tf:
                for m in tf:
                    if ".." in m.name.split("/"):
                        raise InvalidArgument(f"archive entry {m.name!r} has '..' in its path")
                    rel = self._norm(m.name)
                    if not rel:
                        continue
                    path = self.root / rel
                    if m.isdir():
                        path.mkdir(parents=True, exist_ok=True)
                    elif m.isreg():
                        path.parent.mkdir(parents=True, exist_ok=True)
                        src = tf.extractfile(m)
                        assert src is not None
                        with open(path, "wb") as out:
                            shutil.copyfileobj(src, out, _CHUNK)
                    elif m.issym() or m.islnk():
                        base = rel.rpartition("/")[0] if m.issym() else ""
                        target = m.linkname if not base else f"{base}/{m.linkname}"
                        self.links[rel] = self._norm(target)
        except tarfile.TarError as e:
            raise InvalidArgument(f"not a valid image archive: {e}") from None

    def path(self, name: str) -> Path:
        rel = self._norm(name)
        for _ in range(16):
            if rel not in self.links:
                break
            rel = self.links[rel]
        p = self.root / rel
        if not p.is_file():
            raise InvalidArgument(f"image archive lacks {name!r}: the archive is incomplete")
        return p

    def has(self, name: str) -> bool:
        try:
            self.path(name)
        except InvalidArgument:
            return False
        return True

    def read(self, name: str) -> bytes:
        return self.path(name).read_bytes()


def load(svc: ImageService, stream: BinaryIO) -> Iterator[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="load-", dir=svc.data_root / "images"))
    try:
        archive = _Archive(tmp)
        archive.spool(stream)
        if archive.has("manifest.json"):
            yield from _load_docker(svc, archive)
        elif archive.has("index.json"):
            yield from _load_oci(svc, archive)
        else:
            raise InvalidArgument(
                "not an image archive: neither manifest.json (docker save) nor index.json (OCI layout) "
                "found; for a root filesystem tar use `docker import`"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _load_layers(
    svc: ImageService,
    archive: _Archive,
    config: dict[str, Any],
    files: Sequence[tuple[str, str | None, str | None]],
) -> Iterator[dict[str, Any] | list[Layer]]:
    """Layers (archive path, media type, blob digest) checked against the config's diff ids."""
    diff_ids = image_config.diff_ids(config)
    if len(diff_ids) != len(files):
        raise InvalidArgument(
            f"image archive: the config lists {len(diff_ids)} layers but the manifest {len(files)}"
        )
    chains = chain_ids(diff_ids)
    layers: list[Layer] = []
    parent = None
    for (name, media_type, blob), diff_id, chain in zip(files, diff_ids, chains, strict=True):
        short = Digest.parse(diff_id).short
        with open(archive.path(name), "rb") as f:
            total = os.fstat(f.fileno()).st_size
            unpacked = svc.layers.read_layer(
                f, media_type=media_type, expected_blob=blob, expected_diff=diff_id, chain_id=chain
            )
        layer = svc.layers.place(unpacked, parent)
        parent = layer.chain_id
        layers.append(layer)
        yield progress.progress("Loading layer", short, total, total)
    yield layers


def _load_docker(svc: ImageService, archive: _Archive) -> Iterator[dict[str, Any]]:
    try:
        entries = json.loads(archive.read("manifest.json"))
    except json.JSONDecodeError as e:
        raise InvalidArgument(f"image archive: manifest.json is not valid JSON ({e})") from None
    if not isinstance(entries, list):
        raise InvalidArgument("image archive: manifest.json must be a list")
    for entry in entries:
        config_bytes = archive.read(entry["Config"])
        config = image_config.load(config_bytes, entry["Config"])
        layers: list[Layer] = []
        for item in _load_layers(svc, archive, config, [(p, None, None) for p in entry.get("Layers") or []]):
            if isinstance(item, list):
                layers = item
            else:
                yield item
        image_id = svc.register(config, layers, config_bytes=config_bytes)
        yield from _tag_loaded(svc, image_id, entry.get("RepoTags") or [])


def _tag_loaded(svc: ImageService, image_id: str, tags: list[str]) -> Iterator[dict[str, Any]]:
    for tag in tags:
        ref = reference.parse(tag)
        with svc.lock:
            old = svc.db.ref(str(ref))
            svc.set_tag(image_id, ref)
        if old and old != image_id:
            yield {
                "stream": f"The image {ref.familiar()} already exists, renaming the old one with ID "
                f"{old} to empty string\n"
            }
        yield {"stream": f"Loaded image: {ref.familiar()}\n"}
    if not tags:
        yield {"stream": f"Loaded image ID: {image_id}\n"}


def _load_oci(svc: ImageService, archive: _Archive) -> Iterator[dict[str, Any]]:
    index = oci_manifest.parse(archive.read("index.json"), mt.OCI_INDEX, "index.json")
    if not isinstance(index, oci_manifest.Index):
        raise InvalidArgument("OCI layout: index.json is not an image index")
    for desc in index.manifests:
        name = desc.annotations.get("io.containerd.image.name") or desc.annotations.get(
            "org.opencontainers.image.ref.name", ""
        )
        target = oci_manifest.parse(_blob(archive, desc.digest), desc.media_type, desc.digest)
        if isinstance(target, oci_manifest.Index):
            try:
                chosen = target.select(oci_platform.host())
            except NotFound:
                continue
            target = oci_manifest.parse(_blob(archive, chosen.digest), chosen.media_type, chosen.digest)
        if not isinstance(target, oci_manifest.Manifest):
            continue
        config_bytes = _blob(archive, target.config.digest)
        config = image_config.load(config_bytes, target.config.digest)
        files = [(_blob_path(d.digest), d.media_type, d.digest) for d in target.layers]
        layers: list[Layer] = []
        for item in _load_layers(svc, archive, config, files):
            if isinstance(item, list):
                layers = item
            else:
                yield item
        image_id = svc.register(config, layers, config_bytes=config_bytes, manifest=target.raw)
        tags = []
        if name:
            try:
                ref = reference.parse(name)
                tags = [ref.familiar()] if ref.tag else []
            except InvalidArgument:
                tags = []  # a bare tag ("latest") names no repository: the image stays untagged
        yield from _tag_loaded(svc, image_id, tags)


def _blob_path(digest: str) -> str:
    d = Digest.parse(digest)
    return f"blobs/{d.algorithm}/{d.encoded}"


def _blob(archive: _Archive, digest: str) -> bytes:
    data = archive.read(_blob_path(digest))
    if str(digest_bytes(data, Digest.parse(digest).algorithm)) != digest:
        raise InvalidArgument(f"OCI layout: blob {digest} does not match its digest: the archive is corrupt")
    return data
