"""Remapped layer copies (engine/remapped_layers.py) go with their layer.

This kernel stacks idmapped layers, so a remapped daemon here never copies one: the copies are
made as a remapped start on an older kernel makes them (``remapped_copy`` of each layer folder),
then the images are removed through the API: `image rm`, `image prune` and `builder prune`
(what `system prune` runs) must take the copies of the layers they delete and leave those of
layers still in use. Copies whose layer went while no daemon watched are swept at start.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.engine import remapped_layers, userns
from tests.unit.engine.inproc_daemon import InprocDaemon

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]

IDMAP = userns.IdMap(300000, 300000, 65536)


@pytest.fixture(scope="module")
def daemon() -> Iterator[InprocDaemon]:
    with InprocDaemon() as d:
        yield d


def _chains(d: InprocDaemon, image_id: str) -> list[str]:
    """The image's layer chains, top first."""
    chain: str | None = d.images.resolve(image_id).top_chain
    out: list[str] = []
    while chain:
        out.append(chain)
        chain = d.images.snapshots.parent(chain)
    return out


def _copies_of(d: InprocDaemon, image_id: str) -> dict[str, Path]:
    """A remapped copy of each layer of the image, made as a remapped start would."""
    return {
        chain: remapped_layers.remapped_copy(d.images.snapshots.diff_dir(chain), IDMAP, d.data_root)
        for chain in _chains(d, image_id)
    }


def _image_of_a_change(client: Any, name: str, repo: str | None) -> str:
    client.containers.run("busybox", ["touch", f"/{name}"], name=name)
    c = client.containers.get(name)
    try:
        return str(c.commit(repository=repo).id)
    finally:
        c.remove()


def test_removing_images_removes_their_copies(daemon: InprocDaemon) -> None:
    client = daemon.client()
    tag = f"remapped-{os.getpid()}"
    busybox_top = daemon.images.resolve("busybox").top_chain
    try:
        tagged = _image_of_a_change(client, f"rc{os.getpid()}a", tag)
        dangling = _image_of_a_change(client, f"rc{os.getpid()}b", None)
        copies = {**_copies_of(daemon, tagged), **_copies_of(daemon, dangling)}
        own_tagged, own_dangling = _chains(daemon, tagged)[0], _chains(daemon, dangling)[0]
        assert busybox_top in copies and all(p.is_dir() for p in copies.values())

        client.images.remove(tag)
        assert not copies[own_tagged].exists() and copies[own_dangling].is_dir()
        assert copies[busybox_top].is_dir()  # busybox still uses it

        client.images.prune(filters={"dangling": True})
        assert not copies[own_dangling].exists() and copies[busybox_top].is_dir()
        home = copies[busybox_top].parent.parent
        assert sorted(p.name for p in home.iterdir()) == sorted(
            n for c in _chains(daemon, "busybox") for n in (c.split(":")[1], c.split(":")[1] + ".lock")
        )  # no lock or temporary folder of a removed layer is left
    finally:
        client.images.prune(filters={"dangling": True})
        client.close()
        remapped_layers.remove_all(daemon.data_root)


def test_builder_prune_removes_copies_of_cached_layers(daemon: InprocDaemon) -> None:
    client = daemon.client()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = f"FROM busybox\nRUN echo {os.getpid()} > /built\n".encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    try:
        image, _ = client.images.build(fileobj=io.BytesIO(buf.getvalue()), custom_context=True, rm=True)
        copies = _copies_of(daemon, image.id)
        top = _chains(daemon, image.id)[0]
        client.api.prune_builds()
        assert not copies[top].exists()
        assert all(p.is_dir() for chain, p in copies.items() if chain != top)
    finally:
        client.close()
        remapped_layers.remove_all(daemon.data_root)


def test_sweep_drops_copies_of_layers_gone(tmp_path: Path) -> None:
    layer = tmp_path / "overlay" / ("a" * 64) / "diff"
    layer.mkdir(parents=True)
    (layer / "f").write_text("x")
    kept = remapped_layers.remapped_copy(layer, IDMAP, tmp_path)
    gone_home = tmp_path / remapped_layers.DIR / "300000.300000"
    (gone_home / ("b" * 64) / "diff").mkdir(parents=True)
    (gone_home / f"{'c' * 64}.tmp").mkdir()  # a copy a crash interrupted
    removed = remapped_layers.sweep(tmp_path, lambda key: key == "a" * 64)
    assert sorted(p.name for p in removed) == ["b" * 64]
    assert sorted(p.name for p in gone_home.iterdir()) == ["a" * 64, f"{'a' * 64}.lock"] and kept.is_dir()
