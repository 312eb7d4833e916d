"""The container record: what the engine keeps about one container, in memory and in engine.db.

A record holds the configuration as created (``config`` is the Engine API ContainerConfig merged
with the image's, ``host_config`` the normalised HostConfig), the state machine's fields, and
what a start produced (network settings, runtime argv). It is plain data: it serialises to one
JSON document per row (db.py), and views.py turns it into the API's inspect/summary JSON.

States follow dockerd's: created -> running <-> paused, running -> restarting -> running,
running -> exited, and removing / dead around removal.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Go's zero time.Time, which dockerd prints for "never" (StartedAt of a created container).
ZERO_TIME = "0001-01-01T00:00:00Z"


def now_rfc3339() -> str:
    """The current time as dockerd writes it: RFC 3339 in UTC with nanoseconds."""
    import time

    ns = time.time_ns()
    stamp = datetime.fromtimestamp(ns // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ns % 1_000_000_000:09d}Z"


def parse_rfc3339(value: str) -> float:
    """Seconds since the epoch of an RFC 3339 timestamp (nanoseconds kept to the microsecond)."""
    if not value or value.startswith("0001-"):
        return 0.0
    text = value.rstrip("Z")
    offset = 0.0
    for sign in ("+", "-"):
        head, sep, tz = text[10:].rpartition(sign)
        if sep and ":" in tz and len(tz) == 5:
            text = text[:10] + head
            hours, minutes = tz.split(":")
            offset = (int(hours) * 3600 + int(minutes) * 60) * (1 if sign == "+" else -1)
            break
    base, _, frac = text.partition(".")
    seconds = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return seconds + (float("0." + frac) if frac else 0.0) - offset


@dataclass
class State:
    status: str = "created"
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME
    oom_killed: bool = False
    # `docker stop` (or kill) by a user: unless-stopped and always skip it at daemon start, and
    # the restart policy does not restart a container stopped on purpose.
    manually_stopped: bool = False
    health: dict[str, Any] | None = None

    @property
    def running(self) -> bool:
        return self.status in ("running", "paused", "restarting")


@dataclass
class MountPoint:
    """One mount of the container, as inspect's Mounts lists it (plus what the engine needs)."""

    type: str  # bind | volume | tmpfs
    destination: str
    source: str = ""
    name: str = ""  # the volume's name
    driver: str = ""
    mode: str = ""
    rw: bool = True
    propagation: str = ""
    anonymous: bool = False  # created for this container: removed with `rm -v` / AutoRemove
    options: list[str] = field(default_factory=list)  # OCI mount options (tmpfs size, ...)
    no_copy: bool = False

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Type": self.type}
        if self.type == "volume":
            out["Name"] = self.name
        out["Source"] = self.source
        out["Destination"] = self.destination
        if self.type == "volume":
            out["Driver"] = self.driver or "local"
        out["Mode"] = self.mode
        out["RW"] = self.rw
        out["Propagation"] = self.propagation
        return out


@dataclass
class Container:
    id: str
    name: str  # with the leading "/", as dockerd stores it
    created: str
    image_id: str  # "sha256:..." ("" for a container of no image)
    config: dict[str, Any]  # ContainerConfig, merged with the image's
    host_config: dict[str, Any]  # normalised HostConfig (defaults filled in)
    path: str = ""
    args: list[str] = field(default_factory=list)
    state: State = field(default_factory=State)
    restart_count: int = 0
    mounts: list[MountPoint] = field(default_factory=list)
    # Filled at start: the sandbox the network manager made, the files it wrote.
    network: dict[str, Any] = field(default_factory=dict)
    # The networks to join at start beside NetworkMode's (EndpointsConfig: network name ->
    # Aliases, IPAMConfig, MacAddress), from create's NetworkingConfig and `network connect`.
    endpoints_config: dict[str, Any] = field(default_factory=dict)
    hostname_path: str = ""
    hosts_path: str = ""
    resolv_conf_path: str = ""
    log_path: str = ""
    runtime_argv: list[str] = field(default_factory=list)
    exec_ids: list[str] = field(default_factory=list)
    # SELinux (engine/labels.py): set at create on a host with SELinux; "" when unlabeled
    process_label: str = ""
    mount_label: str = ""

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def bare_name(self) -> str:
        return self.name.lstrip("/")

    @property
    def tty(self) -> bool:
        return bool(self.config.get("Tty"))

    # --- serialisation (one JSON document per db row)
    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Container:
        data = json.loads(text)
        data["state"] = State(**data.get("state", {}))
        data["mounts"] = [MountPoint(**m) for m in data.get("mounts", [])]
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
