"""``compose up``: converge the engine to the project, changing only what changed.

1. check everything that can be checked before a change: the dependency graph (a cycle names
   itself), the services asked for, external networks and volumes, then every image (pulled or
   built);
2. create the missing networks and volumes;
3. service by service in dependency order: wait for its dependencies' conditions, then apply
   its plan (:mod:`dockyard.compose.plan`): keep, start, recreate (stop, rm, create, start),
   create, or remove replicas;
4. with ``--wait``, wait until every container runs (and is healthy if it has a healthcheck).

If a step fails, what this run created (containers, networks, volumes) is removed again, so a
failed ``up`` (a port already in use, a dependency that never gets healthy) leaves nothing
half-started behind; containers it only kept are left as they were.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dockyard.client.api import APIClient, quote_path
from dockyard.compose import createbody, images, injectfiles, lifecycle, naming, resources, startorder, wait
from dockyard.compose import labels as lbl
from dockyard.compose.confighash import config_hash
from dockyard.compose.errors import ComposeError, NoSuchService, WaitFailed
from dockyard.compose.inherit import inherit_mounts
from dockyard.compose.model import LABEL_CONFIG_HASH, Project, Service
from dockyard.compose.plan import plan_service
from dockyard.compose.progress import Progress
from dockyard.compose.state import Container, list_containers
from dockyard.errors import DockyardError, InvalidArgument


@dataclass
class UpOptions:
    services: list[str] = field(default_factory=list)  # empty: every enabled service
    no_deps: bool = False
    force_recreate: bool = False
    no_recreate: bool = False
    build: bool = False
    pull_always: bool = False
    no_start: bool = False
    scale: dict[str, int] = field(default_factory=dict)
    wait: bool = False
    wait_timeout: float | None = None
    remove_orphans: bool = False
    timeout: int | None = None  # stop timeout for recreated and removed containers
    renew_anon_volumes: bool = False  # -V: a recreated container gets fresh anonymous volumes
    always_recreate_deps: bool = False  # the dependencies of the services named are recreated too


def select(project: Project, names: list[str], no_deps: bool) -> list[str]:
    for name in names:
        if name not in project.services:
            where = " (its profile is not enabled)" if name in project.disabled else ""
            raise NoSuchService(
                f'no such service: "{name}"{where}: services are {", ".join(sorted(project.services))}'
            )
    if not names:
        return startorder.order(project.services)
    if no_deps:
        return [n for n in startorder.order(project.services) if n in names]
    return startorder.with_dependencies(project.services, names)


def replicas(service: Service, scale: Mapping[str, int]) -> int:
    return scale.get(service.name, service.replicas())


def validate(project: Project, targets: list[str], scale: Mapping[str, int]) -> None:
    for name in scale:
        if name not in project.services:
            raise NoSuchService(f'--scale: no such service: "{name}"')
    for name in targets:
        service = project.services[name]
        if service.container_name and replicas(service, scale) > 1:
            raise InvalidArgument(
                f'service "{name}" has container_name "{service.container_name}" and '
                "several replicas: a name fits one container; drop container_name to scale it"
            )


class Converger:
    def __init__(
        self,
        client: APIClient,
        project: Project,
        progress: Progress,
        *,
        config: Mapping[str, Any] | None = None,
        tar_context: images.TarContext | None = None,
        warn: Any = None,
    ) -> None:
        self.client = client
        self.project = project
        self.progress = progress
        self.config = config or {}
        self.tar_context = tar_context
        self.warn = warn or (lambda text: None)
        self.created_containers: list[tuple[str, str]] = []  # (id, name), for the rollback
        self.created_networks: list[str] = []
        self.created_volumes: list[str] = []
        self.current: dict[str, list[Container]] = {}
        self.replaced: set[str] = set()  # services recreated (or restarted for one) by this run

    def up(self, opts: UpOptions) -> list[str]:
        """Converge; the services it touched, in order."""
        project = self.project
        startorder.check_references(project.services, project.disabled)
        startorder.levels(project.services)  # a cycle anywhere is an error before any change
        targets = select(project, opts.services, opts.no_deps)
        validate(project, targets, opts.scale)
        networks = resources.used_networks(project, targets)
        volumes = resources.used_volumes(project, targets)
        resources.check_external(self.client, project, networks, volumes)
        image_ids = images.ensure(
            self.client, project, targets, self.config, self.progress, self.tar_context,
            build_first=opts.build, pull_always=opts.pull_always,
        )  # fmt: skip
        existing = list_containers(self.client, project.name)
        self._orphans(existing, opts.remove_orphans)
        for c in existing:
            self.current.setdefault(c.service, []).append(c)
        try:
            self.created_networks = resources.ensure_networks(self.client, project, networks, self.progress)
            self.created_volumes = resources.ensure_volumes(self.client, project, volumes, self.progress)
            for name in targets:
                self._service(project.services[name], opts, image_ids.get(name), targets)
            if opts.wait and not opts.no_start:
                self.wait_all(targets, opts.wait_timeout)
        except BaseException:
            self.rollback()
            raise
        return targets

    # ------------------------------------------------------------------ steps

    def _orphans(self, existing: list[Container], remove: bool) -> None:
        known = set(self.project.services) | set(self.project.disabled)
        orphans = [c for c in existing if c.service not in known]
        if not orphans:
            return
        if remove:
            for c in orphans:
                lifecycle.remove(self.client, c.id, c.name, self.progress)
            return
        self.warn(
            f"Found orphan containers ({', '.join(c.name for c in orphans)}) for this project. If you removed"
            " or renamed this service in your compose file, you can run this command with the "
            "--remove-orphans flag to clean it up."
        )

    def _network_mode(self, service: Service) -> str | None:
        mode = service.network_mode or ""
        if not mode.startswith("service:"):
            return None
        other = mode[len("service:") :]
        running = [c for c in self.current.get(other, []) if c.number >= 1]
        if not running:
            raise ComposeError(
                f'service "{service.name}" uses network_mode {mode}, but "{other}" has no container'
            )
        return f"container:{running[0].id}"

    def _wait_dependencies(self, service: Service, targets: list[str]) -> None:
        for dep, spec in sorted(service.depends_on.items()):
            if dep not in targets or dep not in self.project.services:
                continue
            for c in self.current.get(dep, []):
                if spec.condition == "service_started":
                    continue  # started before this service, in dependency order
                self.progress.event("Container", c.name, "Waiting")
                wait.until(self.client, c.id, c.name, spec.condition, None)
                done = "Healthy" if spec.condition == "service_healthy" else "Exited"
                self.progress.event("Container", c.name, done)

    def _create(
        self, service: Service, number: int, image_id: str | None, start: bool,
        inherit: list[dict[str, Any]] | None = None,
    ) -> Container:  # fmt: skip
        project = self.project
        name = naming.container_name(project.name, service, number)
        labels = lbl.container_labels(project, service, number, config_hash(service))
        image = naming.service_image(project, service)
        body = createbody.create_body(
            project, service, image=image, labels=labels, network_mode=self._network_mode(service),
        )  # fmt: skip
        if inherit:
            config = self.client.get(f"/images/{quote_path(image)}/json").get("Config") or {}
            inherit_mounts(body, service, config.get("Volumes") or {}, inherit)
        files = injectfiles.files_for(project, service)  # a missing variable fails before the create
        cid = lifecycle.create(self.client, name, body, self.progress)
        self.created_containers.append((cid, name))
        injectfiles.inject(self.client, cid, files)
        if start:
            lifecycle.start(self.client, cid, name, self.progress)
        return Container(
            id=cid, name=name, service=service.name, number=number, config_hash=labels[LABEL_CONFIG_HASH],
            state="running" if start else "created", status="", image=body["Image"], image_id=image_id or "",
            oneoff=False, project=project.name, labels=labels,
        )  # fmt: skip

    def _mounts_of(self, c: Container) -> list[dict[str, Any]]:
        return list(self.client.get(f"/containers/{quote_path(c.id)}/json").get("Mounts") or [])

    def _service(self, service: Service, opts: UpOptions, image_id: str | None, targets: list[str]) -> None:
        plan = plan_service(
            service.name,
            self.current.get(service.name, []),
            replicas(service, opts.scale),
            config_hash(service),
            # As v2: --force-recreate is for the services named (all when none is); their
            # dependencies follow --always-recreate-deps; --no-recreate holds for both.
            force_recreate=(
                opts.force_recreate
                if not opts.services or service.name in opts.services
                else opts.always_recreate_deps
            ),
            no_recreate=opts.no_recreate,
            image_id=image_id,
        )
        self._wait_dependencies(service, targets)
        start = not opts.no_start
        # depends_on.restart: a kept, running container restarts after its dependency changed
        restart_kept = start and any(
            dep.restart and name in self.replaced for name, dep in service.depends_on.items()
        )
        after: list[Container] = []
        for step in plan.steps:
            c = step.container
            if step.action == "remove" and c is not None:
                lifecycle.stop(self.client, c.id, c.name, self.progress, opts.timeout)
                lifecycle.remove(self.client, c.id, c.name, self.progress)
            elif step.action == "recreate" and c is not None:
                inherit = None if opts.renew_anon_volumes else self._mounts_of(c)
                lifecycle.stop(self.client, c.id, c.name, self.progress, opts.timeout)
                lifecycle.remove(self.client, c.id, c.name, self.progress)
                after.append(self._create(service, step.number, image_id, start, inherit))
                self.progress.event("Container", c.name, "Recreated")
            elif step.action == "create":
                after.append(self._create(service, step.number, image_id, start))
            elif step.action == "start" and c is not None:
                if start:
                    lifecycle.start(self.client, c.id, c.name, self.progress)
                after.append(c)
            elif c is not None and restart_kept and c.running:
                lifecycle.restart(self.client, c.id, c.name, self.progress, opts.timeout)
                after.append(c)
            elif c is not None:
                self.progress.event("Container", c.name, "Running")
                after.append(c)
        if start and (restart_kept or any(s.action == "recreate" for s in plan.steps)):
            self.replaced.add(service.name)
        self.current[service.name] = after

    def wait_all(self, targets: list[str], timeout: float | None) -> None:
        may_exit = {
            dep
            for s in self.project.services.values()
            for dep, spec in s.depends_on.items()
            if spec.condition == "service_completed_successfully"
        }
        pending = [(c, name in may_exit) for name in targets for c in self.current.get(name, [])]
        deadline = None if timeout is None else time.monotonic() + timeout
        for c, _ in pending:
            self.progress.event("Container", c.name, "Waiting")
        while pending:
            still = []
            for c, exits in pending:
                if wait.running_and_healthy(wait.inspect(self.client, c.id), c.name, exits):
                    self.progress.event("Container", c.name, "Healthy")
                else:
                    still.append((c, exits))
            pending = still
            if pending and deadline is not None and time.monotonic() > deadline:
                names = ", ".join(c.name for c, _ in pending)
                raise WaitFailed(
                    f"timed out waiting for {names} to be running and healthy: raise --wait-timeout"
                )
            if pending:
                time.sleep(wait.POLL)

    def rollback(self) -> None:
        """Remove what this run created, newest first; errors here must not hide the first one."""
        for cid, name in reversed(self.created_containers):
            try:
                lifecycle.remove(self.client, cid, name, self.progress)
            except DockyardError:
                pass
        for name in reversed(self.created_networks):
            try:
                resources.remove_network(self.client, name, self.progress)
            except DockyardError:
                pass
        for name in reversed(self.created_volumes):
            try:
                resources.remove_volume(self.client, name, self.progress)
            except DockyardError:
                pass
        self.created_containers, self.created_networks, self.created_volumes = [], [], []
