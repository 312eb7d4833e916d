"""The module cache (dockyard.runtime.codecache) and the launcher that runs from it (launcher.py)."""

from __future__ import annotations

import marshal
import os
import shutil
import subprocess
import sys
from pathlib import Path

from dockyard import __version__
from dockyard.runtime import codecache, launcher

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "bin" / "dockyard-runtime"


def _header(data: bytes) -> dict:  # type: ignore[type-arg]
    header: dict = marshal.loads(data[int.from_bytes(data[-8:], "little") : -8])  # type: ignore[type-arg]
    return header


def test_build_holds_the_runtime_modules_with_their_source_stamps() -> None:
    root = str(Path(launcher.__file__).resolve().parents[2])
    data = codecache.build(root, [])
    header = _header(data)
    assert header["format"] == launcher.FORMAT and header["roots"] == [root]
    modules = header["modules"]
    for name in ("dockyard", "dockyard.errors", "dockyard.runtime.cli", "dockyard.runtime.launcher"):
        assert name in modules, name
    assert "__future__" in modules  # the one standard module, imported by every module's first line
    assert modules["dockyard.runtime.cgroups"][0] is True  # a package
    is_package, path, mtime_ns, size, offset, length, deps = modules["dockyard.util.syscalls"]
    assert not is_package and path == os.path.join(root, "dockyard", "util", "syscalls.py")
    st = os.stat(path)
    assert (st.st_mtime_ns, st.st_size) == (mtime_ns, size)
    namespace: dict[str, object] = {"__name__": "probe"}
    exec(marshal.loads(data[offset : offset + length]), namespace)
    assert callable(namespace["mount"])
    assert deps == ("__future__",)  # its top-level imports: _ctypes and os are not cached
    # `from dockyard.runtime import cgroups, config` names the package and each module imported.
    assert {"dockyard.runtime", "dockyard.runtime.cgroups", "dockyard.runtime.config"} <= set(
        modules["dockyard.runtime.create"][6]
    )
    # Imports inside functions or under TYPE_CHECKING run when they run: not dependencies.
    assert "dockyard.runtime.delete" not in modules["dockyard.runtime.create"][6]
    # Only the runtime's side of the package: never the daemon's, nor test fixtures.
    assert not any(n.startswith(("dockyard.daemon", "dockyard.engine")) for n in modules)
    assert "dockyard.util.busybox" not in modules


def _install(
    tmp_path: Path,
    launcher_script: Path = SCRIPT,
    files: tuple[str, ...] = ("__init__.py", "errors.py"),
    folders: tuple[str, ...] = ("runtime", "util", "oci"),
) -> tuple[Path, Path]:
    """A copy of part of the package (``files`` and ``folders`` under dockyard/) and of a launcher
    script, by default the runtime's side and bin/dockyard-runtime: (package root, script)."""
    src = Path(launcher.__file__).resolve().parents[1]
    pkg = tmp_path / "src" / "dockyard"
    for name in files:
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / name, pkg / name)
    for sub in folders:
        shutil.copytree(src / sub, pkg / sub, ignore=shutil.ignore_patterns("__pycache__"))
    script = tmp_path / "bin" / launcher_script.name
    script.parent.mkdir()
    text = launcher_script.read_text().split("\n", 1)[1]
    script.write_text(f"#!{sys.executable} -S\n{text}")
    script.chmod(0o755)
    return tmp_path / "src", script


def _version(script: Path) -> str:
    res = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=30, check=True)
    return res.stdout.splitlines()[0].rsplit(" ", 1)[1]


def _rewrite_keeping_stamp(path: Path, old: str, new: str) -> None:
    """Change a source without changing its mtime or size: only the cache can tell them apart."""
    st = path.stat()
    text = path.read_text()
    assert len(old) == len(new) and old in text
    path.write_text(text.replace(old, new))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_launcher_runs_from_the_cache_and_never_from_a_stale_entry(tmp_path: Path) -> None:
    root, script = _install(tmp_path)
    init = root / "dockyard" / "__init__.py"
    fake = "9" * len(__version__)

    # The copy is on no path: only the cache file, which records its root, leads the script to it.
    written = codecache.write(str(script), str(root))
    assert written == codecache.cache_path(str(script)) and os.path.exists(written)
    assert _version(script) == __version__

    # Same stamp, other text: the cached code (the old version string) is what runs.
    _rewrite_keeping_stamp(init, __version__, fake)
    assert _version(script) == __version__

    # A real edit (new mtime): that module is imported from its source instead.
    init.write_text(init.read_text())
    assert _version(script) == fake

    # An unusable cache file (as an edited launcher.py): the script falls back to a normal import
    # of the package the environment's .pth files name, the real one, not the copy.
    Path(written).write_bytes(b"\x00garbage")
    assert _version(script) == __version__


CLI_SCRIPT = REPO / "bin" / "dockyard"


def test_cli_profile_holds_the_client_side_only() -> None:
    root = str(Path(launcher.__file__).resolve().parents[2])
    assert codecache.profile_for("/x/bin/dockyard") is codecache.PROFILES["dockyard"]
    modules = _header(codecache.build(root, [], codecache.PROFILES["dockyard"]))["modules"]
    for name in ("dockyard.__main__", "dockyard.cli.main", "dockyard.client.api", "dockyard.oci.fastjson"):
        assert name in modules, name
    assert "dockyard.runtime.launcher" in modules  # bin/dockyard takes its finder from there
    assert not any(n.startswith(("dockyard.daemon", "dockyard.engine", "dockyard.util")) for n in modules)
    assert not any(n.startswith("dockyard.runtime.") and n != "dockyard.runtime.launcher" for n in modules)


def test_unknown_launcher_name_is_refused(tmp_path: Path) -> None:
    script = tmp_path / "other"
    script.write_text("")
    assert codecache.main([str(script)]) == 2
    assert not os.path.exists(codecache.cache_path(str(script)))


def test_cli_launcher_runs_from_its_cache_and_falls_back_without_it(tmp_path: Path) -> None:
    # The client side of the package and bin/dockyard.
    root, script = _install(
        tmp_path,
        CLI_SCRIPT,
        ("__init__.py", "__main__.py", "errors.py", "runtime/__init__.py", "runtime/launcher.py"),
        ("cli", "client", "oci"),
    )
    init = root / "dockyard" / "__init__.py"
    fake = "9" * len(__version__)

    written = codecache.write(str(script), str(root))
    assert _version(script) == __version__
    _rewrite_keeping_stamp(init, __version__, fake)
    assert _version(script) == __version__  # the cached code ran: the copy is on no path
    init.write_text(init.read_text())
    assert _version(script) == fake  # edited for real: imported from its source
    Path(written).write_bytes(b"\x00garbage")
    assert _version(script) == __version__  # no usable cache: the environment's own package


def test_cli_exit_keeps_all_output_and_the_exit_code(tmp_path: Path) -> None:
    """Client commands leave through _exit(2): buffered output must be written first, so the
    installed launcher prints exactly what a normal interpreter exit prints."""
    installed = str(Path(sys.executable).parent / "dockyard")
    fast = subprocess.run([installed, "--help"], capture_output=True, text=True, timeout=30)
    normal = subprocess.run(
        [sys.executable, "-m", "dockyard", "--help"], capture_output=True, text=True, timeout=30
    )
    assert fast.returncode == normal.returncode == 0
    assert fast.stdout == normal.stdout and len(fast.stdout) > 2000
    sock = f"unix://{tmp_path}/none.sock"
    res = subprocess.run([installed, "-H", sock, "ps"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 1 and "Cannot connect" in res.stderr, res
