"""A new container record from a create request (POST /containers/create), before any mount.

Checks and merges as dockerd's create does: the request's Config and HostConfig are checked
(400s name the field), the Config is merged with the image's, the network mode is one we know,
capabilities exist, and a command is left to run ("No command specified"). The hostname
defaults to the short id (the host's name on the host network; empty when sharing another
container's network, whose files are used).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from dockyard.engine import capabilities, hostconfig, labels, merge, names, storage_opt, userns
from dockyard.engine.container import Container, now_rfc3339
from dockyard.errors import InvalidArgument


@dataclass
class CreateSettings:
    features: hostconfig.HostFeatures
    runtimes: tuple[str, ...]
    default_runtime: str
    data_root: str = ""  # where container layers live: what --storage-opt size would need
    idmap: userns.IdMap | None = None  # the daemon's --userns-remap map
    selinux: bool = False  # the host has SELinux and the daemon labels containers (engine/labels.py)
    mcs_taken: frozenset[str] = frozenset()  # MCS levels other containers hold
    share_label_with: str = ""  # process label of the container whose ipc/pid namespace is joined


def new_container(
    body: dict[str, Any],
    name: str,
    image_id: str,
    image_config: dict[str, Any] | None,
    settings: CreateSettings,
    cid: str | None = None,
) -> tuple[Container, list[str]]:
    if not isinstance(body, dict):
        raise InvalidArgument("invalid create request: the body must be a JSON object")
    config = merge.normalise_request(body)
    raw_host = body.get("HostConfig")
    if raw_host is not None and not isinstance(raw_host, dict):
        raise InvalidArgument("invalid HostConfig: use a JSON object")
    host, warnings = hostconfig.normalise(
        raw_host, settings.features, settings.runtimes, settings.default_runtime
    )
    mode = hostconfig.check_network_mode(host["NetworkMode"])
    security = hostconfig.parse_security_opts(host.get("SecurityOpt") or [])
    labels.check_host(security.labels, security.apparmor, selinux=settings.selinux)
    userns.check_host_config(host, settings.idmap)
    if host.get("StorageOpt"):
        storage_opt.check(host["StorageOpt"], settings.data_root or "/")
    capabilities.normalise(host.get("CapAdd"))
    capabilities.normalise(host.get("CapDrop"))
    merge.merge(config, image_config)
    path, args = merge.command(config)
    cid = cid or names.new_id()
    if not config.get("Hostname"):
        if mode == "host":
            config["Hostname"] = socket.gethostname()
        elif mode == "container":
            config["Hostname"] = ""
        else:
            config["Hostname"] = cid[:12]
    elif mode == "container":
        raise InvalidArgument("conflicting options: hostname and the network mode container:<id>")
    if len(config["Hostname"]) > 255:
        raise InvalidArgument(f"invalid hostname {config['Hostname'][:20]}...: use at most 255 characters")
    container = Container(
        id=cid,
        name=name,
        created=now_rfc3339(),
        image_id=image_id,
        config=config,
        host_config=host,
        path=path,
        args=args,
    )
    if settings.selinux:
        got = labels.for_container(
            security.labels, host, set(settings.mcs_taken), share_with=settings.share_label_with
        )
        container.process_label, container.mount_label = got.process, got.mount
    return container, warnings
