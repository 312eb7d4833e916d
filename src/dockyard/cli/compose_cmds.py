"""The ``dockyard compose`` subcommands: flags in, a call into :mod:`dockyard.compose`, output out.

``exec`` and ``run`` reuse ``dockyard exec``'s and ``dockyard run``'s attach machinery, so
TTYs, signals and detach keys behave exactly as they do there.
"""

from __future__ import annotations

import time

from dockyard.cli import build_context, formatter, tabwriter
from dockyard.cli.command import Command, Exit
from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.compose import Compose
    from dockyard.cli.flags import FlagSet, Options
    from dockyard.compose.model import Project
    from dockyard.compose.state import Container


def _cmd(c: Compose, usage: str, summary: str, **kw: int | None) -> Command:
    return Command(c.ctx, usage, summary, **kw)  # type: ignore[arg-type]


def _scale(values: list[str]) -> dict[str, int]:
    out = {}
    for spec in values:
        name, sep, count = spec.partition("=")
        if not sep or not count.isdigit():
            raise InvalidArgument(f'invalid --scale "{spec}": use SERVICE=NUMBER, e.g. api=3')
        out[name] = int(count)
    return out


def _timeout(opts: Options) -> int | None:
    return int(opts.timeout) if opts.changed("timeout") else None


def converge_flags(f: FlagSet) -> None:
    """The flags ``up`` and ``create`` share."""
    f.bool("build", help="Build images before starting containers")
    f.bool("no-build", help="Don't build an image, even if it's policy")
    f.bool("force-recreate", help="Recreate containers even if their configuration and image haven't changed")
    f.bool("no-recreate", help="If containers already exist, don't recreate them")
    f.string("pull", help='Pull image before running ("always"|"missing"|"never")', default="policy")
    f.bool("quiet-pull", help="Pull without printing progress information")
    f.bool("remove-orphans", help="Remove containers for services not defined in the Compose file")
    f.strings("scale", help="Scale SERVICE to NUM instances. Overrides the scale setting in the Compose file")


def check_converge_flags(cmd: Command, opts: Options) -> None:
    if opts.force_recreate and opts.no_recreate:
        raise cmd.fail("--force-recreate and --no-recreate are incompatible")


def converge(c: Compose, project: Project, services: list[str], opts: Options, **more: Any) -> list[str]:
    """Converge ``project`` as ``up`` and ``create`` do, with the :func:`converge_flags` in
    ``opts`` and the rest of :class:`UpOptions` in ``more``; the services touched."""
    from dockyard.compose.up import Converger, UpOptions

    progress = c.progress()
    converger = Converger(
        c.ctx.client, project, progress, config=c.ctx.config(),
        tar_context=None if opts.no_build else build_context.tar_context, warn=c.ctx.warn,
    )  # fmt: skip
    try:
        return converger.up(
            UpOptions(
                services=services, force_recreate=opts.force_recreate, no_recreate=opts.no_recreate,
                build=opts.build, pull_always=opts.pull == "always", scale=_scale(opts.scale),
                remove_orphans=opts.remove_orphans, **more,
            )
        )  # fmt: skip
    finally:
        progress.close()


def _attached(project: Project, named: list[str], targets: list[str], opts: Options) -> set[str]:
    """The services attached ``up`` streams (and watches, for the abort flags), as Compose v2:
    ``--attach`` ones, else the services named (with their dependencies only under
    ``--attach-dependencies``), else every started one; less ``--no-attach`` ones."""
    for flag, names in (("--attach", opts.attach), ("--no-attach", opts.no_attach)):
        unknown = [n for n in names or [] if n not in project.services]
        if unknown:
            raise InvalidArgument(f'{flag}: no such service: "{unknown[0]}"')
    if opts.attach:
        chosen = set(opts.attach)
    elif named and not opts.attach_dependencies:
        chosen = set(named)
    else:
        chosen = set(targets)
    return chosen - set(opts.no_attach or [])


def up(c: Compose, argv: list[str]) -> int:
    from dockyard.compose import logs, ops, wait
    from dockyard.compose.abort import AbortPolicy, Watch
    from dockyard.compose.state import list_containers

    cmd = _cmd(c, "[OPTIONS] [SERVICE...]", "Create and start containers")
    f = cmd.flags
    f.bool("detach", "d", "Detached mode: Run containers in the background")
    converge_flags(f)
    f.bool("always-recreate-deps", help="Recreate dependent containers. Incompatible with --no-recreate.")
    f.bool("no-deps", help="Don't start linked services")
    f.bool("no-start", help="Don't start the services after creating them")
    f.bool("wait", help="Wait for services to be running|healthy. Implies detached mode")
    f.int("wait-timeout", help="Maximum duration in seconds to wait for the project to be running|healthy")
    f.bool(
        "renew-anon-volumes",
        "V",
        "Recreate anonymous volumes instead of retrieving data from the previous containers",
    )
    f.int(
        "timeout",
        "t",
        "Use this timeout in seconds for container shutdown (attached, or recreating)",
    )
    f.bool("no-color", help="Produce monochrome output")
    f.bool("no-log-prefix", help="Don't print prefix in logs")
    f.bool("timestamps", help="Show timestamps")
    f.strings("attach", help="Restrict attaching to the specified services")
    f.strings("no-attach", help="Do not attach (stream logs) to the specified services")
    f.bool("attach-dependencies", help="Automatically attach to log output of dependent services")
    f.bool("abort-on-container-exit", help="Stops all containers if any container was stopped")
    f.bool("abort-on-container-failure", help="Stops all containers if any container exited with failure")
    f.string(
        "exit-code-from",
        help="Return the exit code of the selected service container. Implies --abort-on-container-exit",
    )
    opts, services = cmd.parse(argv)
    check_converge_flags(cmd, opts)
    if opts.always_recreate_deps and opts.no_recreate:
        raise cmd.fail("--always-recreate-deps and --no-recreate are incompatible")
    policy = AbortPolicy(opts.abort_on_container_exit, opts.abort_on_container_failure, opts.exit_code_from)
    if opts.abort_on_container_exit and opts.abort_on_container_failure:
        raise cmd.fail("--abort-on-container-exit and --abort-on-container-failure are incompatible")
    if policy.active and (opts.detach or opts.wait):
        which = "--detach" if opts.detach else "--wait"
        raise cmd.fail(
            f"{which} cannot be combined with --abort-on-container-exit, --abort-on-container-failure "
            "or --exit-code-from: they watch attached containers"
        )
    detach = opts.detach or opts.wait
    project = c.load(services)
    watch = Watch(policy, project)
    since = time.time()
    targets = converge(
        c, project, services, opts, no_deps=opts.no_deps, no_start=opts.no_start, wait=opts.wait,
        wait_timeout=float(opts.wait_timeout) if opts.changed("wait-timeout") else None,
        timeout=_timeout(opts), renew_anon_volumes=opts.renew_anon_volumes,
        always_recreate_deps=opts.always_recreate_deps,
    )  # fmt: skip
    if detach or opts.no_start:
        return 0
    attached = _attached(project, services, targets, opts)
    containers = [x for x in list_containers(c.ctx.client, project.name) if x.service in attached]
    width = max((len(x.name) for x in containers), default=0)
    printer = logs.Printer(
        c.ctx.stdout, width, colour=c.colour() and not opts.no_color, prefix=not opts.no_log_prefix
    )
    printer.note("Attaching to " + ", ".join(x.name for x in containers))

    codes: dict[str, int] = {}

    def exited(x: Container) -> bool:
        code = wait.exit_code(c.ctx.client, x.id)
        codes.setdefault(x.service, code)
        printer.note(f"{x.name} exited with code {code}")
        return watch.exited(x, code)

    try:
        logs.follow(
            c.ctx.client, containers, printer, follow=True, since=f"{since:.9f}", on_exit=exited,
            timestamps=opts.timestamps,
        )  # fmt: skip
    except KeyboardInterrupt:
        printer.note("Gracefully stopping... (press Ctrl+C again to force)")
        stopping = c.progress("Stopping")
        try:
            ops.stop(c.ctx.client, project, project.name, targets, stopping, _timeout(opts))
        finally:
            stopping.close()
        raise Exit(130) from None
    if watch.trigger is None:
        return 0
    printer.note("Aborting on container exit...")
    stopping = c.progress("Stopping")
    try:
        ops.stop(c.ctx.client, project, project.name, targets, stopping, _timeout(opts))
    finally:
        stopping.close()
    for x in sorted(containers, key=lambda x: x.number):
        if x.service not in codes:
            info = wait.inspect(c.ctx.client, x.id)
            codes[x.service] = int((info.get("State") or {}).get("ExitCode", 0))
    return watch.exit_code(codes)


def down(c: Compose, argv: list[str]) -> int:
    from dockyard.compose import ops

    cmd = _cmd(c, "[OPTIONS]", "Stop and remove containers, networks", max_args=0)
    cmd.flags.bool(
        "volumes", "v", 'Remove named volumes declared in the "volumes" section of the Compose file'
    )
    cmd.flags.string(
        "rmi",
        help='Remove images used by services. ("local": built ones only, "all")',
    )
    cmd.flags.bool("remove-orphans", help="Remove containers for services not defined in the Compose file")
    cmd.flags.int("timeout", "t", "Specify a shutdown timeout in seconds")
    opts, _ = cmd.parse(argv)
    if opts.rmi not in ("", "local", "all"):
        raise cmd.fail(f'invalid --rmi "{opts.rmi}": use local or all')
    project, name = c.project_or_name()
    progress = c.progress()
    try:
        ops.down(
            c.ctx.client, project, name, progress, volumes=opts.volumes, rmi=opts.rmi,
            remove_orphans=opts.remove_orphans, timeout=_timeout(opts),
        )  # fmt: skip
    finally:
        progress.close()
    return 0


PS_TABLE = "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.Created}}\t{{.Status}}\t{{.Ports}}"
PS_HEADERS = {
    "Name": "NAME", "Image": "IMAGE", "Command": "COMMAND", "Service": "SERVICE",
    "Created": "CREATED", "Status": "STATUS", "Ports": "PORTS", "ID": "CONTAINER ID", "State": "STATE",
    "Project": "PROJECT",
}  # fmt: skip


def ps(c: Compose, argv: list[str]) -> int:
    from dockyard.cli import humanize
    from dockyard.compose import listing, ops
    from dockyard.compose.state import list_containers

    cmd = _cmd(c, "[OPTIONS] [SERVICE...]", "List containers")
    cmd.flags.bool("all", "a", "Show all stopped containers (including those created by the run command)")
    cmd.flags.bool("quiet", "q", "Only display IDs")
    cmd.flags.bool("services", help="Display services")
    cmd.flags.string(
        "format", help="Format output using a custom template: 'table', 'json', or a Go template"
    )
    cmd.flags.strings("status", help="Filter services by status")
    cmd.flags.bool("no-trunc", help="Don't truncate output")
    opts, services = cmd.parse(argv)
    project, name = c.project_or_name()
    ops.check_services(project, services)
    found = list_containers(c.ctx.client, name, oneoff=None if opts.all else False)
    found = [x for x in found if (opts.all or x.running) and (not services or x.service in services)]
    if opts.status:
        found = [x for x in found if x.state in opts.status]
    if opts.quiet:
        for x in found:
            c.ctx.print(x.id)
        return 0
    if opts.services:
        for service in dict.fromkeys(x.service for x in found):
            c.ctx.print(service)
        return 0
    rows = listing.ps_rows(found)
    for row, x in zip(rows, found, strict=True):
        if not opts.format or opts.format == "table":
            row["Created"] = humanize.ago(x.created)
            if not opts.no_trunc:
                row["Command"] = '"' + formatter.ellipsis(x.command, 20) + '"'
    spec = opts.format or PS_TABLE
    c.ctx.write(formatter.render(spec, PS_TABLE, rows, PS_HEADERS).encode())
    return 0


def ls(c: Compose, argv: list[str]) -> int:
    from dockyard.compose import listing

    cmd = _cmd(c, "[OPTIONS]", "List running compose projects", max_args=0)
    cmd.flags.bool("all", "a", "Show all stopped Compose projects")
    cmd.flags.bool("quiet", "q", "Only display project names")
    cmd.flags.string("format", help='Format the output ("table"|"json")', default="table")
    opts, _ = cmd.parse(argv)
    found = listing.projects(c.ctx.client, all=opts.all)
    if opts.quiet:
        for p in found:
            c.ctx.print(p.name)
        return 0
    if opts.format == "json":
        import json

        c.ctx.print(
            json.dumps([{"Name": p.name, "Status": p.status, "ConfigFiles": p.config_files} for p in found])
        )
        return 0
    lines = ["NAME\tSTATUS\tCONFIG FILES\n", *(f"{p.name}\t{p.status}\t{p.config_files}\n" for p in found)]
    c.ctx.write(tabwriter.render(lines, minwidth=10, padding=3).encode())
    return 0


def logs(c: Compose, argv: list[str]) -> int:
    from dockyard.cli.logs import api_timestamp
    from dockyard.compose import logs as logmux
    from dockyard.compose import ops

    cmd = _cmd(c, "[OPTIONS] [SERVICE...]", "View output from containers")
    cmd.flags.bool("follow", "f", "Follow log output")
    cmd.flags.string(
        "tail", "n", "Number of lines to show from the end of the logs for each container", default="all"
    )
    cmd.flags.bool("timestamps", "t", "Show timestamps")
    cmd.flags.string(
        "since", help="Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)"
    )
    cmd.flags.bool("no-color", help="Produce monochrome output")
    cmd.flags.bool("no-log-prefix", help="Don't print prefix in logs")
    opts, services = cmd.parse(argv)
    project, name = c.project_or_name()
    ops.check_services(project, services)
    found = ops.containers_of(c.ctx.client, name, services, oneoff=None)
    width = max((len(x.name) for x in found), default=0)
    printer = logmux.Printer(
        c.ctx.stdout, width, colour=c.colour() and not opts.no_color, prefix=not opts.no_log_prefix
    )
    logmux.follow(
        c.ctx.client, found, printer, follow=opts.follow, tail=opts.tail,
        since=api_timestamp(opts.since, "since"), timestamps=opts.timestamps,
    )  # fmt: skip
    return 0


def _simple(
    c: Compose, argv: list[str], verb: str, summary: str, *, timeout: bool = False, signal: bool = False
) -> int:
    from dockyard.compose import ops

    cmd = _cmd(c, "[OPTIONS] [SERVICE...]", summary)
    if timeout:
        cmd.flags.int("timeout", "t", "Specify a shutdown timeout in seconds")
    if signal:
        cmd.flags.string("signal", "s", "SIGNAL to send to the container", default="SIGKILL")
    opts, services = cmd.parse(argv)
    project, name = c.project_or_name()
    progress = c.progress()
    client = c.ctx.client
    try:
        if verb == "stop":
            ops.stop(client, project, name, services, progress, _timeout(opts))
        elif verb == "start":
            ops.start(client, project, name, services, progress)
        elif verb == "restart":
            ops.restart(client, project, name, services, progress, _timeout(opts))
        elif verb == "pause":
            ops.pause(client, project, name, services, progress)
        elif verb == "unpause":
            ops.unpause(client, project, name, services, progress)
        else:
            ops.kill(client, project, name, services, progress, opts.signal)
    finally:
        progress.close()
    return 0


def start(c: Compose, argv: list[str]) -> int:
    return _simple(c, argv, "start", "Start services")


def stop(c: Compose, argv: list[str]) -> int:
    return _simple(c, argv, "stop", "Stop services", timeout=True)


def restart(c: Compose, argv: list[str]) -> int:
    return _simple(c, argv, "restart", "Restart service containers", timeout=True)


def kill(c: Compose, argv: list[str]) -> int:
    return _simple(c, argv, "kill", "Force stop service containers", signal=True)


def rm(c: Compose, argv: list[str]) -> int:
    from dockyard.compose import ops

    cmd = _cmd(c, "[OPTIONS] [SERVICE...]", "Removes stopped service containers")
    cmd.flags.bool("force", "f", "Don't ask to confirm removal")
    cmd.flags.bool("stop", "s", "Stop the containers, if required, before removing")
    cmd.flags.bool("volumes", "v", "Remove any anonymous volumes attached to containers")
    opts, services = cmd.parse(argv)
    project, name = c.project_or_name()
    progress = c.progress("Removing")
    try:
        removed = ops.rm(
            c.ctx.client, project, name, services, progress, stop_first=opts.stop, volumes=opts.volumes
        )
    finally:
        progress.close()
    if not removed:
        c.ctx.warn("No stopped containers")
    return 0


def top(c: Compose, argv: list[str]) -> int:
    from dockyard.compose import listing, ops

    cmd = _cmd(c, "[SERVICES...]", "Display the running processes")
    _, services = cmd.parse(argv)
    project, name = c.project_or_name()
    ops.check_services(project, services)
    for container, titles, rows in listing.top(c.ctx.client, ops.containers_of(c.ctx.client, name, services)):
        c.ctx.print(container)
        lines = ["\t".join(titles) + "\n", *("\t".join(r) + "\n" for r in rows)]
        c.ctx.write(tabwriter.render(lines, minwidth=20, padding=1).encode())
        c.ctx.print()
    return 0


def port(c: Compose, argv: list[str]) -> int:
    from dockyard.compose import listing

    cmd = _cmd(
        c,
        "[OPTIONS] SERVICE PRIVATE_PORT",
        "Print the public port for a port binding",
        min_args=2,
        max_args=2,
    )
    cmd.flags.string("protocol", help="tcp or udp", default="tcp")
    cmd.flags.int("index", help="Index of the container if service has multiple replicas", default=1)
    opts, args = cmd.parse(argv)
    _, name = c.project_or_name()
    private = args[1] if "/" in args[1] else f"{args[1]}/{opts.protocol}"
    c.ctx.print(listing.port(c.ctx.client, name, args[0], private, opts.index))
    return 0


def events(c: Compose, argv: list[str]) -> int:
    import json

    from dockyard.client.api import encode_filters
    from dockyard.compose import labels as lbl

    cmd = _cmd(c, "[OPTIONS] [SERVICE...]", "Receive real time events from containers")
    cmd.flags.bool("json", help="Output events as a stream of json objects")
    opts, services = cmd.parse(argv)
    _, name = c.project_or_name()
    filters = lbl.project_filter(name, oneoff=None)
    filters["type"] = ["container"]
    for event in c.ctx.client.stream_json("GET", "/events", {"filters": encode_filters(filters)}):
        actor = event.get("Actor") or {}
        attrs = dict(actor.get("Attributes") or {})
        service = attrs.get("com.docker.compose.service", "")
        if services and service not in services:
            continue
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(event.get("timeNano", 0)) / 1e9))
        if opts.json:
            c.ctx.print(json.dumps({
                "time": stamp, "type": "container", "action": event.get("Action", ""),
                "id": actor.get("ID", ""), "service": service, "attributes": attrs,
            }))  # fmt: skip
        else:
            shown = ", ".join(
                f"{k}={v}" for k, v in sorted(attrs.items()) if not k.startswith("com.docker.compose.")
            )
            c.ctx.print(f"{stamp} container {event.get('Action', '')} {actor.get('ID', '')} ({shown})")
        c.ctx.flush()
    return 0


def config(c: Compose, argv: list[str]) -> int:
    cmd = _cmd(c, "[OPTIONS] [SERVICE...]", "Parse, resolve and render compose file in canonical format")
    cmd.flags.bool("services", help="Print the service names, one per line")
    cmd.flags.bool("volumes", help="Print the volume names, one per line")
    cmd.flags.bool("quiet", "q", "Only validate the configuration, don't print anything")
    opts, _ = cmd.parse(argv)
    project = c.load()
    if opts.quiet:
        return 0
    if opts.services:
        for name in project.services:
            c.ctx.print(name)
        return 0
    if opts.volumes:
        for name in project.volumes:
            c.ctx.print(name)
        return 0
    from dockyard.compose import loader

    c.ctx.write(loader.to_yaml(project).encode())
    return 0


def build(c: Compose, argv: list[str]) -> int:
    from dockyard.compose import images, ops

    cmd = _cmd(c, "[OPTIONS] [SERVICE...]", "Build or rebuild services")
    cmd.flags.bool("no-cache", help="Do not use cache when building the image")
    cmd.flags.bool("pull", help="Always attempt to pull a newer version of the image")
    cmd.flags.bool("quiet", "q", "Don't print anything to STDOUT")
    opts, services = cmd.parse(argv)
    project = c.load(services)
    ops.check_services(project, services)
    progress = c.progress("Building")
    try:
        for name in services or sorted(project.services):
            service = project.services[name]
            if service.build is not None:
                images.build(
                    c.ctx.client, project, service, build_context.tar_context, progress,
                    no_cache=opts.no_cache, pull=opts.pull,
                )  # fmt: skip
    finally:
        progress.close()
    return 0


def pull(c: Compose, argv: list[str]) -> int:
    from dockyard.compose import images, ops

    cmd = _cmd(c, "[OPTIONS] [SERVICE...]", "Pull service images")
    cmd.flags.bool("ignore-buildable", help="Ignore images that can be built")
    cmd.flags.bool("quiet", "q", "Pull without printing progress information")
    opts, services = cmd.parse(argv)
    project = c.load(services)
    ops.check_services(project, services)
    progress = c.progress("Pulling")
    try:
        for name in services or sorted(project.services):
            service = project.services[name]
            if service.image is None or (opts.ignore_buildable and service.build is not None):
                continue
            images.pull(c.ctx.client, service.image, c.ctx.config(), progress, name)
    finally:
        progress.close()
    return 0


def push(c: Compose, argv: list[str]) -> int:
    from dockyard.compose import images, ops

    cmd = _cmd(c, "[OPTIONS] [SERVICE...]", "Push service images")
    cmd.flags.bool("ignore-push-failures", help="Push what it can and ignores images with push failures")
    opts, services = cmd.parse(argv)
    project = c.load(services)
    ops.check_services(project, services)
    progress = c.progress("Pushing")
    try:
        for name in services or sorted(project.services):
            service = project.services[name]
            # As Compose: only what it builds and names; an image it only pulls is someone else's.
            if service.image is None or service.build is None:
                continue
            try:
                images.push(c.ctx.client, service.image, c.ctx.config(), progress)
            except InvalidArgument:
                if not opts.ignore_push_failures:
                    raise
    finally:
        progress.close()
    return 0


def exec_(c: Compose, argv: list[str]) -> int:
    from dockyard.cli import exec as exec_cmd
    from dockyard.compose import listing

    cmd = _cmd(
        c, "[OPTIONS] SERVICE COMMAND [ARGS...]", "Execute a command in a running container", min_args=2
    )
    cmd.flags.interspersed = False
    cmd.flags.bool("detach", "d", "Detached mode: Run command in the background")
    cmd.flags.bool("no-TTY", "T", "Disable pseudo-TTY allocation. By default `exec` allocates a TTY")
    cmd.flags.strings("env", "e", "Set environment variables")
    cmd.flags.string("user", "u", "Run the command as this user")
    cmd.flags.string("workdir", "w", "Path to workdir directory for this command")
    cmd.flags.int("index", help="Index of the container if service has multiple replicas", default=1)
    cmd.flags.bool("privileged", help="Give extended privileges to the process")
    cmd.flags.bool("interactive", "i", "Keep STDIN open even if not attached", default=True)
    opts, args = cmd.parse(argv)
    _, name = c.project_or_name()
    container = listing.replica(c.ctx.client, name, args[0], opts.index)
    forwarded: list[str] = []
    if opts.detach:
        forwarded.append("-d")
    if opts.interactive and not opts.detach:
        forwarded.append("-i")
    if not opts.no_TTY and c.ctx.stdin_is_tty():
        forwarded.append("-t")
    for spec in opts.env:
        forwarded += ["-e", spec]
    if opts.user:
        forwarded += ["-u", opts.user]
    if opts.workdir:
        forwarded += ["-w", opts.workdir]
    if opts.privileged:
        forwarded.append("--privileged")
    c.ctx.command_path = "dockyard exec"
    return exec_cmd.exec_(c.ctx, [*forwarded, container.id, *args[1:]])


def run(c: Compose, argv: list[str]) -> int:
    from dockyard.cli import envfile
    from dockyard.cli.session import Session
    from dockyard.client.api import quote_path
    from dockyard.compose import oneoff

    cmd = _cmd(c, "[OPTIONS] SERVICE [COMMAND] [ARGS...]", "Run a one-off command on a service", min_args=1)
    cmd.flags.interspersed = False
    f = cmd.flags
    f.bool("detach", "d", "Run container in background and print container ID")
    f.bool("rm", help="Automatically remove the container when it exits")
    f.strings("env", "e", "Set environment variables")
    f.string("entrypoint", help="Override the entrypoint of the image")
    f.string("user", "u", "Run as specified username or uid")
    f.string("workdir", "w", "Working directory inside the container")
    f.string("name", help="Assign a name to the container")
    f.bool("no-TTY", "T", "Disable pseudo-TTY allocation (default: auto-detected)")
    f.bool("interactive", "i", "Keep STDIN open even if not attached", default=True)
    f.bool("no-deps", help="Don't start linked services")
    f.bool("service-ports", help="Run command with all service's ports enabled and mapped to the host")
    f.strings("label", "l", "Add or override a label")
    opts, args = cmd.parse(argv)
    project = c.load(args[:1])
    tty = not opts.no_TTY and c.ctx.stdin_is_tty() and not opts.detach
    stdin = opts.interactive and not opts.detach
    env = dict(envfile.env_value(spec, c.ctx.env).partition("=")[::2] for spec in opts.env)
    run_opts = oneoff.RunOptions(
        service=args[0], command=args[1:] or None, environment=env,
        entrypoint=[opts.entrypoint] if opts.entrypoint else None, user=opts.user, workdir=opts.workdir,
        name=opts.name, tty=tty, stdin_open=stdin, remove=opts.rm, no_deps=opts.no_deps,
        service_ports=opts.service_ports, labels=envfile.labels_map(opts.label),
    )  # fmt: skip
    progress = c.progress()
    try:
        cid, name = oneoff.create(
            c.ctx.client,
            project,
            run_opts,
            progress,
            config=c.ctx.config(),
            tar_context=build_context.tar_context,
        )
    finally:
        progress.close()
    path = f"/containers/{quote_path(cid)}"
    if opts.detach:
        c.ctx.client.post(f"{path}/start")
        c.ctx.print(name)
        return 0
    session = Session(c.ctx, cid, tty=tty, stdin=stdin)
    try:
        session.attach()
        session.register_wait(auto_remove=opts.rm)
        c.ctx.client.post(f"{path}/start")
        if session.pump():
            return 0
        c.ctx.flush()
        status = session.exit_status()
    finally:
        session.close()
    if status:
        raise Exit(status)
    return 0
