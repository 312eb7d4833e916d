"""A launcher's modules compiled into one file, which the launcher runs from.

    python -m dockyard.runtime.codecache [LAUNCHER]     (re)write LAUNCHER's cache file

LAUNCHER defaults to the ``dockyard-runtime`` next to the running interpreter (the environment's
bin/); the file is written next to it, named ``<launcher>.<cache tag>.marshal`` (the marshal
format belongs to one Python version, as a .pyc's). Run it after installing or editing the
package: scripts/install.sh's compile step is the place. Which modules go in depends on the
launcher's name (:data:`PROFILES`): ``dockyard-runtime`` gets the runtime and the leaves it
imports; ``dockyard`` (bin/dockyard, the CLI) gets the CLI, the client, ``dockyard.oci`` and the
finder module itself (launcher.py), whose CachedModules class serves both launchers.

Why: importing a module through Python's path finder costs importlib's own file work (a folder
check, a stat of the source, open/read/close of the .pyc, its validation) on top of running the
module's code, and a ``run`` imports about 40 modules; the launcher script, which Python compiles
from source on every start, shrinks to a few lines when its logic (launcher.py) comes from here.

Layout: the code objects, each ``marshal.dumps``'d, one after the other; then the header,
``marshal.dumps({"format", "roots", "site_packages", "modules"})``; then the header's offset as 8
bytes, little-endian. ``modules`` maps a module name to launcher.Entry: (is_package, source
path, st_mtime_ns, st_size, offset, length, the cached modules its top-level imports name). The
launcher reads the file once and unmarshals a module's code only when it is imported, and only
while the source still has the recorded mtime and size (else the normal import runs), so a stale
file is slower, never wrong. launcher.FORMAT numbers this layout; bin/dockyard-runtime checks it.
"""

from __future__ import annotations

import marshal
import os
import sys
from typing import NamedTuple

from dockyard.runtime.launcher import FORMAT, Entry

#: The packages the runtime may import (DESIGN.md: the runtime imports only the leaves).
PACKAGES = ("dockyard.runtime", "dockyard.util", "dockyard.oci")
MODULES = ("dockyard", "dockyard.errors")
#: In those packages but never imported by the runtime (a test fixture maker).
EXCLUDED = ("dockyard.util.busybox",)
#: The one standard module the start imports from source: ``from __future__ import annotations``
#: in every module imports it, through a walk of the standard library's folder.
STDLIB = ("__future__",)


class Profile(NamedTuple):
    """What one launcher's cache holds: whole packages, single modules, and exceptions."""

    packages: tuple[str, ...]
    modules: tuple[str, ...]
    excluded: tuple[str, ...]


#: Launcher name -> its modules. The CLI's: what `dockyard ps`, `rm` or `compose` imports (DESIGN.md: the CLI
#: talks only to the client, which imports only oci and errors); `dockyard daemon` and the rest
#: import normally. launcher.py is there for bin/dockyard to take CachedModules from.
PROFILES: dict[str, Profile] = {
    "dockyard-runtime": Profile(PACKAGES, MODULES, EXCLUDED),
    "dockyard": Profile(
        ("dockyard.cli", "dockyard.client", "dockyard.oci", "dockyard.compose"),
        ("dockyard", "dockyard.errors", "dockyard.__main__", "dockyard.runtime.launcher"),
        (),
    ),
}


def cache_path(launcher: str) -> str:
    return f"{launcher}.{sys.implementation.cache_tag}.marshal"


def default_launcher() -> str:
    return os.path.join(os.path.dirname(os.path.abspath(sys.executable)), "dockyard-runtime")


def _sources(package_root: str, profile: Profile) -> dict[str, tuple[str, bool]]:
    """Module name -> (source path, is a package) for the profile's modules, packages and STDLIB."""
    found: dict[str, tuple[str, bool]] = {}
    for name in profile.modules:
        base = os.path.join(package_root, *name.split("."))
        if os.path.isfile(os.path.join(base, "__init__.py")):
            found[name] = (os.path.join(base, "__init__.py"), True)
        elif os.path.isfile(base + ".py"):
            found[name] = (base + ".py", False)
    for package in profile.packages:
        top = os.path.join(package_root, *package.split("."))
        for folder, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            if "__init__.py" not in files:
                dirs[:] = []
                continue
            dotted = os.path.relpath(folder, package_root).replace(os.sep, ".")
            for fname in sorted(files):
                if not fname.endswith(".py"):
                    continue
                if fname == "__init__.py":
                    found[dotted] = (os.path.join(folder, fname), True)
                else:
                    found[f"{dotted}.{fname[:-3]}"] = (os.path.join(folder, fname), False)
    for name in STDLIB:
        module = __import__(name)
        if module.__file__:
            found[name] = (module.__file__, False)
    for name in profile.excluded:
        found.pop(name, None)
    return found


def _imported(source: bytes, known: set[str]) -> tuple[str, ...]:
    """The modules of ``known`` that ``source``'s top-level import statements name, in order.

    ``from a.b import c`` names a.b, and a.b.c when that is a module; imports inside functions,
    under ``if TYPE_CHECKING:`` or any other statement are left to run when they run.
    """
    import ast

    names: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return tuple(n for n in dict.fromkeys(names) if n in known)


def build(
    package_root: str, site_packages: list[str], profile: Profile = PROFILES["dockyard-runtime"]
) -> bytes:
    """The cache file's bytes for the ``dockyard`` package under ``package_root``."""
    blobs: list[bytes] = []
    modules: dict[str, Entry] = {}
    offset = 0
    sources = _sources(package_root, profile)
    for name, (path, is_package) in sources.items():
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            source = f.read()
        # As importlib compiles a source file (SourceLoader.source_to_code): the same code object
        # the .pyc would hold, with the real path for tracebacks.
        code = marshal.dumps(compile(source, path, "exec", dont_inherit=True))
        deps = _imported(source, set(sources))
        modules[name] = (is_package, path, st.st_mtime_ns, st.st_size, offset, len(code), deps)
        blobs.append(code)
        offset += len(code)
    header = marshal.dumps(
        {"format": FORMAT, "roots": [package_root], "site_packages": site_packages, "modules": modules}
    )
    return b"".join(blobs) + header + offset.to_bytes(8, "little")


def profile_for(launcher: str) -> Profile:
    name = os.path.basename(launcher)
    if name not in PROFILES:
        raise ValueError(
            f"codecache: no module list for a launcher named {name!r}: use one of {', '.join(PROFILES)}"
        )
    return PROFILES[name]


def write(launcher: str, package_root: str | None = None) -> str:
    """Write the cache file for ``launcher`` (its modules chosen by its name); its path."""
    from dockyard.util.atomic import write_atomic

    profile = profile_for(launcher)
    root = package_root or _package_root()
    site_packages = [p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)]
    target = cache_path(launcher)
    write_atomic(target, build(root, site_packages, profile), 0o644, sync=False)
    return target


def _package_root() -> str:
    """The sys.path entry this ``dockyard`` package was imported from."""
    import dockyard

    return os.path.dirname(os.path.dirname(os.path.abspath(dockyard.__file__)))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    launcher = os.path.abspath(args[0]) if args else default_launcher()
    if not os.path.isfile(launcher):
        print(f"codecache: {launcher} does not exist: name the dockyard-runtime script", file=sys.stderr)
        return 2
    try:
        print(write(launcher))
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
