"""Docker Compose's labels (docker/compose ``api/labels.go``): what marks a resource as a project's.

The commands find everything by these labels, so a project started by another Compose
(v2, or v1's docker-compose 1.29, which writes the same keys) is seen as well.
"""

from __future__ import annotations

from dockyard.compose.model import (
    LABEL_CONFIG_FILES,
    LABEL_CONFIG_HASH,
    LABEL_NETWORK,
    LABEL_NUMBER,
    LABEL_ONEOFF,
    LABEL_PROJECT,
    LABEL_SERVICE,
    LABEL_VERSION,
    LABEL_VOLUME,
    LABEL_WORKING_DIR,
    Project,
    Service,
)

#: What we write in com.docker.compose.version (Compose v2 writes its own version).
COMPOSE_VERSION = "2.29.0"
LABEL_IMAGE = "com.docker.compose.image"
LABEL_DEPENDS_ON = "com.docker.compose.depends_on"


def project_labels(project: Project) -> dict[str, str]:
    return {
        LABEL_PROJECT: project.name,
        LABEL_WORKING_DIR: project.working_dir,
        LABEL_CONFIG_FILES: ",".join(project.config_files),
        LABEL_VERSION: COMPOSE_VERSION,
    }


def container_labels(
    project: Project, service: Service, number: int | None, config_hash: str, oneoff: bool = False
) -> dict[str, str]:
    """The service's own labels, then Compose's (which win, as Compose sets them last)."""
    labels = dict(service.labels)
    labels.update(project_labels(project))
    labels[LABEL_SERVICE] = service.name
    labels[LABEL_ONEOFF] = "True" if oneoff else "False"
    labels[LABEL_CONFIG_HASH] = config_hash
    if number is not None:
        labels[LABEL_NUMBER] = str(number)
    if service.depends_on:
        labels[LABEL_DEPENDS_ON] = ",".join(
            f"{name}:{dep.condition}:{str(dep.restart).lower()}"
            for name, dep in sorted(service.depends_on.items())
        )
    return labels


def network_labels(project: Project, key: str, extra: dict[str, str]) -> dict[str, str]:
    labels = dict(extra)
    labels.update({LABEL_PROJECT: project.name, LABEL_NETWORK: key, LABEL_VERSION: COMPOSE_VERSION})
    return labels


def volume_labels(project: Project, key: str, extra: dict[str, str]) -> dict[str, str]:
    labels = dict(extra)
    labels.update({LABEL_PROJECT: project.name, LABEL_VOLUME: key, LABEL_VERSION: COMPOSE_VERSION})
    return labels


def project_filter(
    project: str, *, oneoff: bool | None = False, service: str | None = None
) -> dict[str, list[str]]:
    """The ``filters`` of ``GET /containers/json`` for a project's containers.

    Compose v1 wrote ``oneoff=False`` too, so the filter on ``False`` finds its services'
    containers and leaves out its one-off ones, as v2's does.
    """
    wanted = [f"{LABEL_PROJECT}={project}"]
    if oneoff is not None:
        wanted.append(f"{LABEL_ONEOFF}={'True' if oneoff else 'False'}")
    if service is not None:
        wanted.append(f"{LABEL_SERVICE}={service}")
    return {"label": wanted}
