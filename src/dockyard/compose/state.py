"""What the engine has of a project: its containers as ``GET /containers/json`` lists them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dockyard.client.api import APIClient, encode_filters
from dockyard.compose import labels as lbl
from dockyard.compose.model import (
    LABEL_CONFIG_FILES,
    LABEL_CONFIG_HASH,
    LABEL_NUMBER,
    LABEL_ONEOFF,
    LABEL_PROJECT,
    LABEL_SERVICE,
)


@dataclass
class Container:
    id: str
    name: str
    service: str
    number: int
    config_hash: str
    state: str  # created, running, paused, restarting, exited, dead
    status: str  # "Up 3 seconds (healthy)"
    image: str
    image_id: str
    oneoff: bool
    project: str
    labels: dict[str, str] = field(default_factory=dict)
    ports: list[dict[str, Any]] = field(default_factory=list)
    command: str = ""
    created: int = 0

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting", "paused")

    @classmethod
    def from_summary(cls, data: dict[str, Any]) -> Container:
        labels = {str(k): str(v) for k, v in (data.get("Labels") or {}).items()}
        names = data.get("Names") or [""]
        number = labels.get(LABEL_NUMBER, "0")
        return cls(
            id=str(data["Id"]),
            name=str(names[0]).lstrip("/"),
            service=labels.get(LABEL_SERVICE, ""),
            number=int(number) if number.isdigit() else 0,
            config_hash=labels.get(LABEL_CONFIG_HASH, ""),
            state=str(data.get("State") or ""),
            status=str(data.get("Status") or ""),
            image=str(data.get("Image") or ""),
            image_id=str(data.get("ImageID") or ""),
            oneoff=labels.get(LABEL_ONEOFF, "False").lower() == "true",
            project=labels.get(LABEL_PROJECT, ""),
            labels=labels,
            ports=list(data.get("Ports") or []),
            command=str(data.get("Command") or ""),
            created=int(data.get("Created") or 0),
        )


def list_containers(
    client: APIClient,
    project: str | None,
    *,
    all: bool = True,
    oneoff: bool | None = False,
    service: str | None = None,
) -> list[Container]:
    """A project's containers (every project's with ``project=None``), by service then number."""
    if project is None:
        filters: dict[str, list[str]] = {"label": [LABEL_PROJECT]}
    else:
        filters = lbl.project_filter(project, oneoff=oneoff, service=service)
    found = client.get("/containers/json", {"all": all, "filters": encode_filters(filters)}) or []
    out = [Container.from_summary(item) for item in found]
    if project is None and oneoff is not None:
        out = [c for c in out if c.oneoff == oneoff]
    out.sort(key=lambda c: (c.project, c.service, c.oneoff, c.number, c.name))
    return out


def config_files(containers: list[Container]) -> str:
    for c in containers:
        files = c.labels.get(LABEL_CONFIG_FILES)
        if files:
            return files
    return ""
