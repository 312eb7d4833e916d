"""Canonical (long-syntax) dicts to model.py's types, with the project-level defaults Compose adds:

- a service with neither ``networks`` nor ``network_mode`` joins the ``default`` network, and
  ``Project.networks["default"]`` always exists (engine name ``<project>_default``) unless the
  files declare it;
- networks and volumes are named ``<project>_<key>`` unless they have a ``name:`` or are
  external (then ``name:``, else the key); configs and secrets likewise;
- env_file entries are read and merged under ``environment``; a bare ``VAR`` takes its value
  from the project environment (.env and the process), or stays unset (None);
- ``network_mode: service:<name>`` adds a dependency on that service, as Compose orders it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dockyard.compose.dotenv import read_env_file, read_raw_env_file
from dockyard.compose.model import (
    Build,
    Dependency,
    Deploy,
    FileObject,
    FileUse,
    Healthcheck,
    Logging,
    Mount,
    Network,
    Port,
    Resources,
    Service,
    ServiceNetwork,
    Ulimit,
    Volume,
)
from dockyard.compose.problems import invalid

_STR_FIELDS = (
    "image", "container_name", "hostname", "domainname", "user", "working_dir", "network_mode", "restart",
    "stop_signal", "pull_policy", "platform",
)  # fmt: skip
_BOOL_FIELDS = ("read_only", "privileged", "tty", "stdin_open")
_LIST_FIELDS = ("expose", "tmpfs", "cap_add", "cap_drop", "security_opt", "dns", "extra_hosts", "profiles")
_NUMBER_FIELDS = ("stop_grace_period", "mem_limit", "cpus", "pids_limit", "shm_size", "scale")


def _environment(
    svc: dict[str, Any], display: str, name: str, env: Mapping[str, str]
) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for entry in svc.get("env_file", []):
        path = entry["path"]
        if not os.path.isfile(path):
            if entry.get("required", True):
                raise invalid(
                    display,
                    f"services.{name}.env_file",
                    f'{path} not found: create it, or mark it "required: false"',
                )
            continue
        fmt = entry.get("format")
        if fmt in (None, "", "dotenv"):
            out.update(read_env_file(path, path, env))
        elif fmt == "raw":
            out.update(read_raw_env_file(path, path, env))
        else:
            raise invalid(
                display, f"services.{name}.env_file", f'unsupported format "{fmt}": use "raw" or leave it out'
            )
    for key, value in svc.get("environment", {}).items():
        out[key] = value if value is not None else env.get(key)
    return out


def _mount(m: dict[str, Any]) -> Mount:
    bind = m.get("bind") or {}
    return Mount(
        type=m["type"],
        target=m["target"],
        source=m.get("source"),
        read_only=bool(m.get("read_only", False)),
        bind_create_host_path=bool(bind.get("create_host_path", False)),
        bind_propagation=bind.get("propagation"),
        bind_selinux=bind.get("selinux"),
        volume_nocopy=bool((m.get("volume") or {}).get("nocopy", False)),
        tmpfs_size=(m.get("tmpfs") or {}).get("size"),
        tmpfs_mode=(m.get("tmpfs") or {}).get("mode"),
    )


def _resources(r: dict[str, Any] | None) -> Resources:
    r = r or {}
    return Resources(memory=r.get("memory"), cpus=r.get("cpus"), pids=r.get("pids"))


def service(name: str, svc: dict[str, Any], display: str, env: Mapping[str, str]) -> Service:
    """The model of one merged, extended, canonical service; ``display`` names its file in errors."""
    s = Service(name=name)
    for key in _STR_FIELDS:
        if svc.get(key) is not None:
            setattr(s, key, str(svc[key]))
    for key in _BOOL_FIELDS:
        if key in svc:
            setattr(s, key, bool(svc[key]))
    for key in _LIST_FIELDS:
        if key in svc:
            setattr(s, key, list(svc[key]))
    for key in _NUMBER_FIELDS:
        if key in svc:
            setattr(s, key, svc[key])
    if "init" in svc:
        s.init = bool(svc["init"])
    if "build" in svc:
        b = svc["build"]
        s.build = Build(
            context=b["context"],
            dockerfile=b.get("dockerfile", "Dockerfile"),
            # a bare ARG takes its value from the environment, as Compose; left out when unset there
            args={
                k: v
                for k, v in ((k, v if v is not None else env.get(k)) for k, v in b.get("args", {}).items())
                if v is not None
            },
            target=b.get("target"),
            labels=dict(b.get("labels", {})),
            cache_from=list(b.get("cache_from", [])),
            network=b.get("network"),
            extra_hosts=list(b.get("extra_hosts", [])),
        )
    s.command = svc.get("command")
    s.entrypoint = svc.get("entrypoint")
    s.environment = _environment(svc, display, name, env)
    s.ports = [
        Port(
            target=p["target"],
            published=p.get("published"),
            host_ip=p.get("host_ip", ""),
            protocol=p.get("protocol", "tcp"),
            mode=p.get("mode", "ingress"),
        )
        for p in svc.get("ports", [])
    ]
    s.volumes = [_mount(m) for m in svc.get("volumes", [])]
    s.networks = {
        key: ServiceNetwork(
            aliases=list(n.get("aliases", [])),
            ipv4_address=n.get("ipv4_address"),
            ipv6_address=n.get("ipv6_address"),
            priority=int(n.get("priority", 0)),
        )
        for key, n in svc.get("networks", {}).items()
    }
    if not s.networks and s.network_mode is None:
        s.networks = {"default": ServiceNetwork()}
    s.depends_on = {
        key: Dependency(
            condition=d["condition"], restart=bool(d.get("restart", False)), required=d["required"]
        )
        for key, d in svc.get("depends_on", {}).items()
    }
    if s.network_mode and s.network_mode.startswith("service:"):
        s.depends_on.setdefault(s.network_mode.split(":", 1)[1], Dependency())
    if "healthcheck" in svc:
        h = svc["healthcheck"]
        s.healthcheck = Healthcheck(
            test=h.get("test"),
            interval=h.get("interval"),
            timeout=h.get("timeout"),
            retries=h.get("retries"),
            start_period=h.get("start_period"),
            start_interval=h.get("start_interval"),
            disable=bool(h.get("disable", False)) or h.get("test") == ["NONE"],
        )
    if "deploy" in svc:
        d = svc["deploy"]
        res = d.get("resources", {})
        s.deploy = Deploy(
            replicas=d.get("replicas"),
            limits=_resources(res.get("limits")),
            reservations=_resources(res.get("reservations")),
        )
    s.labels = dict(svc.get("labels", {}))
    s.sysctls = dict(svc.get("sysctls", {}))
    s.ulimits = {k: Ulimit(soft=u["soft"], hard=u["hard"]) for k, u in svc.get("ulimits", {}).items()}
    if "logging" in svc:
        s.logging = Logging(
            driver=svc["logging"].get("driver"), options=dict(svc["logging"].get("options", {}))
        )
    s.configs = [_file_use(u) for u in svc.get("configs", [])]
    s.secrets = [_file_use(u) for u in svc.get("secrets", [])]
    return s


def _file_use(u: dict[str, Any]) -> FileUse:
    return FileUse(
        source=u["source"], target=u["target"], uid=u.get("uid"), gid=u.get("gid"), mode=u.get("mode")
    )


def _engine_name(project: str, key: str, item: dict[str, Any]) -> str:
    if item.get("name"):
        return str(item["name"])
    return key if item.get("external") else f"{project}_{key}"


def network(project: str, key: str, item: dict[str, Any]) -> Network:
    ipam = item.get("ipam") or {}
    subnets = [
        {k: str(v) for k, v in cfg.items() if k in ("subnet", "gateway", "ip_range")}
        for cfg in ipam.get("config", [])
    ]
    return Network(
        name=_engine_name(project, key, item),
        external=bool(item.get("external", False)),
        driver=item.get("driver"),
        driver_opts=dict(item.get("driver_opts", {})),
        internal=bool(item.get("internal", False)),
        attachable=bool(item.get("attachable", False)),
        enable_ipv6=bool(item.get("enable_ipv6", False)),
        ipam_subnets=subnets,
        labels=dict(item.get("labels", {})),
    )


def volume(project: str, key: str, item: dict[str, Any]) -> Volume:
    return Volume(
        name=_engine_name(project, key, item),
        external=bool(item.get("external", False)),
        driver=item.get("driver"),
        driver_opts=dict(item.get("driver_opts", {})),
        labels=dict(item.get("labels", {})),
    )


def file_object(project: str, key: str, item: dict[str, Any]) -> FileObject:
    return FileObject(
        name=_engine_name(project, key, item),
        file=item.get("file"),
        content=item.get("content"),
        environment=item.get("environment"),
        external=bool(item.get("external", False)),
    )
