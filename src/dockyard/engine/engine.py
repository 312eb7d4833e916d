"""``Engine``: the containers' lifecycle, for the daemon's event loop (docs/engine-internals.md).

    create -> start -> (running <-> paused) -> exit -> [restart policy | AutoRemove] -> remove

Start runs the independent steps concurrently (the rootfs overlay mount and the network
sandbox), writes config.json, has the shim run ``<runtime> create``, connects pending attaches,
then runs ``<runtime> start``. Each running container has a task awaiting its shim's exit
(a pidfd: no polling); it records the exit (ExitCode, FinishedAt, OOMKilled), deletes the
container from the runtime, unmounts the rootfs and removes the sandbox, publishes ``die``, then
applies the restart policy or AutoRemove and answers waiters. Every state change is one SQLite
transaction (db.py).

At daemon start the engine reconciles what a previous daemon left: containers whose shim still
runs are reattached (live restore); the others are marked exited with the code from their
exit.json (255 when there is none, as dockerd), cleaned up, and restarted as their policy says.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal as signal_mod
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.engine import filters as list_filters
from dockyard.engine import (
    hostconfig,
    idmapped,
    labels,
    mounts,
    names,
    networking,
    remapped_layers,
    restart,
    runtime_cli,
    signals,
    spec,
    top,
    userns,
    views,
)
from dockyard.engine.container import Container, MountPoint, now_rfc3339, parse_rfc3339
from dockyard.engine.create import CreateSettings, new_container
from dockyard.engine.db import EngineDB
from dockyard.engine.events import EventBus
from dockyard.engine.live import Live, PendingAttach, Streams
from dockyard.engine.store import ContainerStore
from dockyard.engine.user import resolve as resolve_user
from dockyard.errors import (
    Conflict,
    DockyardError,
    InvalidArgument,
    NotFound,
    NotModified,
    SystemFailure,
    Unsupported,
)
from dockyard.runtime.paths import mkdir_all_inside
from dockyard.snapshots import mount as snapmount

log = logging.getLogger("dockyard.engine")

EXIT_UNKNOWN = 255  # dockerd's code for a container whose exit status was lost


@dataclass
class EngineOptions:
    data_root: Path
    exec_root: Path
    default_runtime: str = "dockyard"
    runtimes: dict[str, str] = field(default_factory=dict)  # extra name -> path
    live_restore: bool = False
    init_path: str = "/usr/bin/tini-static"
    cgroup_parent: str = "/dockyard"
    stop_timeout: int = 10
    userns_remap: str = ""  # --userns-remap: "default", USER[:GROUP], UID[:GID]; "" off
    selinux: bool | None = None  # label containers (engine/labels.py); None: when the host has SELinux


def _exit_code_for(message: str) -> int:
    """dockerd's mapping of a runtime's start failure to the container's exit code."""
    lowered = message.lower()
    if "executable file not found" in lowered or "no such file or directory" in lowered:
        return 127
    if "permission denied" in lowered:
        return 126
    return 128


class Engine:
    def __init__(
        self,
        options: EngineOptions,
        images: Any,
        network: Any,
        events: EventBus | None = None,
    ) -> None:
        self.options = options
        self.data_root = Path(options.data_root)
        self.exec_root = Path(options.exec_root)
        self.images = images
        self.network = network
        self.events = events if events is not None else EventBus()
        self.features = hostconfig.HostFeatures.detect()
        self.idmap = userns.resolve(options.userns_remap) if options.userns_remap else None
        self.selinux = labels.selinux_enabled() if options.selinux is None else options.selinux
        # --userns-remap: image layers through idmapped mounts where this kernel stacks them in
        # an overlay, else remapped copies made once per layer (engine/remapped_layers.py)
        self.idmapped_layers = self.idmap is not None and idmapped.supported(self.data_root)
        if self.idmap is not None:
            for root in (self.data_root, self.exec_root):
                (root / "containers").mkdir(parents=True, exist_ok=True)
                userns.make_traversable(root / "containers")
        # A removed image layer takes its remapped copies with it (engine/remapped_layers.py).
        images.layer_removed.append(self._drop_remapped_copies)
        self.db = EngineDB(self.data_root / "engine.db")
        self.store = ContainerStore(self.db)
        self._live: dict[str, Live] = {}
        self._shutting_down = False
        self._background: set[asyncio.Task[Any]] = set()
        self._exiting: set[asyncio.Task[Any]] = set()  # monitors handling an exit right now
        self._runtime_paths: dict[str, str] = {}
        # MCS levels of creates not yet in the store (cid -> level): two at once never share one
        self._mcs_pending: dict[str, str] = {}
        from dockyard.engine.volumes import VolumeStore

        self.volumes = VolumeStore(self.db.connection, self.data_root, self.events)
        from dockyard.engine.exec import ExecManager

        self.execs = ExecManager(
            self.runtime_prefix(options.default_runtime), self.exec_root / "exec", self.events
        )

    # ------------------------------------------------------------------ helpers

    def live(self, cid: str) -> Live:
        item = self._live.get(cid)
        if item is None:
            item = self._live[cid] = Live()
        return item

    def runtime_names(self) -> tuple[str, ...]:
        names = ("dockyard", "runc", "crun", *self.options.runtimes)
        # A default runtime given as a path is a runtime of its own (the daemon checked it).
        return names if self.options.default_runtime in names else (*names, self.options.default_runtime)

    def runtime_prefix(self, name: str) -> list[str]:
        path = self._runtime_paths.get(name)
        if path is None:
            path = self._runtime_paths[name] = runtime_cli.find_runtime(name, self.options.runtimes)
        root = self.exec_root / "runtime" / (name if "/" not in name else "custom")
        return [path, "--root", str(root)]

    def get(self, ref: str) -> Container:
        return self.store.get(ref)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _publish(self, c: Container, action: str, extra: dict[str, str] | None = None) -> None:
        attrs = dict(c.config.get("Labels") or {})
        attrs["image"] = c.config.get("Image") or c.image_id
        attrs["name"] = c.bare_name
        if extra:
            attrs.update(extra)
        try:
            self.events.publish("container", action, c.id, attrs)
        except Exception:  # an event must never break a lifecycle step
            log.exception("publishing %s of %s failed", action, c.id)

    def _bundle(self, c: Container) -> Path:
        return self.exec_root / "containers" / c.id

    def _container_dir(self, c: Container) -> Path:
        return self.data_root / "containers" / c.id

    def network_ids(self) -> dict[str, str]:
        try:
            return {n["Name"]: n["Id"] for n in self.network.networks()}
        except Exception:
            return {}

    def _drop_remapped_copies(self, chain_id: str) -> None:
        for copy in remapped_layers.remove_layer(self.data_root, chain_id):
            log.info("removed the remapped copy %s of layer %s", copy, chain_id)

    # ------------------------------------------------------------------ daemon start / stop

    async def start(self) -> None:
        """Reconcile containers a previous daemon left, then apply restart policies."""
        (self.exec_root / "containers").mkdir(parents=True, exist_ok=True)
        (self.data_root / "containers").mkdir(parents=True, exist_ok=True)
        from dockyard.engine import shim

        # The zygote that forks shims starts now, not on the first `docker run`'s path.
        await asyncio.to_thread(shim.start_zygote)
        # Copies of layers removed while no daemon of ours watched (remapped_layers.sweep).
        await asyncio.to_thread(
            remapped_layers.sweep, self.data_root, lambda key: self.images.snapshots.has(f"sha256:{key}")
        )
        to_restart: list[Container] = []
        for c in self.store:
            if c.state.status == "removing":
                await self._finish_remove(c, remove_volumes=False, force_cleanup=True)
                continue
            if c.state.status in ("running", "paused", "restarting"):
                if c.state.status != "restarting" and await self._reattach(c):
                    continue
                await self._mark_lost(c)
            if c.host_config.get("AutoRemove"):
                # dockerd's restore: an AutoRemove container that is not running goes (its exit
                # came while no daemon, or a daemon shutting down, could remove it).
                await self._remove_stopped(c, self.live(c.id), remove_volumes=True)
                continue
            ran = c.state.status in ("exited", "created") and c.state.started_at != "0001-01-01T00:00:00Z"
            if ran and restart.restart_at_daemon_start(
                c.host_config.get("RestartPolicy") or {}, c.state.exit_code, c.state.manually_stopped
            ):
                to_restart.append(c)
        for c in to_restart:
            self._spawn(self._restart_after_daemon_start(c))

    async def _restart_after_daemon_start(self, c: Container) -> None:
        try:
            await self.start_container(c.id, from_policy=True)
        except DockyardError as exc:
            log.error("restarting %s at daemon start failed: %s", c.id, exc)

    async def _reattach(self, c: Container) -> bool:
        from dockyard.engine.shim import Shim

        state_dir = self._bundle(c)
        shim = Shim.reconnect(state_dir) if state_dir.exists() else None
        if shim is None or not shim.running:
            return False  # gone: _mark_lost reads its exit.json
        live = self.live(c.id)
        live.shim = shim
        live.active = True
        live.exited = asyncio.get_running_loop().create_future()
        try:
            live.process = json.loads((state_dir / "config.json").read_text()).get("process")
        except (OSError, ValueError):
            live.process = None
        for mp in c.mounts:
            if mp.type == "volume" and mp.name:
                with contextlib.suppress(DockyardError, OSError):
                    self.volumes.acquire(mp.name, c.id)
                    live.acquired.append(mp.name)
        if c.state.pid != shim.init_pid:
            c.state.pid = shim.init_pid
            self.store.save(c)
        live.monitor = asyncio.get_running_loop().create_task(self._monitor(c, live, shim))
        self._start_health(c, live)
        log.info("container %s reattached (live restore)", c.id[:12])
        return True

    async def _mark_lost(self, c: Container) -> None:
        """The shim is gone (daemon and shim killed, or a reboot): record the exit and clean up."""
        exit_file = self._bundle(c) / "exit.json"
        code, finished, oom = EXIT_UNKNOWN, now_rfc3339(), False
        with contextlib.suppress(OSError, ValueError):
            doc = json.loads(exit_file.read_text())
            code = int(doc.get("exit_code", EXIT_UNKNOWN))
            finished = str(doc.get("finished_at") or finished)
            oom = bool(doc.get("oom_killed"))
        await self._cleanup_run(c, self.live(c.id), force=True)
        await asyncio.to_thread(self._remove_cgroup, c)
        c.state.status = "exited"
        c.state.pid = 0
        c.state.exit_code = code
        c.state.finished_at = finished
        c.state.oom_killed = oom
        self.store.save(c)

    def _remove_cgroup(self, c: Container) -> None:
        """The container's cgroup folders, when the runtime lost track of them (its state went
        with /run while the cgroup hierarchy stayed: an exec root wiped without a reboot).
        rmdir(2) only removes an empty cgroup, so a live one is never touched."""
        from dockyard.runtime.cgroups import detect_layout

        layout = detect_layout()
        inner = f"{c.host_config.get('CgroupParent') or self.options.cgroup_parent}/{c.id}".lstrip("/")
        for mount in {*layout.v1.values(), *([layout.unified] if layout.unified else [])}:
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(mount, inner))

    async def stop(self) -> None:
        """Daemon shutdown: stop running containers (Docker's default) unless live restore."""
        self._shutting_down = True
        for c in self.store:
            live = self._live.get(c.id)
            if live is not None and live.restart_task is not None:
                live.restart_task.cancel()
            if c.state.status == "restarting":
                # Waiting out a back-off: stopped now, its policy applies again at daemon start.
                c.state.status = "exited"
                self.store.save(c)
        running = [c for c in self.store if c.state.status in ("running", "paused")]
        if not self.options.live_restore and running:
            await asyncio.gather(
                *(self._stop_container(c, self._stop_timeout(c, None), None) for c in running),
                return_exceptions=True,
            )
        # Exits being handled finish their bookkeeping (state saved, mounts gone) before the
        # database closes; with live restore the monitors of running containers just end.
        if self._exiting:
            await asyncio.wait(set(self._exiting), timeout=10)
        for live in self._live.values():
            if live.health is not None:
                with contextlib.suppress(Exception):
                    await live.health.stop()
            if live.monitor is not None and not live.monitor.done():
                live.monitor.cancel()
            # Requests still waiting (wait, attach before start) end with the daemon.
            live.waiters.cancel_all()
            for pending in live.pending:
                pending.future.cancel()
            live.pending.clear()
        for task in list(self._background):
            task.cancel()
        from dockyard.engine import shim

        await asyncio.to_thread(shim.stop_zygote)  # running shims are not affected
        self.db.close()

    # ------------------------------------------------------------------ create

    async def create(
        self, name: str | None, body: dict[str, Any], platform: str | None = None
    ) -> dict[str, Any]:
        stored_name = names.validate(name) if name else names.generate(self.store.name_taken)
        cid = names.new_id()
        self.store.reserve(stored_name, cid)
        try:
            return await self._create(cid, stored_name, body)
        finally:
            self.store.release(stored_name)
            self._mcs_pending.pop(cid, None)

    async def _create(self, cid: str, stored_name: str, body: dict[str, Any]) -> dict[str, Any]:
        image_ref = body.get("Image") if isinstance(body, dict) else None
        if not image_ref or not isinstance(image_ref, str):
            raise InvalidArgument("Config cannot be empty in order to create a container")
        image = await asyncio.to_thread(self._resolve_image, image_ref)
        settings = CreateSettings(
            self.features, self.runtime_names(), self.options.default_runtime, str(self.data_root), self.idmap
        )
        if self.selinux:
            settings.selinux = True
            settings.mcs_taken = frozenset(
                {labels.Labels(o.process_label, o.mount_label).level for o in self.store if o.mount_label}
                | set(self._mcs_pending.values())
            )
            settings.share_label_with = self._joined_label(body)
        image_config = (image.config or {}).get("config") or {}
        c, warnings = new_container(body, stored_name, image.id, image_config, settings, cid)
        if c.mount_label:
            self._mcs_pending[c.id] = labels.Labels(c.process_label, c.mount_label).level
        self.runtime_prefix(c.host_config["Runtime"])  # an unknown runtime is a 400 now, not at start
        mode = hostconfig.check_network_mode(c.host_config["NetworkMode"])
        if mode == "container":
            self.get(c.host_config["NetworkMode"].partition(":")[2])
        c.endpoints_config = await asyncio.to_thread(
            networking.endpoints_from_request, body, c.host_config["NetworkMode"], self.network
        )
        inherited = self._volumes_from(c.host_config.get("VolumesFrom") or [])
        c.mounts = mounts.plan(c.host_config, c.config.get("Volumes"), inherited)
        mounts.tmpfs_mounts(c.host_config.get("Tmpfs"))
        created_volumes: list[str] = []
        try:
            for mp in c.mounts:
                if mp.type == "volume" and mp.source == "":
                    await asyncio.to_thread(self._create_volume, mp, created_volumes)
                elif mp.type == "bind" and not os.path.exists(mp.source):
                    # -v /host/path:/dest creates the host folder, as dockerd does (--mount refuses).
                    os.makedirs(mp.source, exist_ok=True)
            cdir = self._container_dir(c)
            cdir.mkdir(parents=True, exist_ok=True, mode=0o710)
            log_type = c.host_config["LogConfig"]["Type"]
            c.log_path = str(cdir / f"{c.id}-json.log") if log_type != "none" else ""
            self.store.add(c)
        except BaseException:
            for vol in created_volumes:
                with contextlib.suppress(DockyardError, OSError):
                    self.volumes.remove(vol, force=True)
            shutil.rmtree(self._container_dir(c), ignore_errors=True)
            raise
        self._publish(c, "create")
        return {"Id": c.id, "Warnings": warnings}

    def _joined_label(self, body: dict[str, Any]) -> str:
        """The process label of the container whose ipc or pid namespace ``body`` joins."""
        hc = body.get("HostConfig") if isinstance(body, dict) else None
        for key in ("IpcMode", "PidMode"):
            value = str((hc or {}).get(key) or "") if isinstance(hc, dict) else ""
            if value.startswith("container:"):
                with contextlib.suppress(NotFound):
                    return self.get(value.partition(":")[2]).process_label
        return ""

    def _resolve_image(self, ref: str) -> Any:
        try:
            return self.images.resolve(ref)
        except NotFound as exc:
            from dockyard.oci import reference

            reference.parse(ref)  # a malformed reference is a 400 (invalid reference format)
            display = ref if (":" in ref.rsplit("/", 1)[-1] or "@" in ref) else f"{ref}:latest"
            raise NotFound(f"No such image: {display}") from exc

    def _create_volume(self, mp: MountPoint, created: list[str]) -> None:
        if mp.name:
            existed = self.volumes.exists(mp.name)
            vol = self.volumes.create(mp.name)
            if not existed:
                created.append(mp.name)
        else:
            vol = self.volumes.create_anonymous()
            mp.name = vol["Name"]
            mp.anonymous = True
            created.append(mp.name)
        mp.source = vol["Mountpoint"]
        mp.driver = vol.get("Driver") or "local"

    def _volumes_from(self, entries: list[str]) -> list[MountPoint]:
        out: list[MountPoint] = []
        for entry in entries:
            ref, mode = mounts.parse_volumes_from(entry)
            other = self.get(ref)
            for mp in other.mounts:
                if mp.type == "tmpfs":
                    continue
                clone = MountPoint(**{**mp.__dict__, "options": list(mp.options)})
                clone.anonymous = False  # the volume belongs to the container that created it
                if mode == "ro":
                    clone.rw = False
                elif mode == "rw":
                    clone.rw = True
                out.append(clone)
        return out

    # ------------------------------------------------------------------ start

    async def start_container(self, ref: str, *, from_policy: bool = False) -> None:
        c = self.get(ref)
        live = self.live(c.id)
        try:
            async with live.lock:
                if live.removing or c.state.status in ("removing", "dead"):
                    raise Conflict(f"Container {c.id} is marked for removal and cannot be started")
                if c.state.status == "paused":
                    raise Conflict("cannot start a paused container, try unpause instead")
                if c.state.status == "running":
                    if from_policy:
                        return
                    raise NotModified(f"container {c.id} is already started")
                if c.state.status == "restarting" and not from_policy and live.restart_task is not None:
                    live.restart_task.cancel()
                    live.restart_task = None
                if not from_policy:
                    # A start by hand begins the restart policy afresh (dockerd's
                    # ResetRestartManager): count and back-off back to zero.
                    c.state.manually_stopped = False
                    c.restart_count = 0
                    live.backoff = restart.Backoff()
                await self._start_locked(c, live)
        except DockyardError:
            # dockerd removes an AutoRemove container whose start failed: `docker run --rm nope`
            # waits for that removal before it exits with 127.
            if c.host_config.get("AutoRemove") and c.state.status in ("created", "exited"):
                with contextlib.suppress(DockyardError):
                    await self._remove_stopped(c, live, remove_volumes=True)
            raise

    async def _start_locked(self, c: Container, live: Live) -> None:
        from dockyard.engine.shim import ShimSpec, start_shim

        hc = c.host_config
        runtime = self.runtime_prefix(hc.get("Runtime") or self.options.default_runtime)
        bundle = self._bundle(c)
        rootfs = bundle / "rootfs"
        bundle.mkdir(parents=True, exist_ok=True)
        for stale in ("exit.json",):
            with contextlib.suppress(FileNotFoundError):
                (bundle / stale).unlink()
        mode = hostconfig.check_network_mode(hc["NetworkMode"])
        other = None
        if mode == "container":
            other = self.get(hc["NetworkMode"].partition(":")[2])
            if other.state.status not in ("running", "paused"):
                raise Conflict(f"cannot join network of a non running container: {other.id}")
        c.runtime_argv = runtime
        shim = None
        live.active = True
        try:
            results = await asyncio.gather(
                asyncio.to_thread(self._prepare_rootfs, c, rootfs),
                asyncio.to_thread(self._setup_network, c, mode, other),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            netns_path, files = results[1]  # type: ignore[misc]
            user = resolve_user(str(rootfs), c.config.get("User") or "", hc.get("GroupAdd"))
            idmap = userns.wanted(hc, self.idmap)
            owner = (idmap.host_uid(user.uid), idmap.host_gid(user.gid)) if idmap else (user.uid, user.gid)
            if idmap and mode != "container":
                userns.make_traversable(self._container_dir(c))
                for path in files.values():  # container root may rewrite its hosts file, as with Docker
                    os.chown(path, idmap.uid_start, idmap.gid_start)
            await asyncio.to_thread(self._prepare_rootfs_content, c, live, str(rootfs), *owner)
            ctx = spec.SpecContext(
                rootfs=str(rootfs),
                user=user,
                netns_path=netns_path,
                cgroups_path=f"{hc.get('CgroupParent') or self.options.cgroup_parent}/{c.id}",
                network_files=files,
                shared_ns=self._shared_namespaces(c),
                init_path=self.options.init_path if hc.get("Init") else None,
                host_devices=spec.host_devices() if hc.get("Privileged") else [],
                idmap=idmap,
            )
            oci = spec.build(c, ctx)
            live.process = oci["process"]
            (bundle / "config.json").write_text(json.dumps(oci))
            log_cfg = hc.get("LogConfig") or {}
            max_size, max_file = (
                hostconfig.log_limits(log_cfg.get("Config") or {}) if c.log_path else (None, 1)
            )
            console = hc.get("ConsoleSize") or [0, 0]
            shim = await start_shim(
                ShimSpec(
                    cid=c.id,
                    bundle=bundle,
                    state_dir=bundle,
                    runtime=runtime,
                    tty=c.tty,
                    open_stdin=bool(c.config.get("OpenStdin")),
                    stdin_once=bool(c.config.get("StdinOnce")),
                    log_path=Path(c.log_path) if c.log_path else None,
                    log_max_size=max_size,
                    log_max_file=max_file,
                    console_size=(int(console[0]), int(console[1])) if console[0] and console[1] else None,
                )
            )
            live.shim = shim
            await self._connect_pending(live, shim)
            await runtime_cli.start(runtime, c.id)
        except BaseException as exc:
            await self._fail_start(c, live, shim, exc)
            raise self._start_error(exc) from exc
        c.state.status = "running"
        c.state.pid = shim.init_pid
        c.state.started_at = now_rfc3339()
        c.state.exit_code = 0
        c.state.error = ""
        c.state.oom_killed = False
        c.state.finished_at = c.state.finished_at or "0001-01-01T00:00:00Z"
        self.store.save(c)
        loop = asyncio.get_running_loop()
        live.exited = loop.create_future()
        live.monitor = loop.create_task(self._monitor(c, live, shim))
        self._start_health(c, live)
        self._publish(c, "start")

    def _start_error(self, exc: BaseException) -> BaseException:
        if isinstance(exc, (InvalidArgument, NotFound, Conflict)):
            return exc
        if isinstance(exc, DockyardError):
            message = exc.message
            if _exit_code_for(message) in (126, 127):
                return InvalidArgument(
                    f"failed to create task for container: OCI runtime create failed: {message}: unknown"
                )
            return SystemFailure(f"failed to create task for container: {message}")
        if isinstance(exc, OSError):
            return SystemFailure(f"failed to start container: {exc}")
        return exc

    async def _fail_start(self, c: Container, live: Live, shim: Any, exc: BaseException) -> None:
        message = exc.message if isinstance(exc, DockyardError) else str(exc)
        if shim is not None:
            with contextlib.suppress(Exception):
                shim.kill()
        live.shim = None
        for pending in live.pending:
            if not pending.future.done():
                pending.future.set_exception(Conflict(f"container {c.id} failed to start: {message}"))
        live.pending.clear()
        with contextlib.suppress(Exception):
            await self._cleanup_run(c, live)
        # dockerd keeps a container that never ran "created" (an exited one stays "exited"), with
        # the runtime's message in State.Error and 127/126/128 as its exit code.
        c.state.status = "exited" if c.state.started_at != "0001-01-01T00:00:00Z" else "created"
        c.state.pid = 0
        c.state.exit_code = _exit_code_for(message)
        c.state.error = message
        self.store.save(c)
        live.waiters.exited(c.state.exit_code, stays_stopped=True)

    def _setup_network(
        self, c: Container, mode: str, other: Container | None
    ) -> tuple[str | None, dict[str, str]]:
        """The network namespace path for the spec ("" = a new one; None = the host's) and the
        files to bind-mount at /etc/hostname, /etc/hosts and /etc/resolv.conf."""
        hc, config = c.host_config, c.config
        if mode == "container" and other is not None:
            # dockerd's initializeNetworking: the container takes the other's names and files.
            config["Hostname"] = other.config.get("Hostname") or ""
            config["Domainname"] = other.config.get("Domainname") or ""
            c.network = {"shared_with": other.id}
            c.hostname_path, c.hosts_path, c.resolv_conf_path = (
                other.hostname_path,
                other.hosts_path,
                other.resolv_conf_path,
            )
            files = {
                dest: path
                for dest, path in (
                    ("/etc/hostname", other.hostname_path),
                    ("/etc/hosts", other.hosts_path),
                    ("/etc/resolv.conf", other.resolv_conf_path),
                )
                if path
            }
            other_ns = other.network.get("netns_path")
            if other_ns is None and other.network.get("mode") != "host":
                other_ns = f"/proc/{other.state.pid}/ns/net"
            return other_ns, files
        sandbox = networking.create_sandbox(c, self.network)
        c.network = sandbox.to_json()
        written = self.network.write_files(
            c.id,
            sandbox,
            self._container_dir(c),
            config.get("Hostname") or "",
            config.get("Domainname") or "",
            hc.get("Dns") or [],
            hc.get("ExtraHosts") or [],
            dns_search=hc.get("DnsSearch") or [],
            dns_options=hc.get("DnsOptions") or [],
        )
        files = {dest: str(path) for dest, path in written.items()}
        c.hostname_path = files.get("/etc/hostname", "")
        c.hosts_path = files.get("/etc/hosts", "")
        c.resolv_conf_path = files.get("/etc/resolv.conf", "")
        return sandbox.netns_path, files

    def _shared_namespaces(self, c: Container) -> dict[str, str]:
        out: dict[str, str] = {}
        hc = c.host_config
        for key, kind in (("PidMode", "pid"), ("IpcMode", "ipc"), ("UTSMode", "uts")):
            value = str(hc.get(key) or "")
            if value == "host":
                out[kind] = ""
            elif value.startswith("container:"):
                other = self.get(value.partition(":")[2])
                if other.state.status not in ("running", "paused"):
                    raise Conflict(f"cannot join {kind} namespace of a non running container: {other.id}")
                out[kind] = f"/proc/{other.state.pid}/ns/{kind}"
        return out

    def _prepare_rootfs(self, c: Container, rootfs: Path) -> None:
        """Blocking: the container's overlay root at ``rootfs``; idmapped lowers when remapped."""
        idmap = userns.wanted(c.host_config, self.idmap)
        if idmap is None:
            self.images.prepare_rootfs(c.id, c.image_id or None, rootfs)
            return
        chain = self.images.resolve(c.image_id).top_chain if c.image_id else None
        stack = self.images.snapshots.prepare(c.id, chain)
        rootfs.mkdir(parents=True, exist_ok=True)
        if snapmount.is_mounted(str(rootfs)):
            return
        if self.idmapped_layers:
            idmapped.mount_idmapped_overlay(stack, str(rootfs), idmap)
        else:
            remapped_layers.mount_remapped_overlay(stack, str(rootfs), idmap, self.data_root)

    def _prepare_rootfs_content(self, c: Container, live: Live, rootfs: str, uid: int, gid: int) -> None:
        """Blocking: volumes acquired (and filled from the image on first use), WorkingDir made.
        ``uid``/``gid``: the container user's ids as the host sees them (remapped or not)."""
        idmap = userns.wanted(c.host_config, self.idmap)
        for mp in c.mounts:
            if mp.type != "volume" or not mp.name:
                continue
            source = self.volumes.acquire(mp.name, c.id)
            live.acquired.append(mp.name)
            mp.source = source
            # dockerd's "mount" event as the container starts with the volume (daemon/volumes.go).
            self.events.publish(
                "volume",
                "mount",
                mp.name,
                {
                    "container": c.id,
                    "destination": mp.destination,
                    "driver": mp.driver or "local",
                    "propagation": mp.propagation,
                    "read/write": "true" if mp.rw else "false",
                },
            )
            if idmap is not None:
                userns.adopt_empty_folder(source, idmap)
            if not mp.no_copy:
                from dockyard.runtime.paths import secure_join

                try:
                    image_path = secure_join(rootfs, mp.destination)
                except DockyardError:
                    continue
                if os.path.isdir(image_path):
                    self.volumes.populate(mp.name, image_path)
        own = labels.Labels(c.process_label, c.mount_label)
        for mp in c.mounts:
            if mp.type in ("bind", "volume") and mp.source:
                labels.relabel_mount(mp.source, mp.mode, own)  # :z / :Z (nothing when unlabeled)
        workdir = c.config.get("WorkingDir")
        if workdir and workdir != "/":
            from dockyard.runtime.paths import secure_join

            target = secure_join(rootfs, workdir)
            if not os.path.exists(target):
                mkdir_all_inside(rootfs, target, 0o755)
                # dockerd creates a missing working directory owned by the container's user.
                with contextlib.suppress(OSError):
                    os.chown(target, uid, gid)

    async def _connect_pending(self, live: Live, shim: Any) -> None:
        pending, live.pending = live.pending, []
        for item in pending:
            if item.future.done():
                continue
            try:
                streams = await shim.attach(item.stdin, item.stdout, item.stderr, logs=item.logs)
            except Exception as exc:
                item.future.set_exception(exc)
                continue
            if item.future.cancelled():
                streams[1].close()
            else:
                item.future.set_result(streams)

    def _start_health(self, c: Container, live: Live) -> None:
        check = c.config.get("Healthcheck")
        if not check:
            return
        from dockyard.engine import health

        config = health.HealthConfig.from_json(check)
        if config is None:
            return
        state = health.Health.from_json(None)

        def on_update(h: Any, changed: bool) -> None:
            c.state.health = h.to_json()
            self.store.save(c)
            if changed:
                self._publish(c, f"health_status: {h.status}")

        async def probe(cmd: list[str], timeout: float) -> tuple[int, str]:
            result: tuple[int, str] = await self.execs.run_probe(self._exec_target(c), cmd, timeout)
            return result

        monitor = health.HealthMonitor(config, probe, state, on_update)
        c.state.health = state.to_json()
        live.health = monitor
        monitor.start()

    # ------------------------------------------------------------------ exit

    async def _monitor(self, c: Container, live: Live, shim: Any) -> None:
        try:
            status = await shim.wait()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the shim vanished without a status: dockerd's 255
            log.error("waiting for container %s failed: %s", c.id[:12], exc)
            status = None
        task = asyncio.current_task()
        if task is not None:
            self._exiting.add(task)
        try:
            await self._handle_exit(c, live, status)
        finally:
            if task is not None:
                self._exiting.discard(task)

    async def _handle_exit(self, c: Container, live: Live, status: Any) -> None:
        code = int(getattr(status, "code", EXIT_UNKNOWN)) if status is not None else EXIT_UNKNOWN
        finished = getattr(status, "finished_at", "") or now_rfc3339()
        oom = bool(getattr(status, "oom_killed", False))
        if live.health is not None:
            with contextlib.suppress(Exception):
                await live.health.stop()
            live.health = None
        live.shim = None
        live.monitor = None
        await self._cleanup_run(c, live)
        ran_for = max(0.0, parse_rfc3339(finished) - parse_rfc3339(c.state.started_at))
        c.state.pid = 0
        c.state.exit_code = code
        c.state.finished_at = finished
        c.state.oom_killed = oom
        policy = c.host_config.get("RestartPolicy") or {}
        again = not self._shutting_down and restart.should_restart(
            policy, code, c.restart_count, c.state.manually_stopped
        )
        c.state.status = "restarting" if again else "exited"
        self.store.save(c)
        if oom:
            self._publish(c, "oom")
        self._publish(c, "die", {"exitCode": str(code)})
        if live.exited is not None and not live.exited.done():
            live.exited.set_result(code)
        auto_remove = bool(c.host_config.get("AutoRemove")) and not again
        live.waiters.exited(code, stays_stopped=not again)
        if again:
            delay = live.backoff.next(ran_for)
            live.restart_task = asyncio.get_running_loop().create_task(self._restart_later(c, live, delay))
        elif auto_remove and not self._shutting_down:
            with contextlib.suppress(DockyardError):
                await self._remove_stopped(c, live, remove_volumes=True)

    async def _restart_later(self, c: Container, live: Live, delay: float) -> None:
        await asyncio.sleep(delay)
        live.restart_task = None
        if c.state.status != "restarting" or self._shutting_down or live.removing:
            return
        c.restart_count += 1
        try:
            async with live.lock:
                if c.state.status != "restarting":
                    return
                await self._start_locked(c, live)
            self._publish(c, "restart")
        except DockyardError as exc:
            log.error("restarting container %s failed: %s", c.id[:12], exc)

    async def _cleanup_run(self, c: Container, live: Live, force: bool = False) -> None:
        """Undo a run (idempotent): runtime state, rootfs mount, network sandbox, volume users.

        Skipped when this daemon knows nothing ran since the last cleanup (``force`` for what a
        previous daemon may have left)."""
        if not live.active and not force:
            return
        live.active = False
        runtime = c.runtime_argv or self.runtime_prefix(self.options.default_runtime)
        rootfs = self._bundle(c) / "rootfs"
        # Independent steps, run together: the init is gone, so the runtime's state, the rootfs
        # mount and the network namespace are held by nothing else.
        steps = [
            runtime_cli.delete(runtime, c.id),
            asyncio.to_thread(self.images.unmount_rootfs, c.id, rootfs),
        ]
        if "shared_with" not in c.network:
            steps.append(asyncio.to_thread(self.network.remove_sandbox, c.id))
        for name in live.acquired:
            steps.append(asyncio.to_thread(self.volumes.release, name, c.id))
        live.acquired = []
        for result in await asyncio.gather(*steps, return_exceptions=True):
            if isinstance(result, BaseException):
                log.warning("cleaning up container %s: %s", c.id[:12], result)
        c.network = {}

    # ------------------------------------------------------------------ networks

    async def network_connect(self, ref: str, net_ref: str, config: dict[str, Any] | None = None) -> None:
        """POST /networks/{id}/connect: joins now when the container runs, else at its next start."""
        c = self.get(ref)
        name, _ = await asyncio.to_thread(self.network.resolve, net_ref)
        mode = c.host_config.get("NetworkMode") or "default"
        if mode in ("host", "none") or mode.startswith("container:") or name in ("host", "none"):
            raise Conflict(
                f"container {c.bare_name} cannot be connected to network {name}: containers on the host "
                "or none network, or sharing another container's, stand alone"
            )
        entry = networking.endpoint_config(config or {})
        if c.state.status in ("running", "paused"):
            sandbox = await asyncio.to_thread(self.network.connect, c.id, name, entry)
            c.network = sandbox.to_json()
        elif name in c.endpoints_config:
            raise Conflict(f"endpoint with name {c.bare_name} already exists in network {name}")
        c.endpoints_config[name] = entry
        self.store.save(c)

    async def network_disconnect(self, ref: str, net_ref: str, force: bool = False) -> None:
        c = self.get(ref)
        name, _ = await asyncio.to_thread(self.network.resolve, net_ref)
        if c.state.status in ("running", "paused") and c.network and "shared_with" not in c.network:
            sandbox = await asyncio.to_thread(self.network.disconnect, c.id, name, force)
            if sandbox is not None:
                c.network = sandbox.to_json()
        elif name not in c.endpoints_config and not force:
            raise Conflict(f"container {c.bare_name} is not connected to network {name}")
        c.endpoints_config.pop(name, None)
        self.store.save(c)

    # ------------------------------------------------------------------ stop / kill / restart

    def _stop_timeout(self, c: Container, timeout: int | None) -> int:
        if timeout is not None:
            return timeout
        configured = c.config.get("StopTimeout")
        return int(configured) if configured is not None else self.options.stop_timeout

    def _stop_signal(self, c: Container, override: str | None) -> int:
        return signals.parse(override or c.config.get("StopSignal") or "SIGTERM", signal_mod.SIGTERM)

    async def stop_container(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        c = self.get(ref)
        live = self.live(c.id)
        sig = self._stop_signal(c, signal)
        if c.state.status == "restarting":
            self._cancel_restart(c, live)
            return
        if c.state.status not in ("running", "paused"):
            raise NotModified(f"container {c.id} is already stopped")
        c.state.manually_stopped = True
        self.store.save(c)
        await self._stop_container(c, self._stop_timeout(c, timeout), sig)
        self._publish(c, "stop")

    def _cancel_restart(self, c: Container, live: Live) -> None:
        if live.restart_task is not None:
            live.restart_task.cancel()
            live.restart_task = None
        c.state.manually_stopped = True
        c.state.status = "exited"
        self.store.save(c)
        live.waiters.exited(c.state.exit_code, stays_stopped=True)

    async def _stop_container(self, c: Container, timeout: int, sig: int | None) -> None:
        live = self.live(c.id)
        exited = live.exited
        if exited is None or live.shim is None:
            return
        runtime = c.runtime_argv
        sig = sig if sig is not None else self._stop_signal(c, None)
        if timeout != 0:
            await self._signal(c, runtime, sig)
            try:
                await asyncio.wait_for(asyncio.shield(exited), None if timeout < 0 else timeout)
                return
            except TimeoutError:
                log.info("container %s did not stop in %ss: killing it", c.id[:12], timeout)
        await self._signal(c, runtime, signal_mod.SIGKILL)
        await asyncio.shield(exited)

    async def _signal(self, c: Container, runtime: list[str], sig: int) -> None:
        await runtime_cli.kill(runtime, c.id, sig)
        if c.state.status == "paused" and sig in (signal_mod.SIGKILL, self._stop_signal(c, None)):
            # A frozen cgroup holds the signal until it thaws (cgroup v1 freezer): resume so it
            # is delivered, as dockerd does for kill and stop of a paused container.
            with contextlib.suppress(DockyardError):
                await runtime_cli.resume(runtime, c.id)
                c.state.status = "running"

    async def kill(self, ref: str, signal: str | None = None) -> None:
        c = self.get(ref)
        sig = signals.parse(signal or "SIGKILL")
        live = self.live(c.id)
        if c.state.status == "restarting":
            self._cancel_restart(c, live)
            return
        if c.state.status not in ("running", "paused") or live.shim is None:
            raise Conflict(f"Cannot kill container: {ref}: Container {c.id} is not running")
        if not self._shutting_down:
            c.state.manually_stopped = True
            self.store.save(c)
        exited = live.exited
        await self._signal(c, c.runtime_argv, sig)
        self._publish(c, "kill", {"signal": str(sig)})
        if sig == signal_mod.SIGKILL and exited is not None:
            # dockerd's Kill waits for the exit after a SIGKILL (`docker kill x && docker rm x`
            # must not race), up to 10 s; other signals return at once.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(exited), 10)

    async def restart_container(
        self, ref: str, timeout: int | None = None, signal: str | None = None
    ) -> None:
        c = self.get(ref)
        live = self.live(c.id)
        if c.state.status == "restarting":
            self._cancel_restart(c, live)
        if c.state.status in ("running", "paused"):
            c.state.manually_stopped = True
            await self._stop_container(c, self._stop_timeout(c, timeout), self._stop_signal(c, signal))
        await self.start_container(c.id)
        self._publish(c, "restart")

    # ------------------------------------------------------------------ wait

    async def register_wait(self, ref: str, condition: str | None) -> tuple[Container, asyncio.Future[int]]:
        """A future of the exit code for a wait condition, registered now (see waiters.py)."""
        c = self.get(ref)
        condition = condition or "not-running"
        live = self.live(c.id)
        if condition == "not-running" and c.state.status in ("created", "exited", "dead"):
            done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            done.set_result(c.state.exit_code)
            return c, done
        return c, live.waiters.add(condition)

    async def wait(self, ref: str, condition: str | None = None) -> dict[str, Any]:
        _, future = await self.register_wait(ref, condition)
        code = await future
        return {"StatusCode": code, "Error": None}

    # ------------------------------------------------------------------ remove

    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        c = self.get(ref)
        live = self.live(c.id)
        if live.removing:
            raise Conflict(f"removal of container {c.bare_name} is already in progress")
        if c.state.status == "paused" and not force:
            raise Conflict(
                f"You cannot remove a paused container {c.id}. Unpause and then stop the container before "
                "attempting removal or force remove"
            )
        if c.state.status == "running" and not force:
            raise Conflict(
                f"You cannot remove a running container {c.id}. Stop the container before attempting removal "
                "or force remove"
            )
        if c.state.status == "restarting":
            if not force:
                raise Conflict(
                    f"You cannot remove a restarting container {c.id}. Stop the container before attempting "
                    "removal or force remove"
                )
            self._cancel_restart(c, live)
        if c.state.status in ("running", "paused"):
            c.state.manually_stopped = True
            live.removing = True
            try:
                await self._stop_container(c, 0, signal_mod.SIGKILL)
            finally:
                live.removing = False
            if c.id not in {x.id for x in self.store}:
                return  # AutoRemove got there first
        await self._remove_stopped(c, live, remove_volumes=volumes)

    async def _remove_stopped(self, c: Container, live: Live, remove_volumes: bool) -> None:
        if live.removing:
            return
        live.removing = True
        try:
            async with live.lock:
                if c.state.status in ("running", "paused"):
                    # A start won the race for the lock: removal now means a forced one.
                    c.state.manually_stopped = True
                    await self._stop_container(c, 0, signal_mod.SIGKILL)
                c.state.status = "removing"
                self.store.save(c)
                await self._finish_remove(c, remove_volumes)
        finally:
            live.removing = False

    async def _finish_remove(self, c: Container, remove_volumes: bool, force_cleanup: bool = False) -> None:
        live = self.live(c.id)
        await self._cleanup_run(c, live, force=force_cleanup)
        rootfs = self._bundle(c) / "rootfs"
        if os.path.ismount(rootfs):
            await asyncio.to_thread(self.images.unmount_rootfs, c.id, rootfs)
        await asyncio.to_thread(self.images.remove_rootfs, c.id)
        if os.path.ismount(rootfs):
            # Never delete through a mount: that would erase the container's (or a volume's) files.
            raise SystemFailure(f"cannot remove container {c.id}: {rootfs} is still mounted")
        shutil.rmtree(self._bundle(c), ignore_errors=True)
        shutil.rmtree(self._container_dir(c), ignore_errors=True)
        with contextlib.suppress(Exception):
            self.execs.forget_container(c.id)
        if remove_volumes:

            def others(name: str) -> list[str]:
                return self._volume_users(name, c.id)

            for mp in c.mounts:
                if mp.type == "volume" and mp.anonymous and mp.name:
                    try:
                        await asyncio.to_thread(self.volumes.remove, mp.name, False, others)
                    except DockyardError as exc:
                        log.info("keeping volume %s: %s", mp.name, exc)
        self.store.remove(c)
        self._publish(c, "destroy")
        live.waiters.removed(c.state.exit_code)
        self._live.pop(c.id, None)

    def _volume_users(self, name: str, except_id: str | None = None) -> list[str]:
        return [
            c.id
            for c in self.store
            if c.id != except_id and any(mp.type == "volume" and mp.name == name for mp in c.mounts)
        ]

    # ------------------------------------------------------------------ rename / pause / update

    async def rename(self, ref: str, new_name: str) -> None:
        c = self.get(ref)
        if not new_name:
            raise InvalidArgument("Neither old nor new names may be empty")
        stored = names.validate(new_name)
        if stored == c.name:
            raise InvalidArgument("Renaming a container with the same name as its current name")
        old = c.name
        try:
            self.store.rename(c, stored)
        except Conflict as exc:
            raise Conflict(f"Error when allocating new name: {exc.message}") from None
        self._publish(c, "rename", {"oldName": old})

    async def pause(self, ref: str) -> None:
        c = self.get(ref)
        if c.state.status == "paused":
            raise Conflict(f"Container {c.id} is already paused")
        if c.state.status != "running":
            raise Conflict(f"Container {c.id} is not running")
        await runtime_cli.pause(c.runtime_argv, c.id)
        c.state.status = "paused"
        self.store.save(c)
        self._publish(c, "pause")

    async def unpause(self, ref: str) -> None:
        c = self.get(ref)
        if c.state.status != "paused":
            raise Conflict(f"Container {c.id} is not paused")
        await runtime_cli.resume(c.runtime_argv, c.id)
        c.state.status = "running"
        self.store.save(c)
        self._publish(c, "unpause")

    async def update(self, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        c = self.get(ref)
        if not isinstance(body, dict):
            raise InvalidArgument("invalid update request: the body must be a JSON object")
        allowed = (
            "Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpuPeriod", "CpuQuota",
            "CpusetCpus", "CpusetMems", "PidsLimit", "BlkioWeight", "CpuRealtimePeriod", "CpuRealtimeRuntime",
            "RestartPolicy", "OomKillDisable", "MemorySwappiness",
        )  # fmt: skip
        changes = {k: v for k, v in body.items() if k in allowed and v is not None}
        merged = {**c.host_config, **changes}
        hostconfig._check_types(merged)
        memory = changes.get("Memory")
        if memory and "MemorySwap" not in changes:
            swap = c.host_config.get("MemorySwap") or 0
            if swap > 0 and memory > swap:
                raise InvalidArgument(
                    "Memory limit should be smaller than already set memoryswap limit, update the memoryswap "
                    "at the same time"
                )
        warnings = hostconfig.check_resources(merged, self.features, update=True)
        if "RestartPolicy" in changes:
            merged["RestartPolicy"] = hostconfig.restart_policy(changes["RestartPolicy"])
            if c.host_config.get("AutoRemove") and merged["RestartPolicy"]["Name"] != "no":
                raise InvalidArgument(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container"
                )
        if c.state.status in ("running", "paused") and any(k != "RestartPolicy" for k in changes):
            await runtime_cli.update(
                c.runtime_argv, c.id, spec.resources(merged, bool(merged.get("Privileged")))
            )
        if merged.get("PidsLimit") is not None and merged["PidsLimit"] <= 0:
            merged["PidsLimit"] = None
        c.host_config = merged
        self.store.save(c)
        self._publish(c, "update")
        return {"Warnings": warnings}

    # ------------------------------------------------------------------ views

    def _graph_driver(self, c: Container) -> dict[str, Any]:
        overlay = self.data_root / "overlay" / "containers" / c.id
        return {
            "Data": {
                "MergedDir": str(self._bundle(c) / "rootfs"),
                "UpperDir": str(overlay / "upper"),
                "WorkDir": str(overlay / "work"),
            },
            "Name": "overlay2",
        }

    def _sizes(self, c: Container) -> tuple[int, int]:
        try:
            rw = int(self.images.rw_size(c.id))
        except Exception:
            rw = 0
        base = 0
        if c.image_id:
            with contextlib.suppress(Exception):
                base = int(self.images.resolve(c.image_id).size)
        return rw, rw + base

    async def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        c = self.get(ref)
        sizes = await asyncio.to_thread(self._sizes, c) if size else None
        doc = views.inspect(c, network_ids=self.network_ids(), graph_driver=self._graph_driver(c), size=sizes)
        doc["ExecIDs"] = self._exec_ids(c) or None
        return doc

    def _exec_ids(self, c: Container) -> list[str]:
        try:
            ids: list[str] = self.execs.list_for(c.id)
            return ids
        except Exception:
            return []

    async def list_containers(
        self,
        all: bool = False,
        limit: int | None = None,
        size: bool = False,
        filters: dict[str, list[str]] | None = None,
    ) -> list[dict[str, Any]]:
        query = list_filters.ListQuery(
            all=all, limit=limit if limit is not None else -1, filters=filters or {}
        )
        chosen = list_filters.select(
            list(self.store), query, lookup=self.get, ancestor_ids=self._ancestor_ids
        )
        ids = self.network_ids()
        now = time.time()
        out = []
        for c in chosen:
            sizes = await asyncio.to_thread(self._sizes, c) if size else None
            out.append(views.summary(c, network_ids=ids, size=sizes, now=now))
        return out

    def _ancestor_ids(self, ref: str) -> set[str]:
        try:
            return {self.images.resolve(ref).id}
        except Exception:
            return set()

    def counts(self) -> dict[str, int]:
        out = {"total": 0, "running": 0, "paused": 0, "stopped": 0}
        for c in self.store:
            out["total"] += 1
            if c.state.status == "paused":
                out["paused"] += 1
            elif c.state.status in ("running", "restarting"):
                out["running"] += 1
            else:
                out["stopped"] += 1
        return out

    def df(self) -> list[dict[str, Any]]:
        ids = self.network_ids()
        return [views.summary(c, network_ids=ids, size=self._sizes(c)) for c in self.store]

    def image_in_use(self, image_id: str) -> str | None:
        for c in self.store:
            if c.image_id == image_id:
                return c.id
        return None

    # ------------------------------------------------------------------ processes, logs, attach

    async def top(self, ref: str, ps_args: str | None = None) -> dict[str, Any]:
        c = self.get(ref)
        if c.state.status not in ("running", "paused"):
            raise Conflict(f"Container {c.id} is not running")
        pids = await runtime_cli.pids(c.runtime_argv, c.id)
        return await top.top(pids, ps_args)

    def logs(
        self,
        ref: str,
        *,
        follow: bool = False,
        since: float | None = None,
        until: float | None = None,
        tail: int | None = None,
        stdout: bool = True,
        stderr: bool = True,
        timestamps: bool = False,
    ) -> tuple[bool, AsyncIterator[tuple[str, bytes]]]:
        """(tty, entries). The follow ends when the container stops."""
        from dockyard.engine.logs import read_logs

        c = self.get(ref)
        if c.host_config.get("LogConfig", {}).get("Type") == "none" or not c.log_path:
            raise Unsupported("configured logging driver does not support reading")
        if not stdout and not stderr:
            raise InvalidArgument("Bad parameters: you must choose at least one stream")
        cid = c.id

        def stopped() -> bool:
            current = self.store.find(cid)
            return current is None or current.state.status not in ("running", "paused", "restarting")

        entries = read_logs(
            c.log_path,
            follow=follow,
            since=since,
            until=until,
            tail=tail,
            stdout=stdout,
            stderr=stderr,
            timestamps=timestamps,
            until_exit=stopped,
        )
        return c.tty, entries

    async def attach(
        self, ref: str, *, stdin: bool, stdout: bool, stderr: bool, logs: bool, stream: bool
    ) -> tuple[Container, asyncio.Future[Streams] | None]:
        """The container and a future of the shim's attach streams (None: nothing to stream).

        A running container is attached at once; any other one when it next starts (`docker
        start -a` attaches first), through the pending list _start_locked connects."""
        c = self.get(ref)
        if c.state.status == "paused":
            raise Conflict(f"Container {c.id} is paused, unpause the container before attach.")
        if c.state.status == "restarting":
            raise Conflict("You cannot attach to a restarting container, wait until it is running.")
        self._publish(c, "attach")
        if not stream:
            return c, None
        live = self.live(c.id)
        future: asyncio.Future[Streams] = asyncio.get_running_loop().create_future()
        if c.state.status == "running" and live.shim is not None:
            try:
                future.set_result(await live.shim.attach(stdin, stdout, stderr, logs=logs))
            except Exception as exc:
                future.set_exception(exc)
        else:
            live.pending.append(PendingAttach(stdin, stdout, stderr, logs, future))
        return c, future

    async def resize(self, ref: str, height: int, width: int) -> None:
        c = self.get(ref)
        live = self.live(c.id)
        if c.state.status not in ("running", "paused") or live.shim is None:
            raise Conflict(f"Container {c.id} is not running")
        if height < 0 or width < 0:
            raise InvalidArgument(f"invalid terminal size {height}x{width}: use non-negative numbers")
        await live.shim.resize(height, width)
        self._publish(c, "resize", {"height": str(height), "width": str(width)})

    # ------------------------------------------------------------------ filesystem

    async def changes(self, ref: str) -> list[dict[str, Any]]:
        c = self.get(ref)
        try:
            result: list[dict[str, Any]] = await asyncio.to_thread(self.images.changes, c.id)
        except NotFound:
            return []
        return result

    @contextlib.asynccontextmanager
    async def mounted_rootfs(self, c: Container) -> AsyncIterator[Path]:
        """The container's rootfs, mounted for the duration (already mounted while it runs)."""
        rootfs = self._bundle(c) / "rootfs"
        if c.state.status in ("running", "paused"):
            yield rootfs
            return
        live = self.live(c.id)
        async with live.lock:
            await asyncio.to_thread(self._prepare_rootfs, c, rootfs)
            try:
                yield rootfs
            finally:
                if c.state.status not in ("running", "paused"):
                    await asyncio.to_thread(self.images.unmount_rootfs, c.id, rootfs)

    async def export(self, ref: str) -> AsyncIterator[bytes]:
        c = self.get(ref)
        async with self.mounted_rootfs(c) as rootfs:
            iterator = await asyncio.to_thread(self.images.export, c.id, rootfs)
            sentinel = object()
            while True:
                chunk = await asyncio.to_thread(next, iterator, sentinel)
                if chunk is sentinel:
                    break
                yield chunk  # type: ignore[misc]

    @contextlib.asynccontextmanager
    async def container_fs(self, ref: str) -> AsyncIterator[Any]:
        from dockyard.engine.archive import ContainerFS, FSMount

        c = self.get(ref)
        fs_mounts = [FSMount(mp.destination, mp.source, not mp.rw) for mp in c.mounts if mp.type != "tmpfs"]
        readonly = bool(c.host_config.get("ReadonlyRootfs"))
        spec = str(c.config.get("User") or "")

        def owner(root: str) -> tuple[int, int] | None:
            # `docker cp -a` (copyUIDGID) gives new files the container's user, as dockerd does.
            if not spec:
                return 0, 0
            try:
                u = resolve_user(root, spec)
            except DockyardError:
                return None  # a user the container does not know: the tar's owners stay
            return u.uid, u.gid

        # Running or not, the daemon reads and writes as host root: a remapped container's ids
        # are shifted into its range both ways.
        idmap = userns.wanted(c.host_config, self.idmap)
        if c.state.status in ("running", "paused") and c.state.pid:
            root = f"/proc/{c.state.pid}/root"
            yield ContainerFS(c.bare_name, root, fs_mounts, True, readonly, owner(root), idmap)
            return
        async with self.mounted_rootfs(c) as rootfs:
            yield ContainerFS(c.bare_name, str(rootfs), fs_mounts, False, readonly, owner(str(rootfs)), idmap)

    async def commit(
        self,
        ref: str,
        *,
        repo: str | None,
        tag: str | None,
        comment: str,
        author: str,
        changes: list[str],
        pause: bool,
        config: dict[str, Any] | None,
    ) -> str:
        c = self.get(ref)
        paused_here = False
        if pause and c.state.status == "running":
            await runtime_cli.pause(c.runtime_argv, c.id)
            paused_here = True
        try:
            merged = dict(c.config)
            if config:
                merged.update({k: v for k, v in config.items() if v is not None})
            # A container that never ran has no writable layer yet: preparing its rootfs makes
            # the (empty) one, as dockerd's create does, so its commit is the image plus config.
            async with self.mounted_rootfs(c):
                image_id: str = await asyncio.to_thread(
                    self.images.commit,
                    c.id,
                    c.image_id or None,
                    merged,
                    comment=comment,
                    author=author,
                    changes=changes,
                    repo=repo,
                    tag=tag,
                )
        finally:
            if paused_here:
                with contextlib.suppress(DockyardError):
                    await runtime_cli.resume(c.runtime_argv, c.id)
        self._publish(c, "commit", {"comment": comment} if comment else None)
        return image_id

    async def prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        filters = filters or {}
        for key in filters:
            if key not in ("until", "label", "label!"):
                raise InvalidArgument(f"invalid filter '{key}'")
        until = None
        if filters.get("until"):
            from dockyard.engine.events import parse_time

            until = parse_time(filters["until"][0])
        deleted: list[str] = []
        reclaimed = 0
        for c in list(self.store):
            if c.state.status not in ("created", "exited", "dead"):
                continue
            if until is not None and parse_rfc3339(c.created) >= until:
                continue
            labels = c.config.get("Labels") or {}
            if filters.get("label") and not all(_label_match(v, labels) for v in filters["label"]):
                continue
            if filters.get("label!") and any(_label_match(v, labels) for v in filters["label!"]):
                continue
            rw, _ = await asyncio.to_thread(self._sizes, c)
            try:
                await self.remove(c.id)
            except DockyardError as exc:
                log.info("prune skipped %s: %s", c.id[:12], exc)
                continue
            deleted.append(c.id)
            reclaimed += rw
        self.events.publish("container", "prune", "", {"reclaimed": str(reclaimed)})
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # ------------------------------------------------------------------ stats

    def stats(self, ref: str, *, stream: bool, one_shot: bool = False) -> AsyncIterator[dict[str, Any]]:
        from dockyard.engine.stats import stream_stats

        c = self.get(ref)
        cid = c.id

        def pid() -> int | None:
            current = self.store.find(cid)
            if current is None or current.state.status not in ("running", "paused"):
                return None
            return current.state.pid or None

        return stream_stats(pid, container_id=c.id, name=c.name, stream=stream, one_shot=one_shot)

    # ------------------------------------------------------------------ exec and volumes (extras)

    def _exec_target(self, c: Container) -> Any:
        from dockyard.engine.exec import ExecTarget

        live = self.live(c.id)
        return ExecTarget(
            container_id=c.id,
            name=c.name,
            image=c.config.get("Image") or c.image_id,
            pid=c.state.pid if c.state.status in ("running", "paused") else 0,
            status=c.state.status,
            process=dict(live.process or {}),
            working_dir=c.config.get("WorkingDir") or "",
            user=c.config.get("User") or "",
            labels=dict(c.config.get("Labels") or {}),
            runtime=list(c.runtime_argv) or None,
        )

    async def exec_create(self, ref: str, config: dict[str, Any]) -> str:
        c = self.get(ref)
        exec_id: str = self.execs.create(self._exec_target(c), config)
        return exec_id

    async def exec_start(
        self, exec_id: str, detach: bool, tty: bool | None = None, console_size: tuple[int, int] | None = None
    ) -> Any:
        c = self.get(self.execs.container_of(exec_id))
        return await self.execs.start(
            exec_id, self._exec_target(c), detach=detach, tty=tty, console_size=console_size
        )

    async def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        await self.execs.resize(exec_id, height, width)

    def exec_inspect(self, exec_id: str) -> dict[str, Any]:
        doc: dict[str, Any] = self.execs.inspect(exec_id)
        return doc

    def volume_remove(self, name: str, force: bool = False) -> None:
        self.volumes.remove(name, force, self._volume_users)

    def volume_prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self.volumes.prune(filters, self._volume_users)
        return result

    def volumes_df(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.volumes.list_with_usage(lambda n: len(self._volume_users(n)))
        return result


def _label_match(item: str, labels: dict[str, str]) -> bool:
    key, sep, value = item.partition("=")
    return key in labels and (not sep or labels[key] == value)
