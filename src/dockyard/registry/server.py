"""Run the registry: listen (plain or TLS), log JSON access lines, stop cleanly on SIGTERM/SIGINT.

``workers`` processes (default: one per CPU) each run an event loop on the same port with
SO_REUSEPORT, and the kernel spreads connections over them. They share nothing in memory that
matters: all state is in storage and the accounts database (the same property that lets replicas
share an S3 bucket). One event-loop thread alone would get a single thread's share of the CPUs
when clients compete for them, and serve many concurrent pulls slower than a multi-threaded peer.
The first process is the parent: the others are forked from it before any thread or event loop
exists, die with it (PR_SET_PDEATHSIG), and are stopped by it on SIGTERM.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import signal
import ssl
import sys

from aiohttp import web

from dockyard.errors import DockyardError
from dockyard.registry.accesslog import JsonAccessLogger, access_logger
from dockyard.registry.app import make_app
from dockyard.registry.config import Settings

log = logging.getLogger("dockyard.registry")


async def serve(settings: Settings, *, reuse_port: bool = False, announce: bool = True) -> None:
    # Storage calls run in worker threads; 16 clients streaming at once need more than the default.
    asyncio.get_running_loop().set_default_executor(concurrent.futures.ThreadPoolExecutor(64))
    app = make_app(settings)
    runner = web.AppRunner(app, access_log_class=JsonAccessLogger, access_log=access_logger())
    await runner.setup()
    ssl_ctx = None
    if settings.tls_cert or settings.tls_key:
        ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_ctx.load_cert_chain(settings.tls_cert or "", settings.tls_key)
    host, port = settings.host_port()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_ctx, backlog=1024, reuse_port=reuse_port)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        raise DockyardError(
            f"cannot listen on {host}:{port}: {e.strerror or e}: choose another address with --addr"
        ) from None
    if announce:
        log.info(
            "dockyard registry listening on %s://%s:%d, storage %s, %d worker(s)",
            "https" if ssl_ctx else "http",
            host,
            port,
            settings.storage,
            worker_count(settings),
        )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def worker_count(settings: Settings) -> int:
    return settings.workers if settings.workers > 0 else max(1, os.cpu_count() or 1)


def run(settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT with ``worker_count`` processes."""
    workers = worker_count(settings)
    if workers == 1:
        asyncio.run(serve(settings))
        return
    children: list[int] = []
    parent = os.getpid()
    for _ in range(workers - 1):
        pid = os.fork()
        if pid == 0:
            _child(settings, parent)
        children.append(pid)
    try:
        asyncio.run(serve(settings, reuse_port=True))
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass  # already exited
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass  # reaped already


def _child(settings: Settings, parent: int) -> None:
    from dockyard.util import syscalls

    code = 0
    try:
        syscalls.prctl(syscalls.PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(0)  # the parent died before prctl took effect
        asyncio.run(serve(settings, reuse_port=True, announce=False))
    except BaseException:
        log.exception("registry worker %d failed", os.getpid())
        code = 1
    finally:
        logging.shutdown()
        os._exit(code)


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(stream=sys.stderr, level=level, format="%(message)s")
