"""`dockyard daemon`: one process serving the Engine API until SIGTERM.

Start: parse flags and the config file, take the data root's lock (a second daemon on the same
data root is refused), write the pid file, build the services (images, network, events, then
the engine, which reconciles containers left by a previous daemon), then listen. SIGTERM or
SIGINT: stop listening, let the engine stop containers (or leave them running with
--live-restore), remove the pid file and sockets. SIGHUP: re-read the config file and apply
what Docker applies on reload.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

from aiohttp import web

from dockyard.daemon import listeners, logsetup, options
from dockyard.daemon.app import create_app
from dockyard.daemon.context import DaemonContext
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.util.atomic import write_atomic

log = logging.getLogger("dockyard.daemon")


def _lock_data_root(data_root: Path) -> IO[str]:
    data_root.mkdir(parents=True, exist_ok=True, mode=0o711)
    lock = open(data_root / "daemon.lock", "a+")  # noqa: SIM115 - held for the daemon's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise InvalidArgument(
            f"another dockyard daemon (pid {holder}) is using the data root {data_root}: stop it first, "
            "or give this one its own --data-root (and --exec-root and -H)"
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def build_services(ctx: DaemonContext) -> None:
    """The services, lowest first. Imported here so `dockyard daemon --help` stays quick."""
    from dockyard.daemon import services

    services.build(ctx)


def route_groups(ctx: DaemonContext) -> list[list[web.RouteDef]]:
    from dockyard.daemon import services

    return services.routes(ctx)


async def serve(opts: options.DaemonOptions) -> int:
    plan = listeners.plan(opts)  # check the addresses before anything is created
    lock = _lock_data_root(opts.data_root)
    opts.exec_root.mkdir(parents=True, exist_ok=True, mode=0o711)
    write_atomic(str(opts.pid_path), f"{os.getpid()}\n".encode())
    ctx = DaemonContext(opts)
    runner: web.AppRunner | None = None
    bound_unix: list[str] = []
    try:
        build_services(ctx)
        from dockyard.daemon import services

        await services.start(ctx)
        app = create_app(ctx, route_groups(ctx))
        runner = web.AppRunner(app, handle_signals=False, access_log=logging.getLogger("aiohttp.access"))
        await runner.setup()
        for item in plan:
            if item.kind == "unix":
                sock = listeners.bind_unix(item.address, opts)
                bound_unix.append(item.address)
                await web.SockSite(runner, sock).start()
            else:
                await web.TCPSite(runner, item.address, item.port, ssl_context=item.ssl_context).start()
            log.info(
                "API listen on %s", item.address if item.kind == "unix" else f"{item.address}:{item.port}"
            )
        log.info("Daemon has completed initialization", extra={"fields": {"data-root": str(opts.data_root)}})

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGHUP, _reloader(ctx))
        await stop.wait()
        log.info("Processing signal 'terminated'")
        # Stop accepting first, so no request starts while containers are being stopped.
        if runner is not None:
            for site in list(runner.sites):
                await site.stop()
        await services.stop(ctx)
        return 0
    finally:
        if runner is not None:
            await runner.cleanup()
        for path in bound_unix:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        try:
            opts.pid_path.unlink()
        except FileNotFoundError:
            pass
        lock.close()
        log.info("Daemon shutdown complete")


def _reloader(ctx: DaemonContext) -> Callable[[], None]:
    def reload() -> None:
        opts = ctx.options
        try:
            fresh = options.load_file(opts.config_file, required=False)
            new = options.DaemonOptions(**{**opts.__dict__})
            for key, value in fresh.items():
                if key in options.RELOADABLE:
                    setattr(new, key, value)
            if new.debug:
                new.log_level = "debug"
            options.validate(new)
        except DockyardError as exc:
            log.error("reload of %s failed, settings unchanged: %s", opts.config_file, exc)
            return
        changes = options.reloadable_changes(opts, new)
        for key, value in changes.items():
            setattr(opts, key, value)
        if "log_level" in changes or "debug" in changes:
            logsetup.set_level("debug" if opts.debug else opts.log_level)
        if changes.keys() & {"max_concurrent_downloads", "max_concurrent_uploads", "insecure_registries",
                             "registry_mirrors"}:  # fmt: skip
            from dockyard.daemon import services

            services.reload_images(ctx)
        log.info(
            "Reloaded configuration", extra={"fields": {"changed": ",".join(sorted(changes)) or "nothing"}}
        )

    return reload


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        opts = options.parse(args)
    except DockyardError as exc:
        sys.stderr.write(f"dockyard daemon: {exc}\n")
        return 1
    logsetup.setup(opts.log_level, opts.log_format)
    if os.geteuid() != 0:
        sys.stderr.write("dockyard daemon: must run as root (it mounts, creates namespaces and cgroups)\n")
        return 1
    try:
        return asyncio.run(serve(opts))
    except DockyardError as exc:
        sys.stderr.write(f"dockyard daemon: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
