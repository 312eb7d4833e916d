"""A service replica as a ``POST /containers/create`` body (Config + HostConfig + NetworkingConfig).

Compose's own translation (``pkg/compose/create.go``), from the normalized model, so nothing
here parses a short syntax. Each replica joins its networks with the service name as an alias
(and the file's aliases), so the embedded DNS answers the service name with every replica's
address; the first network (by priority, then name) is the NetworkMode and the others are
joined in the same request (EndpointsConfig with several networks: API 1.44).
"""

from __future__ import annotations

from typing import Any

from dockyard.compose import injectfiles, naming
from dockyard.compose.model import Healthcheck, Mount, Project, Service, ServiceNetwork
from dockyard.errors import InvalidArgument, Unsupported

NANOS = 1_000_000_000


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * NANOS)


def healthcheck(hc: Healthcheck) -> dict[str, Any]:
    if hc.disable:
        return {"Test": ["NONE"]}
    out: dict[str, Any] = {}
    if hc.test is not None:
        out["Test"] = list(hc.test)
    for key, value in (
        ("Interval", hc.interval),
        ("Timeout", hc.timeout),
        ("StartPeriod", hc.start_period),
        ("StartInterval", hc.start_interval),
    ):
        if value is not None:
            out[key] = _ns(value)
    if hc.retries is not None:
        out["Retries"] = hc.retries
    return out


def _mount(project: Project, service: Service, m: Mount) -> dict[str, Any]:
    out: dict[str, Any] = {"Type": m.type, "Target": m.target, "ReadOnly": m.read_only}
    if m.type == "volume":
        if m.source:
            volume = project.volumes.get(m.source)
            if volume is None:
                raise InvalidArgument(
                    f'service "{service.name}" mounts volume "{m.source}", which is not declared: add it to '
                    "the top-level volumes"
                )
            out["Source"] = volume.name
        if m.volume_nocopy:
            out["VolumeOptions"] = {"NoCopy": True}
    elif m.type == "bind":
        out["Source"] = m.source
        bind_options: dict[str, Any] = {}
        if not m.bind_create_host_path and m.source:
            bind_options["CreateMountpoint"] = False
        if m.bind_propagation:
            bind_options["Propagation"] = m.bind_propagation
        if bind_options:
            out["BindOptions"] = bind_options
    else:
        options: dict[str, Any] = {}
        if m.tmpfs_size is not None:
            options["SizeBytes"] = m.tmpfs_size
        if m.tmpfs_mode is not None:
            options["Mode"] = m.tmpfs_mode
        if options:
            out["TmpfsOptions"] = options
    return out


def _file_mounts(project: Project, service: Service) -> list[dict[str, Any]]:
    """Configs and secrets from files: read-only binds at their targets, as Compose does
    without swarm. Inline and environment-sourced ones are written in before the start
    (:mod:`dockyard.compose.injectfiles`)."""
    out = []
    for kind, uses, table in (
        ("config", service.configs, project.configs),
        ("secret", service.secrets, project.secrets),
    ):
        for use in uses:
            obj = table.get(use.source)
            if obj is None or (obj.file is None and obj.content is None and obj.environment is None):
                raise Unsupported(
                    f'service "{service.name}" uses {kind} "{use.source}", which has no file, content '
                    f"or environment: external {kind}s need swarm; give it file:, content: or environment:"
                )
            if obj.file is not None:
                target = injectfiles.target_of(kind, use)
                out.append({"Type": "bind", "Source": obj.file, "Target": target, "ReadOnly": True})
    return out


def ports(service: Service) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, str]]]]:
    exposed: dict[str, dict[str, Any]] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in service.expose:
        port, _, proto = spec.partition("/")
        exposed[f"{port}/{proto or 'tcp'}"] = {}
    for p in service.ports:
        key = f"{p.target}/{p.protocol}"
        exposed[key] = {}
        bindings.setdefault(key, []).append({"HostIp": p.host_ip, "HostPort": p.published or ""})
    return exposed, bindings


def service_networks(project: Project, service: Service) -> dict[str, ServiceNetwork]:
    """The networks a service joins: its own, else the project's default one (Compose's
    normalization gives a service that lists none the "default" network; done here too, so a
    model built without it still lands on the project network)."""
    if service.networks or service.network_mode or "default" not in project.networks:
        return service.networks
    return {"default": ServiceNetwork()}


def network_order(networks: dict[str, ServiceNetwork]) -> list[str]:
    return sorted(networks, key=lambda key: (-networks[key].priority, key))


def _restart(policy: str | None) -> dict[str, Any] | None:
    if not policy or policy == "no":
        return None
    name, _, count = policy.partition(":")
    out: dict[str, Any] = {"Name": name}
    if count:
        out["MaximumRetryCount"] = int(count)
    return out


def create_body(
    project: Project,
    service: Service,
    *,
    image: str,
    labels: dict[str, str],
    network_mode: str | None = None,
    command: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
    oneoff: bool = False,
) -> dict[str, Any]:
    """``network_mode``: the resolved mode when the service's is ``service:<name>`` (a container id)."""
    env = {k: v for k, v in service.environment.items() if v is not None}
    env.update(extra_env or {})
    exposed, bindings = ports(service)
    config: dict[str, Any] = {
        "Image": image,
        "Labels": labels,
        "Env": [f"{k}={v}" for k, v in env.items()],
        "Tty": service.tty,
        "OpenStdin": service.stdin_open,
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
    }
    cmd = command if command is not None else service.command
    if cmd is not None:
        config["Cmd"] = list(cmd)
    if service.entrypoint is not None:
        config["Entrypoint"] = list(service.entrypoint)
    if exposed:
        config["ExposedPorts"] = exposed
    for key, value in (
        ("Hostname", service.hostname),
        ("Domainname", service.domainname),
        ("User", service.user),
        ("WorkingDir", service.working_dir),
        ("StopSignal", service.stop_signal),
    ):
        if value:
            config[key] = value
    if service.stop_grace_period is not None:
        config["StopTimeout"] = int(service.stop_grace_period)
    if service.healthcheck is not None:
        config["Healthcheck"] = healthcheck(service.healthcheck)

    host: dict[str, Any] = {
        "Mounts": [_mount(project, service, m) for m in service.volumes] + _file_mounts(project, service),
        "ReadonlyRootfs": service.read_only,
        "Privileged": service.privileged,
    }
    if not oneoff and bindings:
        host["PortBindings"] = bindings
    restart = _restart(service.restart)
    if restart is not None and not oneoff:
        host["RestartPolicy"] = restart
    if service.init is not None:
        host["Init"] = service.init
    for key, values in (
        ("CapAdd", service.cap_add),
        ("CapDrop", service.cap_drop),
        ("SecurityOpt", service.security_opt),
        ("Dns", service.dns),
        ("ExtraHosts", service.extra_hosts),
    ):
        if values:
            host[key] = list(values)
    if service.tmpfs:
        host["Tmpfs"] = {}
        for spec in service.tmpfs:
            path, _, opts = spec.partition(":")
            host["Tmpfs"][path] = opts
    if service.ulimits:
        host["Ulimits"] = [
            {"Name": k, "Soft": u.soft, "Hard": u.hard} for k, u in sorted(service.ulimits.items())
        ]
    if service.logging is not None and service.logging.driver:
        host["LogConfig"] = {"Type": service.logging.driver, "Config": dict(service.logging.options)}
    limits = service.deploy.limits if service.deploy is not None else None
    memory = (limits.memory if limits else None) or service.mem_limit
    cpus = (limits.cpus if limits else None) or service.cpus
    pids = (limits.pids if limits else None) or service.pids_limit
    if memory:
        host["Memory"] = memory
    if cpus:
        host["NanoCpus"] = round(cpus * NANOS)
    if pids:
        host["PidsLimit"] = pids
    if service.shm_size:
        host["ShmSize"] = service.shm_size
    if service.sysctls:
        host["Sysctls"] = dict(service.sysctls)

    body: dict[str, Any] = dict(config)
    body["HostConfig"] = host
    mode = network_mode or service.network_mode
    if mode:
        host["NetworkMode"] = mode
        return body
    joined = service_networks(project, service)
    keys = network_order(joined)
    if not keys:
        host["NetworkMode"] = "none"
        return body
    endpoints: dict[str, Any] = {}
    for key in keys:
        network = project.networks.get(key)
        if network is None:
            raise InvalidArgument(
                f'service "{service.name}" joins network "{key}", which is not declared: add it to the '
                "top-level networks"
            )
        net_spec = joined[key]
        aliases = [service.name, *[a for a in net_spec.aliases if a != service.name]]
        endpoint: dict[str, Any] = {"Aliases": aliases}
        ipam = {}
        if net_spec.ipv4_address:
            ipam["IPv4Address"] = net_spec.ipv4_address
        if net_spec.ipv6_address:
            ipam["IPv6Address"] = net_spec.ipv6_address
        if ipam:
            endpoint["IPAMConfig"] = ipam
        endpoints[network.name] = endpoint
    host["NetworkMode"] = project.networks[keys[0]].name
    body["NetworkingConfig"] = {"EndpointsConfig": endpoints}
    return body


def image_of(project: Project, service: Service) -> str:
    return naming.service_image(project, service)
