"""The commands that act on a project's existing containers: down, start, stop, restart, kill, rm.

Each works from the engine's labels, so a project whose files are gone (or that another
Compose started) can still be stopped and removed by its name alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from dockyard.client.api import APIClient, quote_path
from dockyard.client.errors import DaemonError, NoSuchObject
from dockyard.compose import lifecycle, naming, resources, startorder
from dockyard.compose.errors import NoSuchService
from dockyard.compose.model import LABEL_NETWORK, LABEL_VOLUME, Project
from dockyard.compose.progress import Progress
from dockyard.compose.state import Container, list_containers


def check_services(project: Project | None, names: Iterable[str]) -> None:
    if project is None:
        return
    for name in names:
        if name not in project.services and name not in project.disabled:
            raise NoSuchService(
                f'no such service: "{name}": services are {", ".join(sorted(project.services))}'
            )


def _order(project: Project | None, containers: list[Container]) -> list[Container]:
    """Dependencies first (start order); the reverse is the stop order."""
    if project is None:
        return containers
    rank = {name: i for i, name in enumerate(startorder.order(project.services))}
    return sorted(containers, key=lambda c: (rank.get(c.service, len(rank)), c.number))


def _levels(project: Project | None, containers: list[Container]) -> list[list[Container]]:
    """The containers grouped by their service's dependency level, dependencies first."""
    if project is None:
        return [containers] if containers else []
    level = {name: i for i, group in enumerate(startorder.levels(project.services)) for name in group}
    groups: dict[int, list[Container]] = {}
    for c in containers:
        groups.setdefault(level.get(c.service, len(level)), []).append(c)
    return [groups[k] for k in sorted(groups)]


def stop_all(
    client: APIClient, project: Project | None, containers: list[Container], progress: Progress,
    timeout: int | None = None,
) -> None:  # fmt: skip
    """Stop running containers, dependents first; those of one level together, as Compose does
    (each may take its whole stop timeout)."""
    from concurrent.futures import ThreadPoolExecutor

    for group in reversed(_levels(project, [c for c in containers if c.running])):
        with ThreadPoolExecutor(max_workers=min(8, len(group))) as pool:
            futures = [pool.submit(lifecycle.stop, client, c.id, c.name, progress, timeout) for c in group]
        for future in futures:
            future.result()


def containers_of(
    client: APIClient, project_name: str, services: list[str], *, oneoff: bool | None = False
) -> list[Container]:
    found = list_containers(client, project_name, oneoff=oneoff)
    return [c for c in found if not services or c.service in services]


def stop(
    client: APIClient, project: Project | None, name: str, services: list[str], progress: Progress,
    timeout: int | None = None,
) -> None:  # fmt: skip
    check_services(project, services)
    stop_all(client, project, containers_of(client, name, services), progress, timeout)


def start(
    client: APIClient, project: Project | None, name: str, services: list[str], progress: Progress
) -> None:
    check_services(project, services)
    found = containers_of(client, name, services)
    if services and not found:
        raise NoSuchService(f"no container to start for {', '.join(services)}: run `up` first")
    for c in _order(project, found):
        if not c.running:
            lifecycle.start(client, c.id, c.name, progress)


def restart(
    client: APIClient, project: Project | None, name: str, services: list[str], progress: Progress,
    timeout: int | None = None,
) -> None:  # fmt: skip
    check_services(project, services)
    if project is not None and services:
        # dependents declared with depends_on.restart: true go with their dependency, after it
        services = startorder.with_restart_dependents(project.services, services)
    for c in _order(project, containers_of(client, name, services)):
        lifecycle.restart(client, c.id, c.name, progress, timeout)


def pause(
    client: APIClient, project: Project | None, name: str, services: list[str], progress: Progress
) -> None:
    """Pause the running containers (dependents first, as a stop)."""
    check_services(project, services)
    for c in reversed(_order(project, containers_of(client, name, services))):
        if c.state == "running":
            lifecycle.pause(client, c.id, c.name, progress)


def unpause(
    client: APIClient, project: Project | None, name: str, services: list[str], progress: Progress
) -> None:
    check_services(project, services)
    for c in _order(project, containers_of(client, name, services)):
        if c.state == "paused":
            lifecycle.unpause(client, c.id, c.name, progress)


def kill(
    client: APIClient,
    project: Project | None,
    name: str,
    services: list[str],
    progress: Progress,
    signal: str = "",
) -> None:
    check_services(project, services)
    for c in reversed(_order(project, containers_of(client, name, services))):
        if c.running:
            lifecycle.kill(client, c.id, c.name, progress, signal)


def rm(
    client: APIClient, project: Project | None, name: str, services: list[str], progress: Progress,
    *, stop_first: bool = False, force: bool = False, volumes: bool = False,
) -> list[Container]:  # fmt: skip
    """Remove stopped containers (running ones too with ``stop_first``); what was removed."""
    check_services(project, services)
    found = containers_of(client, name, services)
    if stop_first:
        stop_all(client, project, found, progress)
        found = containers_of(client, name, services)
    removable = [c for c in found if not c.running or force]
    for c in removable:
        lifecycle.remove(client, c.id, c.name, progress, volumes=volumes)
    return removable


def _network_in_use(client: APIClient, name: str) -> bool:
    try:
        found = client.get(f"/networks/{quote_path(name)}")
    except NoSuchObject:
        return False
    return bool(found.get("Containers"))


def down(
    client: APIClient,
    project: Project | None,
    name: str,
    progress: Progress,
    *,
    volumes: bool = False,
    rmi: str = "",
    remove_orphans: bool = False,
    timeout: int | None = None,
) -> None:
    """Stop and remove the project's containers (one-off ones too), then its networks; its
    volumes with ``-v``; its images with ``--rmi local`` (built ones) or ``all``."""
    found = list_containers(client, name, oneoff=None)
    if project is not None and not remove_orphans:
        known = set(project.services) | set(project.disabled)
        orphans = [c for c in found if c.service not in known and not c.oneoff]
        found = [c for c in found if c not in orphans]
    stop_all(client, project, found, progress, timeout)
    for c in reversed(_order(project, found)):
        lifecycle.remove(client, c.id, c.name, progress)
    external_nets = {n.name for n in project.networks.values() if n.external} if project else set()
    for net in resources.project_networks(client, name):
        if net.get("Name") not in external_nets and (net.get("Labels") or {}).get(LABEL_NETWORK) is not None:
            if _network_in_use(client, str(net["Name"])):
                # an orphan (kept without --remove-orphans) or another project's container is
                # on it: Compose warns and goes on
                progress.event("Network", str(net["Name"]), "Resource is still in use")
                continue
            try:
                resources.remove_network(client, str(net["Name"]), progress)
            except DaemonError as exc:
                progress.event("Network", str(net["Name"]), "Error", error=True)
                raise DaemonError(f"network {net['Name']}: {exc.message}", exc.status) from None
    if volumes:
        external_vols = {v.name for v in project.volumes.values() if v.external} if project else set()
        for vol in resources.project_volumes(client, name):
            if (
                vol.get("Name") not in external_vols
                and (vol.get("Labels") or {}).get(LABEL_VOLUME) is not None
            ):
                resources.remove_volume(client, str(vol["Name"]), progress)
    if rmi and project is not None:
        for service in project.services.values():
            if rmi == "local" and service.image is not None:
                continue
            image = naming.service_image(project, service)
            progress.event("Image", image, "Removing")
            try:
                client.delete(f"/images/{quote_path(image)}")
            except NoSuchObject:
                pass  # never built or pulled here: nothing to remove
            progress.event("Image", image, "Removed")
