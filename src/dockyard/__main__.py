"""The ``dockyard`` command: dispatches a verb to the package that owns it.

``dockyard runtime ...`` is ``dockyard-runtime ...`` (runc's command line). Later the ``daemon``
and ``registry`` verbs go to their packages and everything else to ``dockyard.cli``. Targets are
imported by name only when their verb is used, so ``dockyard --version`` (and later
``dockyard ps``) never loads the runtime's or the daemon's code: this module imports ``sys`` only
(``__import__`` instead of importlib, which pulls in ``warnings``).
"""

import sys

USAGE = """\
usage: dockyard [--version] COMMAND [ARGS...]

commands:
  daemon [FLAGS]    run the daemon: the Docker Engine API on unix:///run/dockyard.sock
  runtime ARGS...   the OCI runtime, runc's command line (same as dockyard-runtime)

options:
  -h, --help        show this help
  -v, --version     print the version
"""

# verb -> (module, program name it reports in its own messages)
_VERBS = {
    "runtime": ("dockyard.runtime.cli", "dockyard-runtime"),
    "daemon": ("dockyard.daemon.main", "dockyard daemon"),
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    if args[0] in ("-v", "--version", "version"):
        from dockyard import __version__

        sys.stdout.write(f"dockyard version {__version__}\n")
        return 0
    target = _VERBS.get(args[0])
    if target is None:
        sys.stderr.write(f'dockyard: unknown command "{args[0]}": see `dockyard --help`\n')
        return 2
    module_name, prog = target
    # The target parses sys.argv as if it had been started under its own name.
    sys.argv = [prog, *args[1:]]
    module = __import__(module_name, fromlist=["main"])
    code = module.main()
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
