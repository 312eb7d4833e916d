"""Layer tars into overlay form: whiteouts, opaque folders, metadata, hostile entries refused."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from dockyard.snapshots.unpack import HostileLayer, apply_layer

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="whiteouts are device nodes and trusted xattrs: root only"
)


def make_tar(*entries: tuple[str, str, object], **pax: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, arg in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_000_000
            if name in pax:
                info.pax_headers = pax[name]
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, int(arg or 0o755)  # type: ignore[call-overload]
                t.addfile(info)
            elif kind == "file":
                data = arg if isinstance(arg, bytes) else b""
                info.size, info.mode = len(data), 0o4755 if name.endswith("suid") else 0o644
                info.uid = info.gid = 1000 if name.endswith("owned") else 0
                t.addfile(info, io.BytesIO(data))
            elif kind in ("sym", "hard"):
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = str(arg)
                t.addfile(info)
            elif kind == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
                t.addfile(info)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
                t.addfile(info)
    return buf.getvalue()


def apply(tmp: Path, data: bytes) -> Path:
    dest = tmp / "diff"
    dest.mkdir(exist_ok=True)
    apply_layer(io.BytesIO(data), str(dest))
    return dest


def test_files_links_devices_and_metadata(tmp_path: Path) -> None:
    data = make_tar(
        ("./etc", "dir", 0o750),
        ("./etc/passwd", "file", b"root"),
        ("bin/suid", "file", b"x"),
        ("home/owned", "file", b"y"),
        ("etc/link", "sym", "/etc/passwd"),
        ("etc/hard", "hard", "etc/passwd"),
        ("dev/null", "chr", None),
        ("run/fifo", "fifo", None),
        ("etc/cap", "file", b"c"),
        **{"etc/cap": {"SCHILY.xattr.user.note": "hello"}},
    )
    d = apply(tmp_path, data)
    assert (d / "etc/passwd").read_bytes() == b"root"
    assert stat.S_IMODE(os.stat(d / "etc").st_mode) == 0o750
    assert stat.S_IMODE(os.stat(d / "bin/suid").st_mode) == 0o4755  # setuid survives chown
    assert os.stat(d / "home/owned").st_uid == 1000
    assert os.readlink(d / "etc/link") == "/etc/passwd"
    assert os.stat(d / "etc/hard").st_ino == os.stat(d / "etc/passwd").st_ino
    assert stat.S_ISCHR(os.lstat(d / "dev/null").st_mode) and os.lstat(d / "dev/null").st_rdev == os.makedev(
        1, 3
    )
    assert stat.S_ISFIFO(os.lstat(d / "run/fifo").st_mode)
    assert os.getxattr(d / "etc/cap", "user.note") == b"hello"
    assert int(os.stat(d / "etc").st_mtime) == 1_000_000  # folders' times set after their contents
    assert stat.S_IMODE(os.stat(d / "bin").st_mode) == 0o755  # implied parents


def test_whiteouts_become_overlay_form(tmp_path: Path) -> None:
    d = apply(
        tmp_path,
        make_tar(
            ("a/.wh.gone", "file", b""),
            ("b/.wh..wh..opq", "file", b""),
            ("b/new", "file", b"n"),
            (".wh..wh.plnk", "file", b""),
        ),
    )
    st = os.lstat(d / "a/gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(d / "b", "trusted.overlay.opaque") == b"y"
    assert (d / "b/new").read_bytes() == b"n"
    assert not (d / ".wh..wh.plnk").exists()


def test_later_entries_replace_earlier_ones(tmp_path: Path) -> None:
    d = apply(
        tmp_path, make_tar(("x", "file", b"1"), ("x", "file", b"2"), ("y", "dir", None), ("y", "sym", "x"))
    )
    assert (d / "x").read_bytes() == b"2"
    assert os.path.islink(d / "y")


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ((("/etc/passwd", "file", b"x"),), "absolute path"),
        ((("a/../../etc/passwd", "file", b"x"),), "'..' in the path"),
        ((("esc", "sym", "/etc"), ("esc/passwd", "file", b"x")), "parent 'esc' is a symlink"),
        ((("up", "sym", "../../.."), ("up/x", "file", b"x")), "parent 'up' is a symlink"),
        ((("h", "hard", "/etc/passwd"),), "absolute path"),
        ((("h", "hard", "not/here"),), "not in this layer"),
        ((("f", "file", b"x"), ("f/g", "file", b"y")), "parent 'f' is not a folder"),
    ],
)
def test_hostile_entries_are_refused(
    tmp_path: Path, entries: tuple[tuple[str, str, object], ...], problem: str
) -> None:
    outside = tmp_path / "outside"
    with pytest.raises(HostileLayer, match=problem):
        apply(tmp_path, make_tar(*entries))
    assert not outside.exists()


def test_overlay_xattrs_in_a_layer_are_refused(tmp_path: Path) -> None:
    data = make_tar(("d", "dir", None), **{"d": {"SCHILY.xattr.trusted.overlay.redirect": "/etc"}})
    with pytest.raises(HostileLayer, match="belongs to overlayfs"):
        apply(tmp_path, data)


def test_not_a_tar(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="not a valid tar archive"):
        apply(tmp_path, b"garbage" * 100)
