"""The step runner: how the builder runs a RUN step, handed to it by the daemon.

``build`` never imports the engine (DESIGN.md); the daemon passes an object with this shape,
backed by the engine, so RUN steps go through the same container path as ``docker run``: the
image's env, user and workdir, an overlay snapshot on the image, the configured OCI runtime.
The builder then reads the container's writable layer (the images service's upper folder of
``container_id``) and removes the container.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class RunStep:
    image_id: str  # the image the step runs on (registered: the engine resolves it)
    argv: list[str]
    env: list[str]  # the full environment ("K=V"), image env and build args in scope
    user: str = ""
    workdir: str = ""
    network: str = "default"  # "default", "none", "host"
    mounts: list[dict[str, Any]] = field(default_factory=list)  # Engine API Mount objects (bind)
    labels: dict[str, str] = field(default_factory=dict)


Output = Callable[[bytes], Awaitable[None]]


class StepRunner(Protocol):
    async def create(self, step: RunStep) -> str:
        """A container for the step, not started yet; its id."""
        ...

    async def run(self, container_id: str, output: Output) -> int:
        """Start it, pass its stdout and stderr to ``output`` as they come; its exit code."""
        ...

    async def remove(self, container_id: str) -> None:
        """Remove it and its writable layer; idempotent."""
        ...
