"""The runtime's modules compiled into one file, which the ``dockyard-runtime`` launcher imports from.

    python -m dockyard.runtime.codecache        (re)write it; run after installing or editing

Importing a module through Python's path finder costs about 80 microseconds of importlib's own
work (a directory check, a stat of the source, open/read/close of the .pyc, its validation) on
top of running the module's code, and a ``run`` imports about 40 modules: 3 ms of a start that
must fit in runc's. The launcher instead reads this one file and serves the modules from it.

Format: ``marshal.dumps((FORMAT, {name: (is_package, source path, st_mtime_ns, st_size, code)}))``
where ``code`` is itself ``marshal.dumps`` of the module's code object, unmarshalled only when the
module is imported. The file is named after the interpreter's cache tag, like a .pyc, because the
marshal format belongs to one Python version. A module is served from here only while its source
has exactly the recorded mtime and size; otherwise (edited since, or gone) the launcher leaves it
to the normal import, so a stale file is slower, never wrong.
"""

from __future__ import annotations

import marshal
import os
import sys

FORMAT = 1
#: The packages the runtime may import (DESIGN.md: the runtime imports only the leaves).
PACKAGES = ("dockyard.runtime", "dockyard.util", "dockyard.oci")
MODULES = ("dockyard", "dockyard.errors")


def path_for(package_root: str) -> str:
    """The cache file for the ``dockyard`` package found in ``package_root`` (a sys.path entry)."""
    return os.path.join(
        package_root, "dockyard", "__pycache__", f"runtime-modules.{sys.implementation.cache_tag}.marshal"
    )


def _sources(package_root: str) -> dict[str, tuple[str, bool]]:
    """Module name -> (source path, is a package) for every module of MODULES and PACKAGES."""
    found: dict[str, tuple[str, bool]] = {}
    for name in MODULES:
        base = os.path.join(package_root, *name.split("."))
        if os.path.isfile(os.path.join(base, "__init__.py")):
            found[name] = (os.path.join(base, "__init__.py"), True)
        elif os.path.isfile(base + ".py"):
            found[name] = (base + ".py", False)
    for package in PACKAGES:
        top = os.path.join(package_root, *package.split("."))
        for folder, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            if "__init__.py" not in files:
                dirs[:] = []
                continue
            rel = os.path.relpath(folder, package_root)
            dotted = rel.replace(os.sep, ".")
            for fname in sorted(files):
                if not fname.endswith(".py"):
                    continue
                if fname == "__init__.py":
                    found[dotted] = (os.path.join(folder, fname), True)
                else:
                    found[f"{dotted}.{fname[:-3]}"] = (os.path.join(folder, fname), False)
    return found


def build(package_root: str) -> dict[str, tuple[bool, str, int, int, bytes]]:
    table: dict[str, tuple[bool, str, int, int, bytes]] = {}
    for name, (path, is_package) in _sources(package_root).items():
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            source = f.read()
        # As importlib compiles a source file (SourceLoader.source_to_code): the same code object
        # the .pyc would hold, with the real path for tracebacks.
        code = compile(source, path, "exec", dont_inherit=True)
        table[name] = (is_package, path, st.st_mtime_ns, st.st_size, marshal.dumps(code))
    return table


def write(package_root: str) -> str:
    """Build the cache file for the package under ``package_root``; its path."""
    from dockyard.util.atomic import write_atomic

    target = path_for(package_root)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    write_atomic(target, marshal.dumps((FORMAT, build(package_root))), 0o644, sync=False)
    return target


def package_root() -> str:
    """The sys.path entry this ``dockyard`` package was imported from."""
    import dockyard

    return os.path.dirname(os.path.dirname(os.path.abspath(dockyard.__file__)))


def main() -> int:
    print(write(package_root()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
