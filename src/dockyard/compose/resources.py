"""The project's networks and volumes: checked (external ones), created with Compose's labels, removed.

Only the networks and volumes some enabled service uses are made, as Compose does after
dropping unused resources from the model. An existing one of the same name is reused (Compose
warns when it lacks the project's label; so do we).
"""

from __future__ import annotations

from typing import Any

from dockyard.client.api import APIClient, encode_filters, quote_path
from dockyard.client.errors import NoSuchObject
from dockyard.compose import createbody
from dockyard.compose import labels as lbl
from dockyard.compose.errors import ExternalMissing
from dockyard.compose.model import LABEL_PROJECT, Project
from dockyard.compose.progress import Progress


def used_networks(project: Project, services: list[str] | None = None) -> list[str]:
    names = services if services is not None else list(project.services)
    keys: set[str] = set()
    for name in names:
        service = project.services[name]
        if not service.network_mode:
            keys.update(createbody.service_networks(project, service))
    return sorted(k for k in keys if k in project.networks)


def used_volumes(project: Project, services: list[str] | None = None) -> list[str]:
    names = services if services is not None else list(project.services)
    keys: set[str] = set()
    for name in names:
        for m in project.services[name].volumes:
            if m.type == "volume" and m.source:
                keys.add(m.source)
    return sorted(k for k in keys if k in project.volumes)


def _inspect(client: APIClient, kind: str, name: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = client.get(f"/{kind}/{quote_path(name)}")
    except NoSuchObject:
        return None
    return found


def check_external(client: APIClient, project: Project, networks: list[str], volumes: list[str]) -> None:
    """Every external network and volume exists: checked before anything is created."""
    for key in networks:
        net = project.networks[key]
        if net.external and _inspect(client, "networks", net.name) is None:
            raise ExternalMissing(
                f'network "{net.name}" is declared as external, but could not be found: create it with '
                f"`dockyard network create {net.name}`, or drop external: from networks.{key}"
            )
    for key in volumes:
        vol = project.volumes[key]
        if vol.external and _inspect(client, "volumes", vol.name) is None:
            raise ExternalMissing(
                f'volume "{vol.name}" is declared as external, but could not be found: create it with '
                f"`dockyard volume create {vol.name}`, or drop external: from volumes.{key}"
            )


def ensure_networks(client: APIClient, project: Project, keys: list[str], progress: Progress) -> list[str]:
    """Create what is missing; the names created (for the caller's rollback)."""
    created = []
    for key in keys:
        net = project.networks[key]
        if net.external:
            continue
        found = _inspect(client, "networks", net.name)
        if found is not None:
            if (found.get("Labels") or {}).get(LABEL_PROJECT) != project.name:
                progress.event("Network", net.name, "Found")
            continue
        body: dict[str, Any] = {
            "Name": net.name,
            "CheckDuplicate": True,
            "Driver": net.driver or "bridge",
            "Labels": lbl.network_labels(project, key, net.labels),
            "Internal": net.internal,
            "Attachable": net.attachable,
            "EnableIPv6": net.enable_ipv6,
            "Options": dict(net.driver_opts),
        }
        if net.ipam_subnets:
            body["IPAM"] = {
                "Driver": "default",
                "Config": [
                    {
                        {"subnet": "Subnet", "gateway": "Gateway", "ip_range": "IPRange"}.get(k, k): v
                        for k, v in s.items()
                    }
                    for s in net.ipam_subnets
                ],
            }
        progress.event("Network", net.name, "Creating")
        client.post("/networks/create", json=body)
        created.append(net.name)
        progress.event("Network", net.name, "Created")
    return created


def ensure_volumes(client: APIClient, project: Project, keys: list[str], progress: Progress) -> list[str]:
    created = []
    for key in keys:
        vol = project.volumes[key]
        if vol.external or _inspect(client, "volumes", vol.name) is not None:
            continue
        body = {
            "Name": vol.name,
            "Driver": vol.driver or "local",
            "DriverOpts": dict(vol.driver_opts),
            "Labels": lbl.volume_labels(project, key, vol.labels),
        }
        progress.event("Volume", vol.name, "Creating")
        client.post("/volumes/create", json=body)
        created.append(vol.name)
        progress.event("Volume", vol.name, "Created")
    return created


def project_networks(client: APIClient, project: str) -> list[dict[str, Any]]:
    found = client.get("/networks", {"filters": encode_filters({"label": [f"{LABEL_PROJECT}={project}"]})})
    return list(found or [])


def project_volumes(client: APIClient, project: str) -> list[dict[str, Any]]:
    found = (
        client.get("/volumes", {"filters": encode_filters({"label": [f"{LABEL_PROJECT}={project}"]})}) or {}
    )
    return list(found.get("Volumes") or [])


def remove_network(client: APIClient, name: str, progress: Progress) -> None:
    progress.event("Network", name, "Removing")
    try:
        client.delete(f"/networks/{quote_path(name)}")
    except NoSuchObject:
        pass  # already gone (another down, or removed by hand): the goal is reached
    progress.event("Network", name, "Removed")


def remove_volume(client: APIClient, name: str, progress: Progress) -> None:
    progress.event("Volume", name, "Removing")
    try:
        client.delete(f"/volumes/{quote_path(name)}")
    except NoSuchObject:
        pass  # already gone: the goal is reached
    progress.event("Volume", name, "Removed")
