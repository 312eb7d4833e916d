"""What the engine holds for a container while the daemon runs (never stored): its lock, its
shim, the task watching it exit, waiters, pending attaches, the restart timer and back-off."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.engine.restart import Backoff
from dockyard.engine.waiters import Waiters

if TYPE_CHECKING:
    from dockyard.engine.shim import Shim

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass
class PendingAttach:
    """An attach made before the container runs (`docker start -a`, `docker run`): connected to
    the shim after the runtime's create and before its start, so no output is lost."""

    stdin: bool
    stdout: bool
    stderr: bool
    logs: bool
    future: asyncio.Future[Streams]


@dataclass
class Live:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    shim: Shim | None = None
    monitor: asyncio.Task[None] | None = None
    # Resolved (with the exit code) once an exit is fully handled: state saved, mounts and
    # sandbox gone. stop/kill/restart await it.
    exited: asyncio.Future[int] | None = None
    waiters: Waiters = field(default_factory=Waiters)
    pending: list[PendingAttach] = field(default_factory=list)
    restart_task: asyncio.Task[None] | None = None
    backoff: Backoff = field(default_factory=Backoff)
    health: Any = None  # health.HealthMonitor while running with a healthcheck
    process: dict[str, Any] | None = None  # config.json's "process", for exec
    removing: bool = False
    active: bool = False  # a run's resources (runtime state, mount, sandbox) may exist
    acquired: list[str] = field(default_factory=list)  # volume names acquired for this run
