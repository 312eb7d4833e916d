"""What every handler can reach: the daemon's settings and its services."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from dockyard.daemon.options import DaemonOptions


@dataclass
class DaemonContext:
    options: DaemonOptions
    started_at: float = field(default_factory=time.time)
    # The services, built by daemon.main in order (images and network first, the engine on top).
    images: Any = None
    network: Any = None
    events: Any = None
    engine: Any = None
    builder: Any = None  # dockyard.build.builder.Builder, made at the first build
