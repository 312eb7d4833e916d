"""A container record as the Engine API shows it: inspect (ContainerInspectResponse), the list's
ContainerSummary, and the human status line of `docker ps` ("Up 3 seconds", "Exited (0) 2
minutes ago"), every field present with dockerd's value for "unset".
"""

from __future__ import annotations

import copy
import time
from typing import Any

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


def network_name(c: Container) -> str | None:
    mode = c.host_config.get("NetworkMode") or "default"
    if mode in ("default", "bridge"):
        return "bridge"
    if mode in ("none", "host"):
        return mode
    return None  # container:<id> shares another container's endpoint


def endpoint(c: Container, network_ids: dict[str, str]) -> dict[str, Any]:
    net = c.network if c.state.running else {}
    name = network_name(c) or ""
    return {
        "IPAMConfig": None,
        "Links": None,
        "Aliases": None,
        "MacAddress": net.get("mac", ""),
        "DriverOpts": None,
        "NetworkID": network_ids.get(name, "") if net or c.state.running else "",
        "EndpointID": net.get("endpoint_id", ""),
        "Gateway": net.get("gateway", ""),
        "IPAddress": net.get("ip", ""),
        "IPPrefixLen": net.get("prefixlen", 0),
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": None,
    }


def networks(c: Container, network_ids: dict[str, str]) -> dict[str, Any]:
    name = network_name(c)
    return {name: endpoint(c, network_ids)} if name else {}


def ports(c: Container) -> dict[str, Any]:
    if not c.state.running:
        return {}
    return {port: None for port in sorted(c.config.get("ExposedPorts") or {})}


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
    net = c.network if c.state.running else {}
    name = network_name(c)
    top_level = endpoint(c, network_ids) if name == "bridge" else endpoint(_stopped(c), network_ids)
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
    out["NetworkSettings"] = {
        "Bridge": "",
        "SandboxID": net.get("sandbox_id", ""),
        "SandboxKey": net.get("netns_path", "") or "",
        "Ports": ports(c),
        "HairpinMode": False,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": top_level["EndpointID"],
        "Gateway": top_level["Gateway"],
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": top_level["IPAddress"],
        "IPPrefixLen": top_level["IPPrefixLen"],
        "IPv6Gateway": "",
        "MacAddress": top_level["MacAddress"],
        "Networks": networks(c, network_ids),
    }
    return out


def _stopped(c: Container) -> Container:
    clone = copy.copy(c)
    clone.network = {}
    return clone


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
        "Ports": [],
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
