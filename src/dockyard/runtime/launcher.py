"""What ``bin/dockyard-runtime`` runs: the start of every runtime command, cheapest first.

The script itself stays a few lines, because Python compiles a script from source on every start
(the former 140-line launcher cost 1.5 ms of that); this module's code comes precompiled from the
module cache file next to the script (codecache.py), or through a normal import without one.

``boot`` does, in this order:

1. the cyclic garbage collector off: the process is short-lived, and the collector's passes over
   the objects made while importing cost CPU and, after fork, copies of every page they touch
   (each pass writes to the objects it visits); the verbs that wait for long turn it back on;
2. sys.path as ``site`` would set it for the environment (the package's folder first, recorded
   when the cache was built), without running ``site`` (python -S);
3. the meta path finder serving the runtime's modules from the cache;
4. for ``create``, ``run`` and ``exec``, the cgroup migration priming (cgroups/prime.py): its
   grace period is the longest wait of a container start, so it starts before anything else is
   imported;
5. ``cli.main``, then exit through _exit(2), without the interpreter's teardown (freeing every
   module and object one by one).

No ``from __future__ import annotations`` here: that line imports the ``__future__`` module, and
this module runs before the finder that serves it from the cache is installed.
"""

import gc
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

#: The cache file's layout version (codecache.py writes it; bin/dockyard-runtime checks it).
FORMAT = 3

#: name -> (is_package, source path, st_mtime_ns, st_size, offset, length, deps): where the
#: module's marshalled code lies in the cache file, and the cached modules its top-level import
#: statements name, in order (see codecache.py).
Entry = tuple[bool, str, int, int, int, int, tuple[str, ...]]

# importlib.machinery.ModuleSpec, without importing importlib
_ModuleSpec: "type[ModuleSpec]" = type(sys.__spec__)


class CachedModules:
    """A meta path finder and loader serving modules from the cache file's bytes.

    A module is served only while its source has exactly the recorded mtime and size; otherwise
    (edited since the cache was written, or gone) the normal import takes over, so a stale cache
    is slower, never wrong.

    Most of an import's cost left, once no file is searched, is importlib's own Python code around
    each module (locks, spec and attribute set-up, bookkeeping), some 30 microseconds. So when
    importlib hands a module over, its dependencies (the cached modules its top-level import
    statements name) are loaded first, directly: module object, attributes as importlib sets
    them, sys.modules, code, attribute on the parent package. The module's own import statements
    then find them in sys.modules, which the interpreter's C fast path answers alone. Parents come
    before children, and dependencies before the module, as the statements would run them; a
    module already being loaded is left to its import statement (an import cycle), which then
    sees it half-initialized exactly as Python would.
    """

    def __init__(self, data: memoryview, modules: "dict[str, Entry]", cache_path: str) -> None:
        self.data = data
        self.modules = modules
        self.cache_path = cache_path  # each module's __cached__: where its code came from
        self.loading: set[str] = set()

    def _entry(self, name: str) -> "Entry | None":
        entry = self.modules.get(name)
        if entry is None:
            return None
        source, mtime_ns, size = entry[1:4]
        try:
            st = os.stat(source)
        except OSError:
            st = None
        if st is None or st.st_mtime_ns != mtime_ns or st.st_size != size:
            del self.modules[name]
            return None
        return entry

    def _spec(self, name: str, entry: "Entry") -> "ModuleSpec":
        is_package, source = entry[0], entry[1]
        spec = _ModuleSpec(name, self, origin=source, loader_state=entry, is_package=is_package)  # type: ignore[arg-type]
        spec.has_location = True  # __file__ is the source, as with a normal import
        spec.cached = self.cache_path
        if is_package:
            spec.submodule_search_locations = [os.path.dirname(source)]
        return spec

    def find_spec(
        self, name: str, path: "Sequence[str] | None" = None, target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        entry = self._entry(name)
        return None if entry is None else self._spec(name, entry)

    def create_module(self, spec: "ModuleSpec") -> None:
        return None

    def exec_module(self, module: "ModuleType") -> None:
        entry: Entry = module.__spec__.loader_state  # type: ignore[union-attr]
        self._run(module, entry)

    def _run(self, module: "ModuleType", entry: "Entry") -> None:
        import marshal

        name = module.__name__
        self.loading.add(name)
        try:
            for dep in entry[6]:
                if dep not in sys.modules and dep not in self.loading:
                    self.load(dep)
            offset, length = entry[4], entry[5]
            exec(marshal.loads(self.data[offset : offset + length]), module.__dict__)
        finally:
            self.loading.discard(name)

    def load(self, name: str, parents: bool = True) -> bool:
        """Load ``name`` directly (see the class doc); False when it is not served from here.

        Without ``parents``, its parent packages are not imported first (the priming module,
        which imports nothing of ours, loaded before anything else)."""
        parent, _, child = name.rpartition(".")
        if parents and parent and parent not in sys.modules:
            if not self.load(parent):
                __import__(parent)
            if name in sys.modules:
                return True  # the parent's __init__ imported it
        entry = self._entry(name)
        if entry is None:
            return False
        spec = self._spec(name, entry)
        module = type(sys)(name)
        module.__spec__ = spec
        module.__loader__ = self  # type: ignore[assignment]
        module.__package__ = spec.parent
        module.__file__ = spec.origin
        module.__cached__ = spec.cached  # type: ignore[attr-defined]
        if spec.submodule_search_locations is not None:
            module.__path__ = spec.submodule_search_locations
        sys.modules[name] = module
        try:
            self._run(module, entry)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        if parents and parent:
            setattr(sys.modules[parent], child, module)
        return True


def set_path(meta: "dict[str, object] | None") -> None:
    """sys.path for the runtime: the script's own folder out, the package's folders first."""
    script_dir = os.path.dirname(os.path.abspath(sys.argv[0]))
    if sys.path and os.path.abspath(sys.path[0] or ".") == script_dir:
        del sys.path[0]  # bin/ of the environment: nothing is imported from there
    if meta is not None:
        first = [p for p in meta["roots"] if p not in sys.path]  # type: ignore[attr-defined]
        last = [p for p in meta["site_packages"] if p not in sys.path]  # type: ignore[attr-defined]
        sys.path[0:0] = first
        sys.path.extend(last)


def boot(data: "memoryview | None", meta: "dict[str, object] | None", cache_path: str = "") -> int:
    """Start the runtime; its exit code. ``data``/``meta``: the cache file's, or None without one
    (the caller then put the package on sys.path and imported this module normally)."""
    gc.disable()
    set_path(meta)
    finder = None
    if data is not None and meta is not None:
        finder = CachedModules(data, meta["modules"], cache_path)  # type: ignore[arg-type]
        sys.meta_path.insert(0, finder)
    # Before the package itself is imported: prime.py needs nothing of it.
    name = "dockyard.runtime.cgroups.prime"
    if finder is None or not finder.load(name, parents=False):
        __import__(name)
    sys.modules[name].prime_for(sys.argv)
    from dockyard.runtime.cli import main

    return main()


def exit_now(code: int) -> None:
    """Exit without the interpreter's teardown: flush what Python still buffers, then _exit(2)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken pipe: what could not be written is lost either way
    os._exit(code)
