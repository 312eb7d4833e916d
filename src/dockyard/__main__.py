"""The ``dockyard`` command: dispatches a verb to the package that owns it.

``dockyard runtime ...`` is ``dockyard-runtime ...`` (runc's command line); ``daemon`` and
``registry`` go to their packages; every other verb, and the global options before it
(``dockyard -H tcp://... ps``), go to ``dockyard.cli``. Targets are imported by name only when
their verb is used, so ``dockyard ps`` never loads the runtime's or the daemon's code: this
module imports ``sys`` only (``__import__`` instead of importlib, which pulls in ``warnings``).
"""

import sys

# verb -> (module, program name it reports in its own messages)
_VERBS = {
    "runtime": ("dockyard.runtime.cli", "dockyard-runtime"),
    "daemon": ("dockyard.daemon.main", "dockyard daemon"),
    "registry": ("dockyard.registry.cli", "dockyard registry"),
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = _VERBS.get(args[0]) if args else None
    if target is None:
        cli = __import__("dockyard.cli.main", fromlist=["main"])
        code = cli.main(args)
        return code if isinstance(code, int) else 0
    module_name, prog = target
    # The target parses sys.argv as if it had been started under its own name.
    sys.argv = [prog, *args[1:]]
    module = __import__(module_name, fromlist=["main"])
    code = module.main()
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
