"""One container's steps as Compose shows them: create, start, stop, remove, each with its progress line."""

from __future__ import annotations

from typing import Any

from dockyard.client.api import APIClient, quote_path
from dockyard.client.errors import NoSuchObject
from dockyard.compose.errors import ComposeError
from dockyard.compose.progress import Progress
from dockyard.errors import DockyardError


def _fail(progress: Progress, name: str, what: str, exc: DockyardError) -> ComposeError:
    progress.event("Container", name, "Error", error=True)
    return ComposeError(f"container {name}: {what} failed: {exc.message}")


def create(client: APIClient, name: str, body: dict[str, Any], progress: Progress) -> str:
    progress.event("Container", name, "Creating")
    try:
        created = client.post("/containers/create", {"name": name}, json=body)
    except DockyardError as exc:
        raise _fail(progress, name, "create", exc) from None
    progress.event("Container", name, "Created")
    return str(created["Id"])


def start(client: APIClient, cid: str, name: str, progress: Progress) -> None:
    progress.event("Container", name, "Starting")
    try:
        client.post(f"/containers/{quote_path(cid)}/start")
    except DockyardError as exc:
        raise _fail(progress, name, "start", exc) from None
    progress.event("Container", name, "Started")


def stop(client: APIClient, cid: str, name: str, progress: Progress, timeout: int | None = None) -> None:
    progress.event("Container", name, "Stopping")
    try:
        client.post(f"/containers/{quote_path(cid)}/stop", {"t": timeout})
    except NoSuchObject:
        pass  # gone already: stopped is what was wanted
    except DockyardError as exc:
        raise _fail(progress, name, "stop", exc) from None
    progress.event("Container", name, "Stopped")


def remove(client: APIClient, cid: str, name: str, progress: Progress, *, volumes: bool = False) -> None:
    progress.event("Container", name, "Removing")
    try:
        client.delete(f"/containers/{quote_path(cid)}", {"force": True, "v": volumes or None})
    except NoSuchObject:
        pass  # gone already (another down, or --rm): the goal is reached
    except DockyardError as exc:
        raise _fail(progress, name, "remove", exc) from None
    progress.event("Container", name, "Removed")


def kill(client: APIClient, cid: str, name: str, progress: Progress, signal: str = "") -> None:
    progress.event("Container", name, "Killing")
    try:
        client.post(f"/containers/{quote_path(cid)}/kill", {"signal": signal or None})
    except DockyardError as exc:
        raise _fail(progress, name, "kill", exc) from None
    progress.event("Container", name, "Killed")


def restart(client: APIClient, cid: str, name: str, progress: Progress, timeout: int | None = None) -> None:
    progress.event("Container", name, "Restarting")
    try:
        client.post(f"/containers/{quote_path(cid)}/restart", {"t": timeout})
    except DockyardError as exc:
        raise _fail(progress, name, "restart", exc) from None
    progress.event("Container", name, "Restarted")


def pause(client: APIClient, cid: str, name: str, progress: Progress) -> None:
    progress.event("Container", name, "Pausing")
    try:
        client.post(f"/containers/{quote_path(cid)}/pause")
    except DockyardError as exc:
        raise _fail(progress, name, "pause", exc) from None
    progress.event("Container", name, "Paused")


def unpause(client: APIClient, cid: str, name: str, progress: Progress) -> None:
    progress.event("Container", name, "Unpausing")
    try:
        client.post(f"/containers/{quote_path(cid)}/unpause")
    except DockyardError as exc:
        raise _fail(progress, name, "unpause", exc) from None
    progress.event("Container", name, "Unpaused")
