"""The runtime's module cache (dockyard.runtime.codecache) and the launcher that imports from it."""

from __future__ import annotations

import marshal
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from dockyard.runtime import codecache

REPO = Path(__file__).resolve().parents[3]
LAUNCHER = REPO / "bin" / "dockyard-runtime"


def test_build_holds_every_runtime_module_with_its_source_stamp() -> None:
    root = codecache.package_root()
    table = codecache.build(root)
    for name in ("dockyard", "dockyard.errors", "dockyard.runtime.cli", "dockyard.runtime.create"):
        assert name in table, name
    is_package, path, mtime_ns, size, code = table["dockyard.runtime.cgroups"]
    assert is_package and path.endswith(os.path.join("cgroups", "__init__.py"))
    is_package, path, mtime_ns, size, code = table["dockyard.util.syscalls"]
    assert not is_package
    st = os.stat(path)
    assert (st.st_mtime_ns, st.st_size) == (mtime_ns, size)
    namespace: dict[str, object] = {"__name__": "dockyard.util.syscalls"}
    exec(marshal.loads(code), namespace)
    assert callable(namespace["mount"])
    # Nothing from the daemon's side: the runtime imports only the leaves.
    assert not any(n.startswith(("dockyard.daemon", "dockyard.engine")) for n in table)


# Runs in a fresh interpreter: loads the launcher's functions (not its main), points them at a
# copy of the package, imports from it and reports which loader served each module.
_PROBE = textwrap.dedent(
    """
    import sys
    root, launcher = sys.argv[1], sys.argv[2]
    ns = {"__name__": "launcher_under_test"}
    exec(compile(open(launcher).read(), launcher, "exec"), ns)
    sys.path.insert(0, root)
    ns["_use_module_cache"]([root])
    import dockyard, dockyard.runtime.state, dockyard.runtime.cgroups.layout
    from dockyard.runtime.state import validate_id
    validate_id("fine")
    for m in (dockyard, dockyard.runtime.state, dockyard.runtime.cgroups.layout):
        print(m.__name__, type(m.__loader__).__name__, m.__file__, getattr(m, "MARK", "-"))
    """
)


def _probe(root: Path) -> dict[str, tuple[str, str, str]]:
    out = subprocess.run(
        [sys.executable, "-S", "-c", _PROBE, str(root), str(LAUNCHER)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    rows = (line.split() for line in out.splitlines())
    return {name: (loader, path, mark) for name, loader, path, mark in rows}


def test_launcher_serves_cached_modules_and_never_stale_ones(tmp_path: Path) -> None:
    src = Path(codecache.package_root()) / "dockyard"
    pkg = tmp_path / "dockyard"
    pkg.mkdir()
    for name in ("__init__.py", "errors.py"):
        shutil.copy2(src / name, pkg / name)
    for sub in ("runtime", "util", "oci"):
        shutil.copytree(src / sub, pkg / sub, ignore=shutil.ignore_patterns("__pycache__"))
    written = codecache.write(str(tmp_path))
    assert written == codecache.path_for(str(tmp_path)) and os.path.exists(written)

    seen = _probe(tmp_path)
    assert seen["dockyard.runtime.state"][0] == "_CachedModules"
    assert seen["dockyard.runtime.state"][1] == str(pkg / "runtime" / "state.py")
    assert seen["dockyard.runtime.cgroups.layout"][0] == "_CachedModules"

    # An edited module is imported from its source, not from the cache built before the edit.
    with open(pkg / "runtime" / "state.py", "a") as f:
        f.write("\nMARK = 'edited'\n")
    seen = _probe(tmp_path)
    assert seen["dockyard.runtime.state"][0] == "SourceFileLoader"
    assert seen["dockyard.runtime.state"][2] == "edited"
    assert seen["dockyard"][0] == "_CachedModules"

    # A cache file that is not one (truncated, another format) means normal imports throughout.
    Path(written).write_bytes(b"\x00garbage")
    seen = _probe(tmp_path)
    assert {loader for loader, _, _ in seen.values()} == {"SourceFileLoader"}
