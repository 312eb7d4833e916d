"""What ``ps``, ``ls``, ``port`` and ``top`` show: rows from the engine's labels and inspect."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dockyard.client.api import APIClient, quote_path
from dockyard.compose.errors import ComposeError, NoSuchService
from dockyard.compose.state import Container, config_files, list_containers


def ports_text(ports: list[dict[str, Any]]) -> str:
    """``0.0.0.0:8080->80/tcp, 5000/tcp`` as ``docker compose ps`` writes it."""
    parts = []
    seen = set()
    for p in sorted(ports, key=lambda p: (p.get("PrivatePort", 0), p.get("IP", ""))):
        private = f"{p.get('PrivatePort')}/{p.get('Type', 'tcp')}"
        if p.get("PublicPort"):
            ip = p.get("IP") or "0.0.0.0"
            host = f"[{ip}]" if ":" in ip else ip
            text = f"{host}:{p['PublicPort']}->{private}"
        else:
            text = private
        if text not in seen:
            seen.add(text)
            parts.append(text)
    return ", ".join(parts)


def ps_rows(containers: list[Container]) -> list[dict[str, str]]:
    rows = []
    for c in containers:
        rows.append(
            {
                "ID": c.id[:12],
                "Name": c.name,
                "Image": c.image,
                "Command": json.dumps(c.command) if c.command else '""',
                "Project": c.project,
                "Service": c.service,
                "Created": str(c.created),
                "State": c.state,
                "Status": c.status,
                "Ports": ports_text(c.ports),
            }
        )
    return rows


@dataclass
class ProjectSummary:
    name: str
    status: str  # "running(2)", "exited(1), running(2)"
    config_files: str
    running: int


def projects(client: APIClient, all: bool = False) -> list[ProjectSummary]:
    """Every project on the engine, by its containers' labels (any Compose's)."""
    by_project: dict[str, list[Container]] = {}
    for c in list_containers(client, None, oneoff=False):
        by_project.setdefault(c.project, []).append(c)
    out = []
    for name, containers in sorted(by_project.items()):
        counts: dict[str, int] = {}
        for c in containers:
            counts[c.state] = counts.get(c.state, 0) + 1
        running = counts.get("running", 0)
        if not all and not running:
            continue
        status = ", ".join(f"{state}({n})" for state, n in sorted(counts.items()))
        out.append(ProjectSummary(name, status, config_files(containers), running))
    return out


def replica(client: APIClient, project: str, service: str, index: int = 1, oneoff: bool = False) -> Container:
    found = list_containers(client, project, oneoff=oneoff, service=service)
    if not found:
        raise NoSuchService(f'service "{service}" has no container in project "{project}": run `up` first')
    for c in found:
        if c.number == index:
            return c
    if index == 1:
        return found[0]
    raise NoSuchService(f'service "{service}" has no replica number {index}: it has {len(found)}')


def port(client: APIClient, project: str, service: str, private: str, index: int = 1) -> str:
    """``HOST:PORT`` published for the service's ``private`` port (``80`` or ``80/udp``)."""
    key = private if "/" in private else f"{private}/tcp"
    c = replica(client, project, service, index)
    info = client.get(f"/containers/{quote_path(c.id)}/json")
    bindings = ((info.get("NetworkSettings") or {}).get("Ports") or {}).get(key) or []
    if not bindings:
        raise ComposeError(f'service "{service}" publishes no port for {key}: add it to its ports')
    b = bindings[0]
    return f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}"


def top(client: APIClient, containers: list[Container]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(container name, titles, rows) for each running container."""
    out = []
    for c in containers:
        if not c.running:
            continue
        answer = client.get(f"/containers/{quote_path(c.id)}/top") or {}
        out.append(
            (
                c.name,
                list(answer.get("Titles") or []),
                [list(map(str, r)) for r in answer.get("Processes") or []],
            )
        )
    return out
