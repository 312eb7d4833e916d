"""A container record as the Engine API shows it: inspect (ContainerInspectResponse), the list's
ContainerSummary, and the human status line of `docker ps` ("Up 3 seconds", "Exited (0) 2
minutes ago"), every field present with dockerd's value for "unset".
"""

from __future__ import annotations

import copy
import time
from typing import Any

from dockyard.engine import networking
from dockyard.engine.container import ZERO_TIME, Container, parse_rfc3339


def human_duration(seconds: float) -> str:
    """go-units' HumanDuration, which `docker ps` shows in its STATUS column."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def status_line(c: Container, now: float | None = None) -> str:
    now = time.time() if now is None else now
    st = c.state
    if st.status in ("running", "paused"):
        line = "Up " + human_duration(now - parse_rfc3339(st.started_at))
        if st.status == "paused":
            return line + " (Paused)"
        health = (st.health or {}).get("Status")
        if health == "starting":
            line += " (health: starting)"
        elif health in ("healthy", "unhealthy"):
            line += f" ({health})"
        return line
    if st.status == "restarting":
        return f"Restarting ({st.exit_code}) {human_duration(now - parse_rfc3339(st.finished_at))} ago"
    if st.status == "removing":
        return "Removal In Progress"
    if st.status == "dead":
        return "Dead"
    if st.status == "created":
        return "Created"
    if st.finished_at == ZERO_TIME:
        return ""
    return f"Exited ({st.exit_code}) {human_duration(now - parse_rfc3339(st.finished_at))} ago"


def networks(c: Container, network_ids: dict[str, str]) -> dict[str, Any]:
    return networking.networks(c, network_ids)


def state_json(c: Container) -> dict[str, Any]:
    st = c.state
    out: dict[str, Any] = {
        "Status": st.status,
        "Running": st.status in ("running", "paused"),
        "Paused": st.status == "paused",
        "Restarting": st.status == "restarting",
        "OOMKilled": st.oom_killed,
        "Dead": st.status == "dead",
        "Pid": st.pid if st.status in ("running", "paused") else 0,
        "ExitCode": st.exit_code,
        "Error": st.error,
        "StartedAt": st.started_at,
        "FinishedAt": st.finished_at,
    }
    if st.health is not None:
        out["Health"] = copy.deepcopy(st.health)
    return out


def config_json(c: Container) -> dict[str, Any]:
    config = copy.deepcopy(c.config)
    for key in ("ArgsEscaped",):
        if not config.get(key):
            config.pop(key, None)
    return config


def inspect(
    c: Container,
    *,
    network_ids: dict[str, str],
    graph_driver: dict[str, Any],
    size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Id": c.id,
        "Created": c.created,
        "Path": c.path,
        "Args": list(c.args),
        "State": state_json(c),
        "Image": c.image_id,
        "ResolvConfPath": c.resolv_conf_path,
        "HostnamePath": c.hostname_path,
        "HostsPath": c.hosts_path,
        "LogPath": c.log_path,
        "Name": c.name,
        "RestartCount": c.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": c.mount_label,
        "ProcessLabel": c.process_label,
        "AppArmorProfile": "",
        "ExecIDs": list(c.exec_ids) or None,
        "HostConfig": copy.deepcopy(c.host_config),
        "GraphDriver": graph_driver,
    }
    if size is not None:
        out["SizeRw"], out["SizeRootFs"] = size
    out["Mounts"] = [mp.to_api() for mp in c.mounts]
    out["Config"] = config_json(c)
    out["NetworkSettings"] = networking.network_settings(c, network_ids)
    return out


def summary(
    c: Container,
    *,
    network_ids: dict[str, str],
    size: tuple[int, int] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    command = " ".join([c.path, *c.args]) if c.path else ""
    out: dict[str, Any] = {
        "Id": c.id,
        "Names": [c.name],
        "Image": c.config.get("Image") or c.image_id,
        "ImageID": c.image_id,
        "Command": command,
        "Created": int(parse_rfc3339(c.created)),
        "Ports": networking.summary_ports(c),
        "Labels": dict(c.config.get("Labels") or {}),
        "State": c.state.status,
        "Status": status_line(c, now),
        "HostConfig": {"NetworkMode": c.host_config.get("NetworkMode") or "default"},
        "NetworkSettings": {"Networks": networks(c, network_ids)},
        "Mounts": [mp.to_api() for mp in c.mounts],
    }
    if size is not None:
        out["SizeRw"], out["SizeRootFs"] = size
    return out
