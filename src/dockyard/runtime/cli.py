"""``dockyard-runtime``: runc's command line, so engines call us exactly as they call runc.

The parser is written here rather than with argparse: argparse costs more to import than the
whole container start is allowed to take. Like runc (urfave/cli), global flags come before the
verb and a verb's flags before its positional arguments; ``--flag value``, ``--flag=value`` and
the single-dash long form ``-flag`` are all accepted.
"""

from __future__ import annotations

import os
import sys

from dockyard import __version__
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.runtime.log import Logger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_ROOT = "/run/dockyard-runtime"
SPEC_VERSION = "1.1.0"

# name -> (aliases, takes a value, repeatable)
Flag = tuple[tuple[str, ...], bool, bool]
GLOBAL_FLAGS: dict[str, Flag] = {
    "root": ((), True, False),
    "log": ((), True, False),
    "log-format": ((), True, False),
    "debug": ((), False, False),
    "systemd-cgroup": ((), False, False),
    "criu": ((), True, False),
    "rootless": ((), True, False),
    "help": (("h",), False, False),
    "version": (("v",), False, False),
}
CREATE_FLAGS: dict[str, Flag] = {
    "bundle": (("b",), True, False),
    "pid-file": ((), True, False),
    "console-socket": ((), True, False),
    "no-pivot": ((), False, False),
    "no-new-keyring": ((), False, False),
    "preserve-fds": ((), True, False),
    "pidfd-socket": ((), True, False),
}
VERB_FLAGS: dict[str, dict[str, Flag]] = {
    "create": CREATE_FLAGS,
    "run": {
        **CREATE_FLAGS,
        "detach": (("d",), False, False),
        "keep": ((), False, False),
        "no-subreaper": ((), False, False),
    },
    "start": {},
    "state": {},
    "kill": {"all": (("a",), False, False)},
    "delete": {"force": (("f",), False, False)},
    "exec": {
        "process": (("p",), True, False),
        "tty": (("t",), False, False),
        "detach": (("d",), False, False),
        "pid-file": ((), True, False),
        "console-socket": ((), True, False),
        "cwd": ((), True, False),
        "env": (("e",), True, True),
        "user": (("u",), True, False),
        "additional-gids": (("g",), True, True),
        "cap": (("c",), True, True),
        "no-new-privs": ((), False, False),
        "preserve-fds": ((), True, False),
        "process-label": ((), True, False),
        "apparmor": ((), True, False),
        "ignore-paused": ((), False, False),
        "cgroup": ((), True, True),
        "no-subreaper": ((), False, False),
        "pidfd-socket": ((), True, False),
    },
    "list": {"format": (("f",), True, False), "quiet": (("q",), False, False)},
    "ps": {"format": (("f",), True, False)},
    "pause": {},
    "resume": {},
    "events": {"stats": ((), False, False), "interval": ((), True, False)},
    "update": {
        "resources": (("r",), True, False),
        "memory": ((), True, False),
        "memory-reservation": ((), True, False),
        "memory-swap": ((), True, False),
        "kernel-memory": ((), True, False),
        "kernel-memory-tcp": ((), True, False),
        "cpu-shares": ((), True, False),
        "cpu-quota": ((), True, False),
        "cpu-period": ((), True, False),
        "cpu-rt-period": ((), True, False),
        "cpu-rt-runtime": ((), True, False),
        "cpuset-cpus": ((), True, False),
        "cpuset-mems": ((), True, False),
        "pids-limit": ((), True, False),
        "blkio-weight": ((), True, False),
        "l3-cache-schema": ((), True, False),
        "mem-bw-schema": ((), True, False),
    },
    "spec": {"bundle": (("b",), True, False), "rootless": ((), False, False)},
    "features": {},
}
USAGE = """dockyard-runtime: an OCI runtime (runc-compatible command line)

Usage: dockyard-runtime [global options] COMMAND [command options] [arguments...]

Commands:
  create   create a container          start    start a created container
  run      create and start            state    print the state of a container
  kill     send a signal               delete   delete a container
  exec     run a process in one        list     list containers
  ps       processes of a container    pause    freeze all processes
  resume   thaw them                   events   container stats (--stats)
  update   change resource limits      spec     write a default config.json
  features print the runtime's features

Global options:
  --root DIR          state folder (default /run/dockyard-runtime)
  --log FILE          log file          --log-format text|json
  --debug             debug logging     --systemd-cgroup  use systemd cgroups
  --version           print the version
"""


def parse_flags(
    argv: list[str], table: dict[str, Flag], stop_at_positional: bool = True
) -> tuple[dict[str, Any], list[str]]:
    lookup: dict[str, str] = {}
    for name, (aliases, _, _) in table.items():
        lookup[name] = name
        for a in aliases:
            lookup[a] = name
    values: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return values, argv[i + 1 :]
        if not arg.startswith("-") or arg == "-":
            if stop_at_positional:
                return values, argv[i:]
            i += 1
            continue
        key = arg.lstrip("-")
        inline: str | None = None
        if "=" in key:
            key, _, inline = key.partition("=")
        found = lookup.get(key)
        if found is None:
            raise InvalidArgument(f"flag provided but not defined: -{key}")
        name = found
        _, takes_value, repeat = table[name]
        if takes_value:
            if inline is None:
                i += 1
                if i >= len(argv):
                    raise InvalidArgument(f"flag needs an argument: --{name}")
                inline = argv[i]
            if repeat:
                values.setdefault(name, []).append(inline)
            else:
                values[name] = inline
        else:
            values[name] = inline is None or inline.lower() in ("true", "1")
        i += 1
    return values, []


def version_text() -> str:
    seccomp_version = ""
    try:
        from dockyard.runtime import seccomp

        seccomp_version = seccomp.library_version()
    except Exception:  # libseccomp absent: the line is omitted, as runc built without it
        pass
    lines = [
        f"dockyard-runtime version {__version__}",
        "commit: none",
        f"spec: {SPEC_VERSION}",
        f"python: {sys.version.split()[0]}",
    ]
    if seccomp_version:
        lines.append(f"libseccomp: {seccomp_version}")
    return "\n".join(lines)


def _one_id(verb: str, args: list[str]) -> str:
    if len(args) != 1:
        raise InvalidArgument(f"{verb} needs exactly one container id, got {len(args)} arguments")
    return args[0]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Before anything else: see cgroups/prime.py (a kernel wait we can overlap with our own
    # start-up). Through the launcher, already done.
    from dockyard.runtime.cgroups.prime import prime_for

    prime_for(argv)
    log = Logger()
    try:
        gflags, rest = parse_flags(argv, GLOBAL_FLAGS)
        log = Logger(gflags.get("log", ""), gflags.get("log-format", "text"), bool(gflags.get("debug")))
        if gflags.get("log-format", "text") not in ("text", "json"):
            raise InvalidArgument(f"--log-format {gflags['log-format']!r}: use text or json")
        if gflags.get("version"):
            print(version_text())
            return 0
        if gflags.get("help") or not rest or rest[0] in ("help", "-h", "--help"):
            sys.stdout.write(USAGE)
            return 0 if gflags.get("help") or (rest and rest[0] in ("help", "-h", "--help")) else 1
        verb, vargs = rest[0], rest[1:]
        table = VERB_FLAGS.get(verb)
        if table is None:
            raise InvalidArgument(f"unknown command {verb!r}: run `dockyard-runtime --help` for the list")
        flags, args = parse_flags(vargs, table)
        root = os.path.abspath(gflags.get("root") or DEFAULT_ROOT)
        if gflags.get("systemd-cgroup") and not os.path.isdir("/run/systemd/system"):
            from dockyard.errors import Unsupported

            raise Unsupported(
                "--systemd-cgroup: systemd is not running on this host "
                "(no /run/systemd/system); use the cgroupfs driver (omit the flag)"
            )
        return dispatch(verb, flags, args, root, gflags, log)
    except DockyardError as exc:
        log.error(exc.message)
        sys.stderr.write(f"dockyard-runtime: {exc.message}\n")
        return exc.exit_code
    except OSError as exc:
        msg = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
        log.error(msg)
        sys.stderr.write(f"dockyard-runtime: {msg}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # A bug of ours: still report it where engines look (containerd reads --log), not only
        # as a traceback on a stderr nobody may see.
        import traceback

        msg = f"internal error: {type(exc).__name__}: {exc}"
        log.error(msg)
        sys.stderr.write(f"dockyard-runtime: {msg}\n")
        traceback.print_exc()
        return 1


def dispatch(
    verb: str, flags: dict[str, Any], args: list[str], root: str, gflags: dict[str, Any], log: Logger
) -> int:
    if verb in ("create", "run"):
        from dockyard.runtime.create import CreateOptions

        cid = _one_id(verb, args)
        opts = CreateOptions(
            root=root,
            container_id=cid,
            bundle=flags.get("bundle") or os.getcwd(),
            pid_file=flags.get("pid-file", ""),
            console_socket=flags.get("console-socket", ""),
            no_pivot=bool(flags.get("no-pivot")),
            preserve_fds=_int_flag(flags, "preserve-fds"),
            systemd_cgroup=bool(gflags.get("systemd-cgroup")),
            no_new_keyring=bool(flags.get("no-new-keyring")),
        )
        if verb == "create":
            from dockyard.runtime.create import create

            create(opts)
            return 0
        from dockyard.runtime.run import run

        return run(opts, detach=bool(flags.get("detach")), keep=bool(flags.get("keep")))
    if verb == "start":
        from dockyard.runtime.start import start

        for w in start(root, _one_id(verb, args)):
            log.warning(w)
            sys.stderr.write(f"dockyard-runtime: warning: {w}\n")
        return 0
    if verb == "state":
        from dockyard.runtime.query import state_doc

        _print_json(state_doc(root, _one_id(verb, args)), indent=2)
        return 0
    if verb == "kill":
        from dockyard.runtime.kill import kill, parse_signal

        if not args or len(args) > 2:
            raise InvalidArgument("kill needs a container id and optionally a signal: kill ID [SIGNAL]")
        kill(root, args[0], parse_signal(args[1] if len(args) > 1 else "TERM"), bool(flags.get("all")))
        return 0
    if verb == "delete":
        from dockyard.runtime.delete import delete

        if not args:
            raise InvalidArgument("delete needs at least one container id")
        for cid in args:
            for w in delete(root, cid, bool(flags.get("force"))):
                log.warning(w)
                sys.stderr.write(f"dockyard-runtime: warning: {w}\n")
        return 0
    if verb == "exec":
        from dockyard.runtime.exec import ExecOptions, exec_process

        if not args:
            raise InvalidArgument("exec needs a container id")
        for unsupported in ("process-label", "apparmor"):
            if flags.get(unsupported):
                from dockyard.errors import Unsupported

                raise Unsupported(f"--{unsupported}: the matching LSM is not enabled on this host")
        eopts = ExecOptions(
            root=root,
            container_id=args[0],
            process_file=flags.get("process", ""),
            args=args[1:],
            tty=bool(flags.get("tty")),
            detach=bool(flags.get("detach")),
            pid_file=flags.get("pid-file", ""),
            console_socket=flags.get("console-socket", ""),
            cwd=flags.get("cwd", ""),
            env=flags.get("env", []),
            user=flags.get("user", ""),
            additional_gids=[int(g) for g in flags.get("additional-gids", [])],
            cap=flags.get("cap", []),
            no_new_privs=bool(flags.get("no-new-privs")),
            preserve_fds=_int_flag(flags, "preserve-fds"),
            ignore_paused=bool(flags.get("ignore-paused")),
        )
        return exec_process(eopts)
    if verb == "list":
        from dockyard.runtime.query import list_containers

        return list_containers(root, flags.get("format", "table"), bool(flags.get("quiet")))
    if verb == "ps":
        from dockyard.runtime.query import ps

        if not args:
            raise InvalidArgument("ps needs a container id")
        return ps(root, args[0], flags.get("format", "table"), args[1:])
    if verb in ("pause", "resume"):
        from dockyard.runtime.query import pause_resume

        pause_resume(root, _one_id(verb, args), verb == "pause")
        return 0
    if verb == "events":
        from dockyard.runtime.query import events

        return events(root, _one_id(verb, args), bool(flags.get("stats")), flags.get("interval", "5s"))
    if verb == "update":
        from dockyard.runtime.update import update

        update(root, _one_id(verb, args), flags)
        return 0
    if verb == "spec":
        from dockyard.runtime.spec import default_spec

        bundle = flags.get("bundle") or "."
        path = os.path.join(bundle, "config.json")
        if os.path.exists(path):
            raise InvalidArgument(f"File {path} exists. Remove it first.")
        import json

        from dockyard.util.atomic import write_atomic

        write_atomic(
            path, json.dumps(default_spec(rootless=bool(flags.get("rootless"))), indent="\t").encode()
        )
        return 0
    if verb == "features":
        from dockyard.runtime.spec import features

        _print_json(features(), indent=4)
        return 0
    raise InvalidArgument(f"unknown command {verb!r}")


def _int_flag(flags: dict[str, Any], name: str) -> int:
    value = flags.get(name, "0")
    try:
        return int(value)
    except ValueError:
        raise InvalidArgument(f"--{name} {value!r}: must be a number") from None


def _print_json(doc: Any, indent: int | None = None) -> None:
    from dockyard.oci import fastjson

    sys.stdout.write(fastjson.dumps(doc, indent=indent) + "\n")


if __name__ == "__main__":
    sys.exit(main())
