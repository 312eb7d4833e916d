"""``compose run``: a one-off container of a service (its dependencies started first).

Named ``<project>-<service>-run-<12 hex>`` and labelled ``com.docker.compose.oneoff=True``, so
``ps`` and ``up`` leave it out and ``down`` removes it. Ports are published only with
``--service-ports`` and the restart policy is dropped, as Compose does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dockyard.client.api import APIClient
from dockyard.compose import createbody, images, injectfiles, naming, resources, startorder
from dockyard.compose import labels as lbl
from dockyard.compose.confighash import config_hash
from dockyard.compose.model import Project
from dockyard.compose.progress import Progress
from dockyard.compose.up import Converger, UpOptions, select


@dataclass
class RunOptions:
    service: str
    command: list[str] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] | None = None
    user: str = ""
    workdir: str = ""
    name: str = ""
    tty: bool = False
    stdin_open: bool = False
    remove: bool = False
    no_deps: bool = False
    service_ports: bool = False
    labels: dict[str, str] = field(default_factory=dict)


def create(
    client: APIClient,
    project: Project,
    opts: RunOptions,
    progress: Progress,
    *,
    config: Mapping[str, Any] | None = None,
    tar_context: images.TarContext | None = None,
) -> tuple[str, str]:
    """Start the dependencies, create the one-off container; (id, name)."""
    select(project, [opts.service], True)
    service = project.services[opts.service]
    deps = [d for d in startorder.with_dependencies(project.services, [opts.service]) if d != opts.service]
    if deps and not opts.no_deps:
        Converger(client, project, progress, config=config, tar_context=tar_context).up(
            UpOptions(services=deps)
        )
    networks = resources.used_networks(project, [opts.service])
    volumes = resources.used_volumes(project, [opts.service])
    resources.check_external(client, project, networks, volumes)
    resources.ensure_networks(client, project, networks, progress)
    resources.ensure_volumes(client, project, volumes, progress)
    images.ensure(client, project, [opts.service], config or {}, progress, tar_context)
    labels = lbl.container_labels(project, service, None, config_hash(service), oneoff=True)
    labels.update(opts.labels)
    body = createbody.create_body(
        project, service, image=naming.service_image(project, service), labels=labels,
        command=opts.command, extra_env=opts.environment, oneoff=not opts.service_ports,
    )  # fmt: skip
    if opts.entrypoint is not None:
        body["Entrypoint"] = opts.entrypoint
    if opts.user:
        body["User"] = opts.user
    if opts.workdir:
        body["WorkingDir"] = opts.workdir
    body["Tty"] = opts.tty
    body["OpenStdin"] = opts.stdin_open
    body["AttachStdin"] = opts.stdin_open
    body["AttachStdout"] = body["AttachStderr"] = True
    if opts.remove:
        body["HostConfig"]["AutoRemove"] = True
    name = opts.name or naming.oneoff_name(project.name, opts.service)
    files = injectfiles.files_for(project, service)
    created = client.post("/containers/create", {"name": name}, json=body)
    try:
        injectfiles.inject(client, str(created["Id"]), files)
    except BaseException:
        client.delete(f"/containers/{created['Id']}", {"force": True})
        raise
    return str(created["Id"]), name
