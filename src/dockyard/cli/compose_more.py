"""More ``dockyard compose`` subcommands, as Compose v2 has them: ``create``, ``pause``,
``unpause``, ``images``, ``cp``, ``version``, ``scale``, ``wait``, and ``attach``, ``export``,
``commit``, ``stats`` on a service's container."""

from __future__ import annotations

from dockyard.cli import formatter
from dockyard.cli.command import Exit
from dockyard.cli.compose_cmds import _cmd, _scale, _simple, check_converge_flags, converge, converge_flags
from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.compose import Compose


def create(c: Compose, argv: list[str]) -> int:
    cmd = _cmd(c, "[OPTIONS] [SERVICE...]", "Creates containers for a service")
    converge_flags(cmd.flags)
    opts, services = cmd.parse(argv)
    check_converge_flags(cmd, opts)
    converge(c, c.load(services), services, opts, no_start=True)
    return 0


def pause(c: Compose, argv: list[str]) -> int:
    return _simple(c, argv, "pause", "Pause services")


def unpause(c: Compose, argv: list[str]) -> int:
    return _simple(c, argv, "unpause", "Unpause services")


IMAGES_TABLE = "table {{.ContainerName}}\t{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}"
IMAGES_HEADERS = {
    "ContainerName": "CONTAINER", "Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "Size": "SIZE",
}  # fmt: skip


def images(c: Compose, argv: list[str]) -> int:
    from dockyard.cli import humanize
    from dockyard.client.api import quote_path
    from dockyard.client.errors import NoSuchObject
    from dockyard.compose import ops
    from dockyard.oci import reference

    cmd = _cmd(c, "[OPTIONS] [SERVICE...]", "List images used by the created containers")
    cmd.flags.bool("quiet", "q", "Only display IDs")
    cmd.flags.string("format", help="Format the output. Values: [table | json]", default="table")
    opts, services = cmd.parse(argv)
    project, name = c.project_or_name()
    ops.check_services(project, services)
    rows = []
    for x in ops.containers_of(c.ctx.client, name, services, oneoff=None):
        try:
            info = c.ctx.client.get(f"/images/{quote_path(x.image_id or x.image)}/json")
        except NoSuchObject:
            info = {"Id": x.image_id, "Size": 0}
        ref = reference.parse(x.image)
        repo, tag = ref.familiar_repository, ref.tag or "<none>"
        image_id = str(info.get("Id") or x.image_id)
        size = int(info.get("Size") or 0)
        rows.append(
            {
                "ContainerName": x.name, "Repository": repo, "Tag": tag,
                "ID": image_id.removeprefix("sha256:")[:12], "Size": humanize.size(size, 3),
                "FullID": image_id, "Bytes": size,
            }
        )  # fmt: skip
    if opts.quiet:
        for full in dict.fromkeys(r["FullID"] for r in rows):
            c.ctx.print(str(full))
        return 0
    if opts.format == "json":
        import json

        out = [
            {"ID": r["FullID"], "ContainerName": r["ContainerName"], "Repository": r["Repository"],
             "Tag": r["Tag"], "Size": r["Bytes"]}
            for r in rows
        ]  # fmt: skip
        c.ctx.print(json.dumps(out))
        return 0
    if opts.format not in ("", "table"):
        raise InvalidArgument(f'invalid --format "{opts.format}": use table or json')
    c.ctx.write(formatter.render(IMAGES_TABLE, IMAGES_TABLE, rows, IMAGES_HEADERS).encode())
    return 0


def cp(c: Compose, argv: list[str]) -> int:
    from dockyard.cli.cp import copy_from, copy_to, split_container_path
    from dockyard.compose import ops

    cmd = _cmd(
        c,
        "[OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n\t"
        "dockyard compose cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH",
        "Copy files/folders between a service container and the local filesystem",
        min_args=2,
        max_args=2,
    )
    cmd.flags.bool("archive", "a", "Archive mode (copy all uid/gid information)")
    cmd.flags.bool("follow-link", "L", "Always follow symbol link in SRC_PATH")
    cmd.flags.int("index", help="Index of the container if service has multiple replicas", default=0)
    cmd.flags.bool("all", help="Include containers created by the run command", hidden=True)
    opts, (src_arg, dest_arg) = cmd.parse(argv)
    src_service, src = split_container_path(src_arg)
    dest_service, dest = split_container_path(dest_arg)
    if bool(src_service) == bool(dest_service):
        raise cmd.fail("give exactly one SERVICE:PATH, the other a local path (or -)")
    service = src_service or dest_service
    project, name = c.project_or_name()
    ops.check_services(project, [service])
    found = sorted(ops.containers_of(c.ctx.client, name, [service]), key=lambda x: x.number)
    if opts.index:
        found = [x for x in found if x.number == opts.index]
    elif src_service:
        found = found[:1]  # docker compose copies from the first replica
    if not found:
        which = f" with index {opts.index}" if opts.index else ""
        c.ctx.warn(f'no container found for service "{service}"{which}')
        raise Exit(1)
    for x in found:
        if src_service:
            copy_from(c.ctx, x.id, src, dest, opts.follow_link)
        else:
            copy_to(c.ctx, src, x.id, dest, opts.archive, opts.follow_link)
    return 0


def version(c: Compose, argv: list[str]) -> int:
    import json

    from dockyard import __version__

    cmd = _cmd(c, "[OPTIONS]", "Show the Docker Compose version information", max_args=0)
    cmd.flags.bool("short", help="Shows only Compose's version number")
    cmd.flags.string("format", "f", "Format the output. Values: [pretty | json]", default="pretty")
    opts, _ = cmd.parse(argv)
    if opts.short:
        c.ctx.print(__version__)
    elif opts.format == "json":
        c.ctx.print(json.dumps({"version": f"v{__version__}"}))
    else:
        c.ctx.print(f"dockyard compose version v{__version__}")
    return 0


def scale(c: Compose, argv: list[str]) -> int:
    from dockyard.compose.up import Converger, UpOptions

    cmd = _cmd(c, "[SERVICE=REPLICAS...]", "Scale services", min_args=1)
    cmd.flags.bool("no-deps", help="Don't start linked services")
    opts, specs = cmd.parse(argv)
    counts = _scale(specs)
    project = c.load(list(counts))
    progress = c.progress()
    try:
        Converger(c.ctx.client, project, progress, config=c.ctx.config(), warn=c.ctx.warn).up(
            UpOptions(services=list(counts), no_deps=opts.no_deps, scale=counts)
        )
    finally:
        progress.close()
    return 0


def wait(c: Compose, argv: list[str]) -> int:
    """Compose v2's ``wait``: each container's exit is printed; the code is the last one's."""
    import queue
    import threading

    from dockyard.compose import ops
    from dockyard.compose import wait as wait_for

    cmd = _cmd(
        c, "SERVICE [SERVICE...] [OPTIONS]", "Block until containers of all (or specified) services stop."
    )
    cmd.flags.bool("down-project", help="Drops project when the first container stops")
    opts, services = cmd.parse(argv)
    project, name = c.project_or_name()
    ops.check_services(project, services)
    found = ops.containers_of(c.ctx.client, name, services)
    results: queue.Queue[tuple[str, int | None, str]] = queue.Queue()

    def watch(cid: str) -> None:
        try:  # each call takes a connection of its own
            results.put((cid, wait_for.exit_code(c.ctx.client, cid), ""))
        except Exception as exc:
            results.put((cid, None, str(exc)))

    for x in found:
        threading.Thread(target=watch, args=(x.id,), daemon=True).start()
    code = 0
    for i in range(len(found)):
        cid, status, error = results.get()
        if status is None:
            c.ctx.warn(f"waiting for container {cid}: {error}")
            raise Exit(42)
        c.ctx.print(f'container "{cid}" exited with status code {status}')
        code = status
        if opts.down_project and i == 0:
            progress = c.progress()
            try:
                ops.down(c.ctx.client, project, name, progress)
            finally:
                progress.close()
            break
    return code


def _replica(c: Compose, service: str, index: int) -> str:
    """The id of ``service``'s container number ``index`` (1 unless --index says otherwise)."""
    from dockyard.compose import ops

    project, name = c.project_or_name()
    ops.check_services(project, [service])
    for x in ops.containers_of(c.ctx.client, name, [service]):
        if x.number == index:
            return x.id
    raise InvalidArgument(f'service "{service}" has no container with index {index}: see `compose ps`')


def attach(c: Compose, argv: list[str]) -> int:
    from dockyard.cli.attach import attach as attach_container

    cmd = _cmd(
        c, "[OPTIONS] SERVICE",
        "Attach local standard input, output, and error streams to a service's running container",
        min_args=1, max_args=1,
    )  # fmt: skip
    cmd.flags.string("detach-keys", help="Override the key sequence for detaching from a container.")
    cmd.flags.int("index", help="index of the container if service has multiple replicas.", default=1)
    cmd.flags.bool("no-stdin", help="Do not attach STDIN")
    cmd.flags.bool("sig-proxy", help="Proxy all received signals to the process", default=True)
    opts, (service,) = cmd.parse(argv)
    args = [f"--sig-proxy={'true' if opts.sig_proxy else 'false'}"]
    if opts.no_stdin:
        args.append("--no-stdin")
    if opts.detach_keys:
        args += ["--detach-keys", opts.detach_keys]
    return attach_container(c.ctx, [*args, _replica(c, service, opts.index)])


def export(c: Compose, argv: list[str]) -> int:
    from dockyard.cli.container_fs import export as export_container

    cmd = _cmd(
        c,
        "[OPTIONS] SERVICE",
        "Export a service container's filesystem as a tar archive",
        min_args=1,
        max_args=1,
    )
    cmd.flags.int("index", help="index of the container if service has multiple replicas.", default=1)
    cmd.flags.string("output", "o", "Write to a file, instead of STDOUT")
    opts, (service,) = cmd.parse(argv)
    args = ["--output", opts.output] if opts.output else []
    return export_container(c.ctx, [*args, _replica(c, service, opts.index)])


def commit(c: Compose, argv: list[str]) -> int:
    from dockyard.cli.container_fs import commit as commit_container

    cmd = _cmd(
        c, "[OPTIONS] SERVICE [REPOSITORY[:TAG]]", "Create a new image from a service container's changes",
        min_args=1, max_args=2,
    )  # fmt: skip
    cmd.flags.string("author", "a", 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    cmd.flags.strings("change", "c", "Apply Dockerfile instruction to the created image")
    cmd.flags.int("index", help="index of the container if service has multiple replicas.", default=1)
    cmd.flags.string("message", "m", "Commit message")
    cmd.flags.bool("pause", "p", "Pause container during commit", default=True)
    opts, args = cmd.parse(argv)
    base = [f"--pause={'true' if opts.pause else 'false'}"]
    if opts.author:
        base += ["--author", opts.author]
    if opts.message:
        base += ["--message", opts.message]
    for change in opts.change or []:
        base += ["--change", change]
    return commit_container(c.ctx, [*base, _replica(c, args[0], opts.index), *args[1:]])


def stats(c: Compose, argv: list[str]) -> int:
    from dockyard.cli.stats import stats as stats_containers
    from dockyard.compose import ops

    cmd = _cmd(c, "[OPTIONS] [SERVICE]", "Display a live stream of container(s) resource usage statistics")
    cmd.flags.bool("all", "a", "Show all containers (default shows just running)")
    cmd.flags.string("format", help="Format output using a custom template")
    cmd.flags.bool("no-stream", help="Disable streaming stats and only pull the first result")
    cmd.flags.bool("no-trunc", help="Do not truncate output")
    opts, services = cmd.parse(argv)
    project, name = c.project_or_name()
    ops.check_services(project, services)
    found = [x for x in ops.containers_of(c.ctx.client, name, services) if opts.all or x.running]
    args = [
        flag
        for flag, on in (("--all", opts.all), ("--no-stream", opts.no_stream), ("--no-trunc", opts.no_trunc))
        if on
    ]
    if opts.format:
        args += ["--format", opts.format]
    if not found:
        return 0
    return stats_containers(c.ctx, [*args, *(x.name for x in found)])
