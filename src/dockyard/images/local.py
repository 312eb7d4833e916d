"""Images made on this host: the bootstrap busybox, ``commit``, ``import``; and ``export``.

Local layers are stored as plain tars (media type ``application/vnd.oci.image.layer.v1.tar``):
the blob digest is the diff id, nothing is compressed twice, and registries take them as is.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from dockyard.errors import InvalidArgument
from dockyard.oci import changes as oci_changes
from dockyard.oci import image_config, reference
from dockyard.oci import mediatypes as mt
from dockyard.oci import platform as oci_platform
from dockyard.snapshots import diff as snapdiff
from dockyard.snapshots import mount as snapmount
from dockyard.util import busybox
from dockyard.util.tartree import tar_tree

if TYPE_CHECKING:
    from dockyard.images.service import ImageService

BUSYBOX_REF = "busybox:latest"
#: The bootstrap image's layer timestamps: fixed, so the same busybox bytes give the same layer.
EPOCH = "1970-01-01T00:00:00Z"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ChunkReader:
    """A file-like reader over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._it = chunks
        self._buf = b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            try:
                self._buf += next(self._it)
            except StopIteration:
                break
        if n < 0:
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:n], self._buf[n:]
        return data


def _tag(svc: ImageService, image_id: str, repo: str | None, tag: str | None) -> None:
    if not repo:
        if tag:
            raise InvalidArgument(f"tag {tag!r} given without a repository: give REPOSITORY[:TAG]")
        return
    ref = reference.parse(repo, default_tag=False)
    if ref.digest:
        raise InvalidArgument(f"refusing to create a tag with a digest reference: {repo!r}")
    if tag:
        ref = ref.with_tag(tag)
    elif not ref.tag:
        ref = ref.with_tag(reference.DEFAULT_TAG)
    svc.set_tag(image_id, ref)


def bootstrap_busybox(svc: ImageService) -> str:
    """``busybox:latest`` from the host's busybox-static: one layer, deterministic bytes."""
    tmp = Path(tempfile.mkdtemp(prefix="bootstrap-", dir=svc.snapshots.root / "tmp"))
    try:
        rootfs = tmp / "rootfs"
        busybox.make_rootfs(str(rootfs))
        layer = svc.layers.add(
            cast(BinaryIO, ChunkReader(tar_tree(str(rootfs), mtime=0))), None, media_type=mt.OCI_LAYER_TAR
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # The image's date is the busybox binary's (the Debian package's build time, as dpkg set
    # it): the same package gives the same image id, and `images` does not say "56 years ago".
    created = _rfc3339(os.stat(busybox.find_busybox()).st_mtime)
    host = oci_platform.host()
    config: dict[str, Any] = {
        "architecture": host.architecture,
        "os": "linux",
        "config": {"Env": [DEFAULT_PATH], "Cmd": ["sh"]},
        "created": created,
        "history": [{"created": created, "created_by": "dockyard image bootstrap (busybox-static)"}],
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]},
    }
    if host.variant:
        config["variant"] = host.variant
    image_id = svc.register(config, [layer])
    with svc.lock:
        svc.set_tag(image_id, reference.parse(BUSYBOX_REF))
    return image_id


def _rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(seconds)))


def commit(
    svc: ImageService,
    container_id: str,
    image_id: str | None,
    config: dict[str, Any],
    *,
    comment: str,
    author: str,
    changes: list[str],
    repo: str | None,
    tag: str | None,
) -> str:
    """A new image: the container's image plus one layer holding the container's changes."""
    base = svc.get(svc.resolve(image_id).id) if image_id else None
    upper = svc.snapshots.upper_dir(container_id)
    if not upper.exists():
        raise InvalidArgument(f"container {container_id} has no writable layer to commit")
    parent_chain = base.top_chain if base else None
    layer = svc.layers.add(
        cast(BinaryIO, ChunkReader(snapdiff.layer_tar(upper))), parent_chain, media_type=mt.OCI_LAYER_TAR
    )
    cfg = oci_changes.apply(config, changes)
    created = image_config.now_rfc3339()
    new = image_config.new_config(
        parent=base.config if base else None,
        diff_id=layer.diff_id,
        container_config=cfg,
        created=created,
        created_by=" ".join(config.get("Cmd") or []),
        comment=comment,
        author=author,
        container=container_id,
    )
    new["container_config"] = config
    layers = [*(base.layers if base else []), layer]
    new_id = svc.register(new, layers, parent=base.id if base else "")
    with svc.lock:
        _tag(svc, new_id, repo, tag)
    return new_id


def import_tar(
    svc: ImageService,
    stream: BinaryIO,
    repo: str | None,
    tag: str | None,
    changes: list[str],
    *,
    message: str = "",
) -> str:
    """``docker import``: a root filesystem tar (plain, gzip or zstd) as a one-layer image."""
    layer = svc.layers.add(stream, None)
    created = image_config.now_rfc3339()
    host = oci_platform.host()
    config = image_config.new_config(
        parent=None,
        diff_id=layer.diff_id,
        container_config=oci_changes.apply({}, changes),
        created=created,
        created_by="",
        comment=message or "Imported from -",
        architecture=host.architecture,
    )
    image_id = svc.register(config, [layer])
    with svc.lock:
        _tag(svc, image_id, repo, tag)
    return image_id


def export(svc: ImageService, container_id: str, target: Path) -> Iterator[bytes]:
    """The container's root filesystem as a tar; mounted for the duration if it is not mounted."""
    mounted_here = False
    if not snapmount.is_mounted(str(target)):
        m = svc.snapshots.mount_of(container_id)
        target.mkdir(parents=True, exist_ok=True)
        snapmount.mount_overlay(m, str(target))
        mounted_here = True
    try:
        yield from tar_tree(str(target))
    finally:
        if mounted_here:
            snapmount.unmount(str(target))
