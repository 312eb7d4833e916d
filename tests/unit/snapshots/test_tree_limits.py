"""The tree digest of an unpacked layer notices any change; layer limits and device rules."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument
from dockyard.snapshots.limits import LayerLimits, LimitExceeded
from dockyard.snapshots.tree import tree_digest
from dockyard.snapshots.unpack import HostileLayer, apply_layer

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="device nodes and ownership: root only")


def layer(*entries: tarfile.TarInfo, data: bytes = b"content") -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info in entries:
            if info.isreg():
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                t.addfile(info)
    buf.seek(0)
    return buf


def info(name: str, kind: bytes = tarfile.REGTYPE, **kw: object) -> tarfile.TarInfo:
    i = tarfile.TarInfo(name)
    i.type = kind
    i.mode = 0o644
    for k, v in kw.items():
        setattr(i, k, v)
    return i


def test_tree_digest_matches_at_unpack_and_sees_every_change(tmp_path: Path) -> None:
    dest = tmp_path / "l"
    dest.mkdir()
    stats = apply_layer(
        layer(
            info("d", tarfile.DIRTYPE, mode=0o755), info("d/f"), info("s", tarfile.SYMTYPE, linkname="d/f")
        ),
        str(dest),
    )
    assert stats.tree == tree_digest(str(dest))  # CRCs from the unpack equal a fresh read
    (dest / "d" / "f").write_bytes(b"contenT")
    changed = tree_digest(str(dest))
    assert changed != stats.tree
    (dest / "d" / "f").write_bytes(b"content")
    assert tree_digest(str(dest)) == stats.tree
    os.chmod(dest / "d" / "f", 0o600)
    assert tree_digest(str(dest)) != stats.tree
    os.chmod(dest / "d" / "f", 0o644)
    (dest / "extra").write_bytes(b"")
    assert tree_digest(str(dest)) != stats.tree


def test_limits(tmp_path: Path) -> None:
    limits = LayerLimits(max_entries=3, max_depth=4, max_size=1 << 20)
    for n, entries in enumerate([
        [info(f"f{i}") for i in range(4)],  # too many entries
        [info("a/b/c/d/e")],  # too deep
    ]):  # fmt: skip
        dest = tmp_path / str(n)
        dest.mkdir()
        with pytest.raises(LimitExceeded, match="exceeds the limit"):
            apply_layer(layer(*entries), str(dest), limits)
    dest = tmp_path / "big"
    dest.mkdir()
    with pytest.raises(LimitExceeded, match="the declared size of 'big'"):
        apply_layer(layer(info("big"), data=bytes(2 << 20)), str(dest), limits)
    with pytest.raises(InvalidArgument, match="must be at least 1"):
        LayerLimits(max_entries=0)


def test_devices_only_under_dev_and_never_a_forged_whiteout(tmp_path: Path) -> None:
    ok = tmp_path / "ok"
    ok.mkdir()
    apply_layer(
        layer(
            info("dev", tarfile.DIRTYPE, mode=0o755),
            info("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3),
        ),
        str(ok),
    )
    assert os.major(os.lstat(ok / "dev" / "null").st_rdev) == 1
    for n, entry in enumerate([info("bin/null", tarfile.CHRTYPE, devmajor=1, devminor=3),
                               info("dev/wh", tarfile.CHRTYPE, devmajor=0, devminor=0)]):  # fmt: skip
        dest = tmp_path / f"bad{n}"
        dest.mkdir()
        with pytest.raises(HostileLayer):
            apply_layer(layer(entry), str(dest))
