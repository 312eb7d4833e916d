"""The busybox root filesystem and bundle maker, and the shared fixtures built on it."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument, NotFound
from dockyard.oci.runtime_config import default_spec
from dockyard.util import busybox
from dockyard.util.busybox import REMOVE
from tests.conftest import BundleFactory, Runtime, mounts_under, remove_tree

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (CI runs as root)")


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bb") / "rootfs"
    busybox.make_rootfs(str(path))
    return path


def test_find_busybox_is_static() -> None:
    path = busybox.find_busybox()
    assert os.access(path, os.X_OK)
    assert not busybox._elf_has_interpreter(path)


def test_dynamic_executable_detected() -> None:
    # The test's own interpreter is dynamically linked on Debian: it has a PT_INTERP header.
    assert busybox._elf_has_interpreter(os.path.realpath(sys.executable))


def test_missing_busybox_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(busybox, "BUSYBOX_CANDIDATES", (str(tmp_path / "busybox"),))
    with pytest.raises(NotFound, match="apt-get install -y busybox-static"):
        busybox.find_busybox()


def test_dynamic_busybox_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(busybox, "BUSYBOX_CANDIDATES", (os.path.realpath(sys.executable),))
    with pytest.raises(NotFound, match=r"dynamically linked.*busybox-static"):
        busybox.find_busybox()


def test_non_elf_is_rejected(tmp_path: Path) -> None:
    script = tmp_path / "busybox"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(InvalidArgument, match="not an ELF"):
        busybox._elf_has_interpreter(str(script))


def test_rootfs_layout(rootfs: Path) -> None:
    bb = rootfs / "bin/busybox"
    assert bb.is_file() and not bb.is_symlink()
    assert stat.S_IMODE(bb.stat().st_mode) == 0o755
    assert bb.read_bytes() == Path(busybox.find_busybox()).read_bytes()
    modes = {
        "tmp": 0o1777,
        "var/tmp": 0o1777,
        "root": 0o700,
        "proc": 0o555,
        "sys": 0o555,
        "dev": 0o755,
        "etc": 0o755,
        "run": 0o755,
        "home": 0o755,
        "var": 0o755,
    }
    for rel, mode in modes.items():
        st = (rootfs / rel).lstat()
        assert stat.S_ISDIR(st.st_mode), rel
        assert stat.S_IMODE(st.st_mode) == mode, rel
    assert os.listdir(rootfs / "dev") == []
    assert os.listdir(rootfs / "proc") == []


def test_every_applet_is_a_relative_link_to_busybox(rootfs: Path) -> None:
    names = busybox.applets(busybox.find_busybox())
    assert len(names) > 100
    assert {"bin/sh", "bin/ls", "bin/true", "usr/bin/env", "bin/hostname", "usr/bin/nc"} <= set(names)
    for rel in names:
        link = rootfs / rel
        assert link.is_symlink(), rel
        target = os.readlink(link)
        assert not target.startswith("/"), f"{rel} -> {target} would leave the rootfs"
        assert os.path.normpath(os.path.join(os.path.dirname(rel), target)) == "bin/busybox", rel
    assert not (rootfs / "linuxrc").exists()


def test_users_and_groups(rootfs: Path) -> None:
    users = {line.split(":")[0]: line.split(":") for line in (rootfs / "etc/passwd").read_text().splitlines()}
    assert users["root"][2:4] == ["0", "0"] and users["root"][5] == "/root"
    assert users["nobody"][2:4] == ["65534", "65534"]
    assert users["user"][2:4] == ["1000", "1000"] and users["user"][5] == "/home/user"
    groups = {line.split(":")[0]: line.split(":") for line in (rootfs / "etc/group").read_text().splitlines()}
    assert groups["root"][2] == "0"
    assert groups["user"][2] == "1000"
    assert groups["nogroup"][2] == "65534"
    assert groups["users"][3] == "user"
    if os.geteuid() == 0:
        assert (rootfs / "home/user").stat().st_uid == 1000


def test_make_rootfs_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "junk").write_text("x")
    with pytest.raises(InvalidArgument, match="not empty"):
        busybox.make_rootfs(str(tmp_path))


def test_busybox_runs_from_the_tree(rootfs: Path) -> None:
    out = subprocess.run([str(rootfs / "bin/echo"), "hi"], capture_output=True, text=True, check=True)
    assert out.stdout == "hi\n"


@needs_root
def test_shell_works_chrooted(rootfs: Path) -> None:
    chroot = shutil.which("chroot")
    assert chroot is not None, "coreutils' chroot is missing"
    out = subprocess.run(
        [chroot, str(rootfs), "/bin/sh", "-c", "id user; ls /usr/bin/env; echo ok"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/bin:/usr/bin"},
    )
    assert out.stdout.split() == [
        "uid=1000(user)",
        "gid=1000(user)",
        "groups=1000(user),100(users)",
        "/usr/bin/env",
        "ok",
    ]


def test_copy_rootfs_keeps_modes_owners_links_and_copies_files(rootfs: Path, tmp_path: Path) -> None:
    dest = tmp_path / "copy"
    busybox.copy_rootfs(str(rootfs), str(dest))
    for dirpath, dirnames, filenames in os.walk(rootfs):
        rel = os.path.relpath(dirpath, rootfs)
        for name in dirnames + filenames + [""]:
            src = Path(dirpath, name)
            dst = dest / rel / name
            s, d = src.lstat(), dst.lstat()
            assert stat.S_IFMT(s.st_mode) == stat.S_IFMT(d.st_mode), dst
            assert stat.S_IMODE(s.st_mode) == stat.S_IMODE(d.st_mode) or stat.S_ISLNK(s.st_mode), dst
            assert (s.st_uid, s.st_gid) == (d.st_uid, d.st_gid), dst
            if stat.S_ISLNK(s.st_mode):
                assert os.readlink(src) == os.readlink(dst)
            elif stat.S_ISREG(s.st_mode):
                assert s.st_ino != d.st_ino, f"{dst} must be a copy, not a hardlink"
                assert src.read_bytes() == dst.read_bytes()


def test_merge_config() -> None:
    base = {
        "process": {"args": ["sh"], "env": ["A=1"], "user": {"uid": 0}},
        "hostname": "h",
        "linux": {"x": 1},
    }
    merged = busybox.merge_config(
        base,
        {
            "process": {"env": ["B=2"], "user": {"gid": 5}},
            "hostname": REMOVE,
            "linux": {"x": REMOVE, "y": {"z": REMOVE}},
        },
    )
    assert merged == {
        "process": {"args": ["sh"], "env": ["B=2"], "user": {"uid": 0, "gid": 5}},
        "linux": {"y": {}},
    }
    assert base["hostname"] == "h" and base["process"]["env"] == ["A=1"]  # type: ignore[index]


def test_make_bundle(rootfs: Path, tmp_path: Path) -> None:
    dest = busybox.make_bundle(
        str(tmp_path / "b"),
        ["sh", "-c", "echo hi"],
        terminal=True,
        rootfs_template=str(rootfs),
        overrides={"hostname": "box", "process": {"cwd": "/tmp"}},
    )
    assert dest == str(tmp_path / "b")
    config = json.loads((tmp_path / "b/config.json").read_text())
    assert config["process"]["args"] == ["sh", "-c", "echo hi"]
    assert config["process"]["terminal"] is True
    assert config["process"]["cwd"] == "/tmp"
    assert config["process"]["env"][0].startswith("PATH=")
    assert config["root"] == {"path": "rootfs", "readonly": False}
    assert config["hostname"] == "box"
    assert {ns["type"] for ns in config["linux"]["namespaces"]} >= {"pid", "mount", "uts", "ipc"}
    assert (tmp_path / "b/rootfs/bin/busybox").is_file()


def test_make_bundle_without_template_and_readonly(tmp_path: Path) -> None:
    busybox.make_bundle(str(tmp_path / "b"), ["true"], readonly_rootfs=True)
    config = json.loads((tmp_path / "b/config.json").read_text())
    assert config["root"]["readonly"] is True
    assert config["process"]["terminal"] is False
    assert (tmp_path / "b/rootfs/bin/sh").is_symlink()


def test_cli_bundle(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "dockyard.util.busybox",
            "bundle",
            str(tmp_path / "b"),
            "--hostname",
            "cli",
            "--",
            "sh",
            "-c",
            "exit 3",
        ],
        check=True,
    )
    config = json.loads((tmp_path / "b/config.json").read_text())
    assert config["process"]["args"] == ["sh", "-c", "exit 3"]
    assert config["hostname"] == "cli"


def test_cli_reports_errors(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r/junk").write_text("")
    proc = subprocess.run(
        [sys.executable, "-m", "dockyard.util.busybox", "rootfs", str(tmp_path / "r")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "not empty" in proc.stderr


@pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed: apt-get install -y runc")
def test_spec_from_runtime() -> None:
    runc = shutil.which("runc")
    assert runc is not None
    spec = busybox.spec_from_runtime(runc)
    fallback = default_spec()
    # Our fallback is runc's own default (bar the -dev suffix of its ociVersion).
    assert {k: v for k, v in spec.items() if k != "ociVersion"} == {
        k: v for k, v in fallback.items() if k != "ociVersion"
    }


def test_spec_from_failing_runtime() -> None:
    with pytest.raises(InvalidArgument, match="spec` failed"):
        busybox.spec_from_runtime("/bin/false")
    with pytest.raises(NotFound, match="not found"):
        busybox.spec_from_runtime("no-such-runtime-here")


def test_spec_from_relative_runtime_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "fake-runtime"
    fake.write_text('#!/bin/sh\nprintf \'{"ociVersion": "1.1.0", "args": "%s"}\' "$1" > config.json\n')
    fake.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    assert busybox.spec_from_runtime("./fake-runtime") == {"ociVersion": "1.1.0", "args": "spec"}


# ---------------------------------------------------------------- the fixtures themselves


def test_bundle_fixture(bundle: BundleFactory, busybox_rootfs: str) -> None:
    first = bundle()
    second = bundle(["sh", "-c", "hostname"], hostname="box", linux={"maskedPaths": REMOVE})
    assert first != second
    one = json.loads(Path(first, "config.json").read_text())
    two = json.loads(Path(second, "config.json").read_text())
    assert one["process"]["args"] == ["true"]
    assert two["process"]["args"] == ["sh", "-c", "hostname"]
    assert two["hostname"] == "box"
    assert "maskedPaths" not in two["linux"] and "readonlyPaths" in two["linux"]
    assert os.path.commonpath([first, busybox_rootfs]) == "/" or not first.startswith(busybox_rootfs)
    assert Path(first, "rootfs/bin/busybox").read_bytes() == Path(busybox_rootfs, "bin/busybox").read_bytes()


@needs_root
def test_template_is_read_only(busybox_rootfs: str) -> None:
    with pytest.raises(OSError, match="Read-only"):
        Path(busybox_rootfs, "tmp/x").write_text("x")


@needs_root
def test_remove_tree_detaches_mounts(tmp_path: Path) -> None:
    from dockyard.util import syscalls

    top = tmp_path / "top"
    (top / "a/b").mkdir(parents=True)
    syscalls.mount("tmpfs", str(top / "a"), "tmpfs")
    (top / "a/b").mkdir()
    syscalls.mount("tmpfs", str(top / "a/b"), "tmpfs")
    assert mounts_under(str(top)) == [str(top / "a/b"), str(top / "a")]
    remove_tree(str(top))
    assert not top.exists()
    assert mounts_under(str(top)) == []
    remove_tree(str(top))  # already gone: no error


def test_runtime_fixture_runs_a_bundle(runtime: Runtime, bundle: BundleFactory) -> None:
    b = bundle(["sh", "-c", 'echo "hello from $(hostname)"; exit 7'], hostname="fixture")
    proc = runtime("run", "--bundle", b, runtime.new_id())
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout == "hello from fixture\n"


def test_runtime_cleanup_removes_a_created_container(
    runtime: Runtime, bundle: BundleFactory, tmp_path: Path
) -> None:
    cid = runtime.new_id()
    # create leaves the container's init waiting on its exec fifo, holding the stdio it was
    # given: pipes would never reach EOF, so give it a file.
    errors = tmp_path / "stderr"
    with open(errors, "w+b") as err:
        proc = subprocess.run(
            runtime.cmd("create", "--bundle", bundle(["sleep", "60"]), cid),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            timeout=30,
        )
    assert proc.returncode == 0, errors.read_text()
    state = json.loads(runtime("state", cid, check=True).stdout)
    assert state["status"] == "created"
    pid = state["pid"]
    runtime.cleanup()
    assert runtime("state", cid).returncode != 0
    assert not os.path.exists(f"/proc/{pid}") or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
