"""The model back to a Compose file: what ``dockyard compose config`` prints.

:func:`to_compose` writes the canonical long syntax of the Compose Specification (as ``docker
compose config`` does: ports and volumes as mappings, durations as "1m30s", sizes in bytes,
paths absolute, engine names spelled out), so the output is itself a valid Compose file that
loads back to the same project. :meth:`Project.to_dict` is the model's own shape (for hashing);
this is the user's.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from dockyard.compose.model import FileObject, Mount, Network, Project, Resources, Service, Volume
from dockyard.compose.units import format_duration
from dockyard.compose.yamlfile import dump_yaml


def _prune(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != {} and v != [] and v is not False}


def _mount(m: Mount) -> dict[str, Any]:
    out: dict[str, Any] = {"type": m.type, "source": m.source, "target": m.target, "read_only": m.read_only}
    if m.type == "bind":
        out["bind"] = _prune(
            {
                "create_host_path": m.bind_create_host_path,
                "propagation": m.bind_propagation,
                "selinux": m.bind_selinux,
            }
        )
    if m.volume_nocopy:
        out["volume"] = {"nocopy": True}
    if m.type == "tmpfs":
        out["tmpfs"] = _prune({"size": m.tmpfs_size, "mode": m.tmpfs_mode})
    return _prune(out)


def _resources(r: Resources) -> dict[str, Any]:
    return _prune(asdict(r))


def service(s: Service) -> dict[str, Any]:
    d = asdict(s)
    del d["name"]
    d["ports"] = [_prune({**p, "host_ip": p["host_ip"] or None}) for p in d["ports"]]
    d["volumes"] = [_mount(m) for m in s.volumes]
    d["networks"] = {
        k: _prune({**asdict(n), "priority": n.priority or None}) or None for k, n in s.networks.items()
    }
    if s.healthcheck is not None:
        h = _prune(asdict(s.healthcheck))
        for key in ("interval", "timeout", "start_period", "start_interval"):
            if key in h:
                h[key] = format_duration(h[key])
        d["healthcheck"] = h
    if s.deploy is not None:
        resources = _prune(
            {"limits": _resources(s.deploy.limits), "reservations": _resources(s.deploy.reservations)}
        )
        d["deploy"] = _prune({"replicas": s.deploy.replicas, "resources": resources})
    if s.stop_grace_period is not None:
        d["stop_grace_period"] = format_duration(s.stop_grace_period)
    if s.build is not None:
        d["build"] = _prune(asdict(s.build))
    if s.logging is not None:
        d["logging"] = _prune(asdict(s.logging))
    d["configs"] = [_prune(asdict(u)) for u in s.configs]
    d["secrets"] = [_prune(asdict(u)) for u in s.secrets]
    d["depends_on"] = {k: asdict(v) for k, v in s.depends_on.items()}
    # null means "unset" in environment, and [] is an empty command: both are kept
    keep = {k: d.pop(k) for k in ("environment", "command", "entrypoint") if d[k] is not None}
    out = _prune(d)
    if s.init is False:
        out["init"] = False
    out.update({k: v for k, v in keep.items() if v or k != "environment"})
    return dict(sorted(out.items()))


def _named(obj: Network | Volume | FileObject) -> dict[str, Any]:
    return _prune(asdict(obj))


def _network(n: Network) -> dict[str, Any]:
    d = asdict(n)
    subnets = d.pop("ipam_subnets")
    if subnets:
        d["ipam"] = {"config": subnets}
    return _prune(d)


def to_compose(project: Project) -> dict[str, Any]:
    """The project as a canonical Compose file (enabled services only), keys sorted within sections."""
    out: dict[str, Any] = {"name": project.name}
    out["services"] = {k: service(v) for k, v in sorted(project.services.items())}
    out["networks"] = {k: _network(v) for k, v in sorted(project.networks.items())}
    for section in ("volumes", "configs", "secrets"):
        entries: dict[str, Any] = getattr(project, section)
        if entries:
            out[section] = {k: _named(v) for k, v in sorted(entries.items())}
    return out


def to_yaml(project: Project) -> str:
    """``dockyard compose config``: the interpolated, merged, normalized project as YAML."""
    return dump_yaml(to_compose(project))
