"""The overlay snapshotter: where layers and containers' writable layers live on disk.

    <root> = <data-root>/overlay
      <chain-hex>/diff          the layer's files (whiteouts in overlayfs's form)
      <chain-hex>/link          its short name, NAME, with l/NAME -> ../<chain-hex>/diff
      <chain-hex>/lower         the short names of the layers below it, "l/A:l/B" (top first)
      <chain-hex>/size          bytes of regular files in diff
      <chain-hex>/diff_id       the layer's diff id; tree: tree.tree_digest of diff at unpack
                                (what `system check` compares the folder against)
      l/<26 chars>              short links: 100+ lowerdirs fit in one page of mount options
      empty/                    the lower folder of an image with no layers (scratch)
      containers/<cid>/{upper,work}
      tmp/                      layers being unpacked (renamed into place when complete)

A layer folder exists under its chain-hex only when complete: unpacking happens in tmp/ and the
folder is renamed into place (containerd's "active snapshot, then commit"). The snapshotter
never mounts: :meth:`prepare` returns an :class:`OverlayMount` and ``mount.py`` mounts it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import string
from dataclasses import dataclass
from pathlib import Path

from dockyard.errors import InvalidArgument, NotFound
from dockyard.oci.digest import Digest
from dockyard.util.atomic import fsync_dir, write_atomic

_LINK_ALPHABET = string.ascii_uppercase + string.digits
_LINK_LEN = 26


@dataclass(frozen=True)
class OverlayMount:
    """What to mount: paths relative to ``workdir_base`` keep the option string short."""

    base: Path  # the overlay root; lowers/upper/work are relative to it
    lowers: tuple[str, ...]  # "l/NAME", topmost first
    upper: str | None  # None: a read-only stack of lowers
    work: str | None

    def lower_paths(self) -> list[Path]:
        return [self.base / lower for lower in self.lowers]


class OverlaySnapshotter:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        for sub in ("l", "containers", "tmp", "empty"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ layers

    def layer_dir(self, chain_id: str) -> Path:
        return self.root / Digest.parse(chain_id).encoded

    def has(self, chain_id: str) -> bool:
        return (self.layer_dir(chain_id) / "link").exists()

    def diff_dir(self, chain_id: str) -> Path:
        return self.layer_dir(chain_id) / "diff"

    def size(self, chain_id: str) -> int:
        try:
            return int((self.layer_dir(chain_id) / "size").read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def begin(self, chain_id: str) -> Path:
        """A fresh folder to unpack a layer into: ``tmp/<hex>-<random>/diff``."""
        work = self.root / "tmp" / f"{Digest.parse(chain_id).encoded}-{secrets.token_hex(4)}"
        (work / "diff").mkdir(parents=True)
        os.chmod(work / "diff", 0o755)
        return work / "diff"

    def commit(
        self,
        chain_id: str,
        parent: str | None,
        unpacked: Path,
        size: int,
        *,
        diff_id: str = "",
        tree: str = "",
        sync: bool = True,
    ) -> None:
        """Move a layer unpacked by :meth:`begin` into place under ``chain_id``.

        When another pull committed the same chain meanwhile, this copy is dropped.
        """
        work = unpacked.parent
        if self.has(chain_id):
            shutil.rmtree(work, ignore_errors=True)
            return
        if parent is not None and not self.has(parent):
            shutil.rmtree(work, ignore_errors=True)
            raise NotFound(f"parent layer {parent} of {chain_id} is not unpacked: unpack the layers in order")
        name = "".join(secrets.choice(_LINK_ALPHABET) for _ in range(_LINK_LEN))
        lower = self.lowers(parent) if parent else []
        if parent:
            lower = [f"l/{self._link_name(parent)}", *lower]
        write_atomic(str(work / "lower"), ":".join(lower).encode(), sync=False)
        write_atomic(str(work / "size"), str(size).encode(), sync=False)
        write_atomic(str(work / "parent"), (parent or "").encode(), sync=False)
        write_atomic(str(work / "diff_id"), diff_id.encode(), sync=False)
        write_atomic(str(work / "tree"), tree.encode(), sync=False)
        write_atomic(str(work / "link"), name.encode(), sync=False)
        target = self.layer_dir(chain_id)
        if target.exists():
            shutil.rmtree(target)  # a partial folder from a crash between rename and link
        os.rename(work, target)
        os.symlink(f"../{target.name}/diff", self.root / "l" / name)
        if sync:
            # On ext4 (data=ordered) this commits the journal, and with it every block the layer
            # just wrote: a pull passes sync=False (images/layers.py says why).
            fsync_dir(str(self.root))

    def record(self, chain_id: str) -> tuple[str, str]:
        """(diff id, tree digest) written at unpack; empty strings for layers made before them."""
        folder = self.layer_dir(chain_id)
        out = []
        for name in ("diff_id", "tree"):
            try:
                out.append((folder / name).read_text().strip())
            except FileNotFoundError:
                out.append("")
        return out[0], out[1]

    def leftovers(self) -> list[Path]:
        """Unpacks a crash interrupted (tmp/), and layer folders without their link file."""
        out = sorted((self.root / "tmp").iterdir())
        out += [p for p in self.root.iterdir() if len(p.name) == 64 and not (p / "link").exists()]
        return out

    def dangling_links(self) -> list[Path]:
        return [p for p in (self.root / "l").iterdir() if not p.exists()]

    def abort(self, unpacked: Path) -> None:
        shutil.rmtree(unpacked.parent, ignore_errors=True)

    def _link_name(self, chain_id: str) -> str:
        try:
            return (self.layer_dir(chain_id) / "link").read_text().strip()
        except FileNotFoundError:
            raise NotFound(f"layer {chain_id} is not unpacked") from None

    def lowers(self, chain_id: str) -> list[str]:
        text = (self.layer_dir(chain_id) / "lower").read_text().strip()
        return text.split(":") if text else []

    def stack(self, chain_id: str | None) -> tuple[str, ...]:
        """The lowerdirs of an image whose top layer is ``chain_id``, topmost first."""
        if chain_id is None:
            return ("empty",)
        return (f"l/{self._link_name(chain_id)}", *self.lowers(chain_id))

    def parent(self, chain_id: str) -> str | None:
        try:
            return (self.layer_dir(chain_id) / "parent").read_text().strip() or None
        except FileNotFoundError:
            return None

    def in_use_by_containers(self) -> set[str]:
        """Every chain some container's writable layer sits on (its parent and their parents)."""
        used: set[str] = set()
        for cid in self.containers():
            chain = self.parent_of(cid)
            while chain and chain not in used:
                used.add(chain)
                chain = self.parent(chain)
        return used

    def remove(self, chain_id: str) -> None:
        """Delete a layer folder; idempotent (a layer already gone is the asked-for state)."""
        target = self.layer_dir(chain_id)
        try:
            name = (target / "link").read_text().strip()
        except FileNotFoundError:
            name = ""
        if name:
            try:
                os.unlink(self.root / "l" / name)
            except FileNotFoundError:
                pass
        shutil.rmtree(target, ignore_errors=True)

    def layers(self) -> list[str]:
        return [
            f"sha256:{p.name}" for p in self.root.iterdir() if len(p.name) == 64 and (p / "link").exists()
        ]

    # ------------------------------------------------------------------ containers

    def container_dir(self, cid: str) -> Path:
        if not cid or "/" in cid or cid.startswith("."):
            raise InvalidArgument(f"invalid container id {cid!r} for a snapshot")
        return self.root / "containers" / cid

    def prepare(self, cid: str, chain_id: str | None) -> OverlayMount:
        """Create (or reuse) the container's upper and work folders; return its mount."""
        cdir = self.container_dir(cid)
        (cdir / "upper").mkdir(parents=True, exist_ok=True)
        (cdir / "work").mkdir(exist_ok=True)
        os.chmod(cdir / "upper", 0o755)
        write_atomic(str(cdir / "parent"), (chain_id or "").encode(), sync=False)
        return self.mount_of(cid)

    def mount_of(self, cid: str) -> OverlayMount:
        cdir = self.container_dir(cid)
        try:
            chain = (cdir / "parent").read_text().strip() or None
        except FileNotFoundError:
            raise NotFound(f"no writable layer for container {cid}: create the container first") from None
        rel = os.path.relpath(cdir, self.root)
        return OverlayMount(self.root, self.stack(chain), f"{rel}/upper", f"{rel}/work")

    def upper_dir(self, cid: str) -> Path:
        return self.container_dir(cid) / "upper"

    def parent_of(self, cid: str) -> str | None:
        try:
            return (self.container_dir(cid) / "parent").read_text().strip() or None
        except FileNotFoundError:
            return None

    def remove_container(self, cid: str) -> None:
        """Idempotent: a container removed twice (or never prepared) leaves nothing behind."""
        shutil.rmtree(self.container_dir(cid), ignore_errors=True)

    def containers(self) -> list[str]:
        return sorted(p.name for p in (self.root / "containers").iterdir())
