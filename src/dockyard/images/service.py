"""``ImageService``: the image side of the daemon (docs/engine-internals.md draws its API).

It owns three stores under the data root and keeps them consistent:

    content/    blobs: configs, manifests, layer blobs            (dockyard.content)
    overlay/    unpacked layers and containers' upper folders     (dockyard.snapshots)
    images/     images.db: images, their layers, references       (images.store)

The verbs live in their own modules (inspect, delete, archive, local, pull, push); this class
resolves names and ties the stores together.
"""

from __future__ import annotations

import builtins
import itertools
import logging
import re
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

from dockyard.content.store import ContentStore
from dockyard.distribution.tokens import TokenCache
from dockyard.errors import InvalidArgument, NotFound
from dockyard.images import inspect as inspect_mod
from dockyard.images import options as image_options
from dockyard.images.downloads import SharedDownloads
from dockyard.images.layers import LayerStore
from dockyard.images.model import Image, Layer
from dockyard.images.store import ImageDB
from dockyard.oci import image_config, reference
from dockyard.oci import mediatypes as mt
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import digest_of
from dockyard.oci.manifest import build_manifest
from dockyard.snapshots import diff as snapdiff
from dockyard.snapshots import mount as snapmount
from dockyard.snapshots.overlay import OverlaySnapshotter

_HEX = re.compile(r"[a-f0-9]{1,64}")

log = logging.getLogger("dockyard.images")

#: ``in_use(image_id)``: truthy when a container uses the image; a string is that container's id
#: (named in Docker's conflict messages).
InUse = Callable[[str], "str | bool | None"]

#: Registries never contacted: pulling from them needs the internet, which this host lacks.
OFFLINE_DOMAINS = frozenset({reference.DEFAULT_DOMAIN})


class ImageService:
    def __init__(
        self,
        data_root: Path,
        *,
        offline_domains: frozenset[str] = OFFLINE_DOMAINS,
        options: image_options.ImageOptions | None = None,
    ) -> None:
        self.data_root = Path(data_root)
        self.options = options or image_options.build(offline_domains=offline_domains)
        self.content = ContentStore(self.data_root / "content")
        self.snapshots = OverlaySnapshotter(self.data_root / "overlay")
        self.db = ImageDB(self.data_root / "images" / "images.db")
        self.layers = LayerStore(
            self.content, self.snapshots, self.options.limits, sync=self.options.sync_layers
        )
        self.offline_domains = self.options.registry.offline_domains | offline_domains
        self.lock = threading.RLock()  # one writer at a time for tag/remove/prune/register
        self.tokens = TokenCache()  # Bearer tokens, shared by pulls and pushes
        self.downloads = SharedDownloads()
        self._pull_ids = itertools.count()
        self._pulls: dict[int, float] = {}  # running pulls -> start time (gc.py leaves their content)
        # Unpacks a crash (daemon SIGKILL) interrupted: never referenced, the pull starts them again.
        for leftover in self.snapshots.leftovers():
            shutil.rmtree(leftover, ignore_errors=True)
        self.content.drop_transient()
        # Called with a layer's chain id ("sha256:...") after its folder is removed (image rm,
        # prune, check --repair): the engine drops what it derived from it (remapped copies).
        self.layer_removed: builtins.list[Callable[[str], None]] = []

    @property
    def push_chunk_size(self) -> int | None:
        """None: each blob in one PUT; a number: PATCH chunks of that many bytes, then PUT."""
        return self.options.push_chunk_size

    @push_chunk_size.setter
    def push_chunk_size(self, value: int | None) -> None:
        self.options.push_chunk_size = value

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ lookup

    def resolve(self, name: str) -> Image:
        image_id = self.resolve_id(name)
        if image_id is None:
            raise NotFound(f"No such image: {self._display(name)}")
        return self.get(image_id)

    def resolve_id(self, name: str) -> str | None:
        if not name:
            return None
        if name.startswith("sha256:"):
            return self._by_prefix(name[len("sha256:") :])
        try:
            ref = reference.parse(name)
        except InvalidArgument:
            ref = None
        if ref is not None:
            found = self.db.ref(str(ref))
            if found is None and ref.digest:
                found = self._by_digest(ref)
            if found is not None:
                return found
        if _HEX.fullmatch(name):
            return self._by_prefix(name)
        if ref is None:
            reference.parse(name)  # raise the parse error: a name that is not an id either
        return None

    def _by_prefix(self, hex_prefix: str) -> str | None:
        if not _HEX.fullmatch(hex_prefix):
            return None
        ids = self.db.ids_with_prefix(hex_prefix)
        if len(ids) > 1:
            raise InvalidArgument(
                f"image id prefix {hex_prefix!r} is ambiguous ({len(ids)} images): give more characters"
            )
        return ids[0] if ids else None

    def _by_digest(self, ref: reference.Reference) -> str | None:
        # name@digest where the digest is the image's manifest (or its id): match within the repo.
        for name, _kind, image_id in self.db.all_refs():
            if name.startswith(ref.repository + ":") or name.startswith(ref.repository + "@"):
                row = self.db.image_row(image_id)
                if row is not None and ref.digest in (row["manifest"], image_id):
                    return image_id
        return None

    @staticmethod
    def _display(name: str) -> str:
        try:
            ref = reference.parse(name)
        except InvalidArgument:
            return name
        return name if _HEX.fullmatch(name) else ref.familiar()

    def get(self, image_id: str) -> Image:
        row = self.db.image_row(image_id)
        if row is None:
            raise NotFound(f"No such image: {image_id}")
        config = image_config.load(self.content.read(image_id), f"config of {image_id}")
        tags: builtins.list[str] = []
        digests: builtins.list[str] = []
        for name, kind in self.db.refs_of(image_id):
            (tags if kind == "tag" else digests).append(reference.familiar(name))
        return Image(
            id=image_id,
            repo_tags=tags,
            repo_digests=digests,
            config=config,
            created=row["created"] or str(config.get("created") or ""),
            size=row["size"],
            parent=row["parent"],
            manifest=row["manifest"],
            last_tag_time=row["last_tag_time"],
            layers=self.db.layers(image_id),
        )

    def images(self) -> builtins.list[Image]:
        return [self.get(i) for i in self.db.image_ids()]

    def list(
        self, all: bool = False, filters: dict[str, builtins.list[str]] | None = None
    ) -> builtins.list[Image]:
        return inspect_mod.filter_images(self, all, filters or {})

    def inspect(self, name: str) -> dict[str, Any]:
        return inspect_mod.image_inspect(self, self.resolve(name))

    def summary(self, image: Image) -> dict[str, Any]:
        return inspect_mod.image_summary(self, image)

    def df(self, containers_by_image: dict[str, int]) -> tuple[int, builtins.list[dict[str, Any]]]:
        """(LayersSize, image summaries) for /system/df.

        LayersSize is the disk the image store takes, as ``du`` counts it: blobs (compressed
        layers, configs, manifests), unpacked layer folders, partial downloads and images.db;
        containers' writable layers are the engine's share (their SizeRw). So LayersSize plus
        the containers' and volumes' sizes is the data root's ``du``. An image's Size is its
        unpacked layers (Docker's); SharedSize the part of it another image also uses, each
        shared layer stored once (dedup by chain id), as ``system df -v`` shows.
        """
        from dockyard.images.gc import disk_usage

        images = self.images()
        users: dict[str, int] = {}
        for img in images:
            for la in {la.chain_id: la for la in img.layers}.values():
                users[la.chain_id] = users.get(la.chain_id, 0) + 1
        out = []
        for img in images:
            summary = inspect_mod.image_summary(self, img)
            summary["SharedSize"] = sum(la.size for la in img.layers if users[la.chain_id] > 1)
            summary["Containers"] = containers_by_image.get(img.id, 0)
            out.append(summary)
        overlay = self.snapshots.root
        used = (
            disk_usage(self.content.root)
            + disk_usage(overlay)
            - disk_usage(overlay / "containers")
            + disk_usage(self.data_root / "images")
        )
        return used, out

    def history(self, name: str) -> builtins.list[dict[str, Any]]:
        return inspect_mod.history(self, self.resolve(name))

    # ------------------------------------------------------------------ registering images

    def register(
        self,
        config: dict[str, Any],
        layers: builtins.list[Layer],
        *,
        parent: str = "",
        manifest: bytes | None = None,
        config_bytes: bytes | None = None,
    ) -> str:
        """Store ``config`` (and a manifest, built when none is given); returns the image id."""
        data = config_bytes if config_bytes is not None else image_config.encode(config)
        sync = self.options.sync_layers  # as for layer blobs (layers.py): one journal commit less
        image_id = self.content.put(data, sync=sync)
        if manifest is None:
            manifest = build_manifest(
                Descriptor(mt.OCI_CONFIG, image_id, len(data)),
                [Descriptor(la.media_type, la.blob, la.blob_size) for la in layers],
            )
        manifest_digest = self.content.put(manifest, digest_of(manifest), sync=sync)
        with self.lock:
            self.db.add_image(
                image_id,
                manifest=manifest_digest,
                created=str(config.get("created") or ""),
                size=sum(la.size for la in layers),
                parent=parent,
                layers=layers,
            )
        return image_id

    def add_layer(self, chunks: Iterator[bytes], parent_chain: str | None) -> Layer:
        """A local layer from the chunks of a plain tar (builds): stored, unpacked on
        ``parent_chain`` and placed; not yet part of any image (``register`` does that)."""
        from dockyard.images.local import ChunkReader

        return self.layers.add(cast(BinaryIO, ChunkReader(chunks)), parent_chain, media_type=mt.OCI_LAYER_TAR)

    def set_tag(self, image_id: str, ref: reference.Reference) -> None:
        kind = "digest" if ref.digest and not ref.tag else "tag"
        self.db.set_ref(str(ref), image_id, kind, image_config.now_rfc3339())

    def tag(self, name: str, repo: str, tag: str | None) -> None:
        image = self.resolve(name)
        target = reference.parse(repo, default_tag=False)
        if target.digest:
            raise InvalidArgument(f"refusing to create a tag with a digest reference: {repo!r}")
        if tag:
            if target.tag:
                raise InvalidArgument(f"invalid reference format: {repo}:{tag} has two tags")
            target = target.with_tag(tag)
        elif not target.tag:
            target = target.with_tag(reference.DEFAULT_TAG)
        with self.lock:
            self.set_tag(image.id, target)

    # ------------------------------------------------------------------ remove and prune

    def remove_layer(self, chain_id: str) -> None:
        """Delete one unpacked layer, then tell ``layer_removed``; idempotent."""
        self.snapshots.remove(chain_id)
        for hook in self.layer_removed:
            try:
                hook(chain_id)
            except Exception:  # what others derived is theirs to fail on: the layer is gone
                log.exception("layer-removed hook %r failed for %s", hook, chain_id)

    def remove(self, name: str, force: bool, noprune: bool, in_use: InUse) -> builtins.list[dict[str, Any]]:
        from dockyard.images import delete

        with self.lock:
            return delete.remove(self, name, force=force, noprune=noprune, in_use=in_use)

    def prune(
        self, dangling_only: bool, filters: dict[str, builtins.list[str]] | None, in_use: InUse
    ) -> dict[str, Any]:
        from dockyard.images import delete

        with self.lock:
            return delete.prune(self, dangling_only, filters or {}, in_use)

    def pulls_running_since(self) -> float | None:
        return min(self._pulls.values()) if self._pulls else None

    def pull_started(self) -> int:
        token = next(self._pull_ids)
        self._pulls[token] = time.time()
        return token

    def pull_ended(self, token: int) -> None:
        self._pulls.pop(token, None)

    def collect_garbage(self) -> dict[str, Any]:
        """Remove blobs and layers nothing references (after ``image prune``)."""
        from dockyard.images import gc

        with self.lock:
            got = gc.collect(self)
        return {
            "Blobs": got.blobs,
            "Layers": got.layers,
            "Ingests": got.ingests,
            "SpaceReclaimed": got.reclaimed,
        }

    def check(self, repair: bool = False) -> dict[str, Any]:
        from dockyard.images import check

        return check.check(self, repair)

    def bootstrap_busybox(self) -> str:
        from dockyard.images import local

        return local.bootstrap_busybox(self)

    # ------------------------------------------------------------------ containers' root filesystems

    def prepare_rootfs(self, container_id: str, image_id: str | None, target: Path) -> None:
        """Create the container's writable layer on the image and mount the stack at ``target``."""
        chain = self.resolve(image_id).top_chain if image_id else None
        m = self.snapshots.prepare(container_id, chain)
        Path(target).mkdir(parents=True, exist_ok=True)
        if not snapmount.is_mounted(str(target)):
            snapmount.mount_overlay(m, str(target))

    def unmount_rootfs(self, container_id: str, target: Path) -> None:
        snapmount.unmount(str(target))

    def remove_rootfs(self, container_id: str) -> None:
        self.snapshots.remove_container(container_id)

    def changes(self, container_id: str) -> builtins.list[dict[str, Any]]:
        m = self.snapshots.mount_of(container_id)
        return snapdiff.changes(self.snapshots.upper_dir(container_id), m.lower_paths())

    def rw_size(self, container_id: str) -> int:
        return snapdiff.dir_size(self.snapshots.upper_dir(container_id))

    def export(self, container_id: str, target: Path) -> Iterator[bytes]:
        from dockyard.images import local

        return local.export(self, container_id, Path(target))

    def commit(
        self,
        container_id: str,
        image_id: str | None,
        config: dict[str, Any],
        *,
        comment: str,
        author: str,
        changes: builtins.list[str],
        repo: str | None,
        tag: str | None,
    ) -> str:
        from dockyard.images import local

        return local.commit(
            self,
            container_id,
            image_id,
            config,
            comment=comment,
            author=author,
            changes=changes,
            repo=repo,
            tag=tag,
        )

    def import_tar(
        self,
        stream: BinaryIO,
        repo: str | None,
        tag: str | None,
        changes: builtins.list[str],
        *,
        message: str = "",
    ) -> str:
        from dockyard.images import local

        return local.import_tar(self, stream, repo, tag, changes, message=message)

    # ------------------------------------------------------------------ archives and registries

    def save(self, names: builtins.list[str]) -> Iterator[bytes]:
        from dockyard.images import archive

        return archive.save(self, names)

    def load(self, stream: BinaryIO) -> Iterator[dict[str, Any]]:
        from dockyard.images import archive

        return archive.load(self, stream)

    def pull(
        self, ref: str, auth: dict[str, Any] | None, platform: str | None, *, all_tags: bool = False
    ) -> AsyncIterator[dict[str, Any]]:
        from dockyard.images import pull

        return pull.pull(self, ref, auth, platform, all_tags=all_tags)

    async def login(self, server_address: str, username: str, password: str) -> tuple[str, str]:
        from dockyard.images import login

        return await login.login(
            server_address, username, password, offline_domains=self.offline_domains, svc=self
        )

    def push(
        self, ref: str, auth: dict[str, Any] | None, *, all_tags: bool = False
    ) -> AsyncIterator[dict[str, Any]]:
        from dockyard.images import push

        return push.push(self, ref, auth, all_tags=all_tags)
