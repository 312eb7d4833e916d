"""Waiting for containers: ``depends_on`` conditions and ``up --wait``.

The Engine API has no "healthy" event a client can wait on without racing, so, as Compose
does, the container's state is polled (``GET /containers/{id}/json``): ``State.Health.Status``
for ``service_healthy``, ``State.Status`` and ``ExitCode`` for ``service_completed_successfully``.
"""

from __future__ import annotations

import time
from typing import Any

from dockyard.client.api import APIClient, quote_path
from dockyard.client.errors import NoSuchObject
from dockyard.compose.errors import WaitFailed

POLL = 0.05


def inspect(client: APIClient, cid: str) -> dict[str, Any]:
    found: dict[str, Any] = client.get(f"/containers/{quote_path(cid)}/json")
    return found


def exit_code(client: APIClient, cid: str) -> int:
    """Block until the container is not running; its exit code."""
    result = client.call("POST", f"/containers/{quote_path(cid)}/wait", {"condition": "not-running"}) or {}
    return int(result.get("StatusCode", 0))


def health(info: dict[str, Any]) -> str:
    """``healthy``/``unhealthy``/``starting``, or "" when the container has no healthcheck."""
    state = info.get("State") or {}
    return str((state.get("Health") or {}).get("Status") or "")


def condition_met(info: dict[str, Any], condition: str, name: str) -> bool:
    """Whether ``condition`` holds now; raises when it never can (unhealthy, exited wrongly)."""
    state = info.get("State") or {}
    status = str(state.get("Status") or "")
    if condition == "service_completed_successfully":
        if status in ("exited", "dead"):
            code = int(state.get("ExitCode") or 0)
            if code != 0:
                raise WaitFailed(f"service {name} didn't complete successfully: exit {code}")
            return True
        return False
    if condition == "service_healthy":
        h = health(info)
        if h == "healthy":
            return True
        if h == "unhealthy":
            raise WaitFailed(f"dependency failed to start: container {name} is unhealthy")
        if not h:
            raise WaitFailed(
                f"dependency {name} has no healthcheck: condition service_healthy needs one; add a "
                "healthcheck or use condition: service_started"
            )
        if status in ("exited", "dead"):
            raise WaitFailed(f"dependency failed to start: container {name} exited ({state.get('ExitCode')})")
        return False
    return status not in ("", "created")


def until(client: APIClient, cid: str, name: str, condition: str, timeout: float | None) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            info = inspect(client, cid)
        except NoSuchObject:
            raise WaitFailed(f"container {name} was removed while waiting for it") from None
        if condition_met(info, condition, name):
            return
        if deadline is not None and time.monotonic() > deadline:
            raise WaitFailed(f"timed out waiting for container {name} ({condition}): raise --wait-timeout")
        time.sleep(POLL)


def running_and_healthy(info: dict[str, Any], name: str, may_exit: bool) -> bool:
    """``up --wait``'s test: running, and healthy when it has a healthcheck."""
    state = info.get("State") or {}
    status = str(state.get("Status") or "")
    if status in ("exited", "dead"):
        code = int(state.get("ExitCode") or 0)
        if may_exit and code == 0:
            return True
        raise WaitFailed(f"container {name} exited ({code})")
    if status != "running":
        return False
    h = health(info)
    if h == "unhealthy":
        raise WaitFailed(f"container {name} is unhealthy")
    return h in ("", "healthy")
