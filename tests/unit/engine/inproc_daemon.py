"""The Engine API served in this process, for the engine's tests: a thread runs an event loop
with the image store (busybox bootstrapped), a network of its own (bridge ``dye<pid>x<n>``,
no NAT, egress dropped), the event bus, the engine and the aiohttp app on a unix socket.

    with InprocDaemon() as d:
        client = d.client()                     # docker-py on d.socket
        d.call(d.engine.inspect(cid))           # a coroutine run on the daemon's loop

Faster than a daemon process (no interpreter start, no bootstrap per test module beyond the
first image) and it lets a test look at the engine's own state. ``stop()`` stops containers as a
daemon shutdown does, then tears the network down and detaches every mount under its root.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import os
import tempfile
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from tests.conftest import remove_tree

T = TypeVar("T")
_COUNTER = itertools.count()


class InprocDaemon:
    def __init__(
        self,
        *,
        live_restore: bool = False,
        root: Path | None = None,
        bridge: str | None = None,
        selinux: bool | None = None,
    ) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="dye-", dir="/tmp"))
        self.data_root = self.root / "data"
        self.exec_root = self.root / "run"
        self.socket = self.root / "api.sock"
        self.bridge = bridge or f"dye{os.getpid()}x{next(_COUNTER)}"
        self.live_restore = live_restore
        self.selinux = selinux  # EngineOptions.selinux: None asks the host
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.engine: Any = None
        self.images: Any = None
        self.network: Any = None
        self.events: Any = None
        self._runner: Any = None

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def start(self) -> InprocDaemon:
        self.thread.start()
        self.call(self._start())
        return self

    async def _start(self) -> None:
        from aiohttp import web

        from dockyard.daemon.app import create_app
        from dockyard.daemon.context import DaemonContext
        from dockyard.daemon.handlers import containers, system
        from dockyard.daemon.options import DaemonOptions
        from dockyard.engine.engine import Engine, EngineOptions
        from dockyard.engine.events import EventBus
        from dockyard.images.service import ImageService
        from dockyard.network.manager import NetworkManager
        from dockyard.network.options import NetworkOptions

        self.images = ImageService(self.data_root)
        await asyncio.to_thread(self.images.bootstrap_busybox)
        self.network = NetworkManager(
            self.data_root, self.exec_root, NetworkOptions(bridge=self.bridge, masquerade=False, isolate=True)
        )
        await asyncio.to_thread(self.network.start)
        self.events = EventBus()
        self.engine = Engine(
            EngineOptions(
                self.data_root, self.exec_root, live_restore=self.live_restore, selinux=self.selinux
            ),
            self.images,
            self.network,
            self.events,
        )
        await self.engine.start()
        ctx = DaemonContext(DaemonOptions(data_root=self.data_root, exec_root=self.exec_root))
        ctx.images, ctx.network, ctx.events, ctx.engine = self.images, self.network, self.events, self.engine
        from dockyard.daemon.services import HANDLER_MODULES

        groups = [system.routes(ctx), containers.routes(ctx)]
        for extra in HANDLER_MODULES:
            if extra in ("system", "containers"):
                continue
            try:
                module = __import__(f"dockyard.daemon.handlers.{extra}", fromlist=["routes"])
            except ImportError:
                continue  # a resource another helper is still writing
            groups.append(module.routes(ctx))
        app = create_app(ctx, groups)
        # As daemon/main.py's runner; a short shutdown_timeout so a test's leftover connection
        # cannot hold its teardown for a minute.
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=5)
        await self._runner.setup()
        await web.UnixSite(self._runner, str(self.socket)).start()

    def client(self, **kwargs: Any) -> Any:
        import docker

        return docker.DockerClient(base_url=f"unix://{self.socket}", **kwargs)

    def stop(self) -> None:
        """As a daemon shutdown: stop containers (unless live restore), close the API."""
        if not self.thread.is_alive():
            return
        try:
            self.call(self._stop(), timeout=120)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)

    async def _stop(self) -> None:
        # As daemon/main.py: stop listening, stop the engine (which ends waiting requests), then
        # close the connections left.
        if self._runner is not None:
            for site in list(self._runner.sites):
                await site.stop()
        if self.engine is not None:
            await self.engine.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.network is not None:
            await asyncio.to_thread(self.network.stop)

    def cleanup(self) -> None:
        """stop(), then remove every container left, the bridge and the folders."""
        from dockyard.engine import shim

        try:
            self.stop()
        finally:
            destroy(self.root, self.bridge)
            shim.stop_zygote()

    def __enter__(self) -> InprocDaemon:
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def destroy(root: Path, bridge: str) -> None:
    """Kill the shims and inits recorded under ``root``, delete the runtime's containers, drop
    the bridge and its rules, detach mounts, remove the folder."""
    import signal
    import subprocess
    import sys

    from dockyard.network.manager import NetworkManager
    from dockyard.network.options import NetworkOptions

    exec_root = root / "run"
    if exec_root.exists():
        for pidfile in exec_root.rglob("*.pid"):
            try:
                doc = pidfile.read_text().strip()
                pid = int(doc) if doc.isdigit() else int(__import__("json").loads(doc).get("pid", 0))
            except (OSError, ValueError, AttributeError):
                continue
            if pid > 1:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        runtime_root = exec_root / "runtime"
        runtime = str(Path(sys.executable).parent / "dockyard-runtime")
        for folder in runtime_root.glob("*"):
            for state in folder.iterdir() if folder.is_dir() else []:
                subprocess.run(
                    [runtime, "--root", str(folder), "delete", "--force", state.name],
                    capture_output=True,
                    check=False,
                )
    try:
        NetworkManager(
            root / "data", exec_root, NetworkOptions(bridge=bridge, masquerade=False, isolate=True)
        ).teardown()
    except Exception:
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)
    remove_tree(str(root))
