"""The normalized Compose model: what the loader makes of the files, what the commands act on.

The loader (loader.py) reads the files, interpolates, merges, applies ``extends`` and
``profiles``, validates, and turns every short syntax into the long one of the Compose
Specification, so the commands never see a string like ``"127.0.0.1:8080:80/udp"`` or an
environment list: only these types. Values are as the spec's canonical form (`docker compose
config`): durations in seconds (float), sizes in bytes (int), paths absolute (relative ones are
resolved against the project folder by the loader), names as the engine will see them.

:meth:`Project.to_dict` gives the canonical dict (for ``compose config`` and the config hash).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

#: The labels Compose puts on what it creates (docker/compose api/labels.go).
LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_NUMBER = "com.docker.compose.container-number"
LABEL_CONFIG_HASH = "com.docker.compose.config-hash"
LABEL_ONEOFF = "com.docker.compose.oneoff"
LABEL_NETWORK = "com.docker.compose.network"
LABEL_VOLUME = "com.docker.compose.volume"
LABEL_WORKING_DIR = "com.docker.compose.project.working_dir"
LABEL_CONFIG_FILES = "com.docker.compose.project.config_files"
LABEL_VERSION = "com.docker.compose.version"

DependencyCondition = Literal["service_started", "service_healthy", "service_completed_successfully"]


@dataclass
class Build:
    context: str  # absolute folder (or a URL, left as given)
    dockerfile: str = "Dockerfile"  # relative to context, as `docker build -f`
    args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    cache_from: list[str] = field(default_factory=list)
    network: str | None = None
    extra_hosts: list[str] = field(default_factory=list)


@dataclass
class Port:
    target: int  # the container's port
    published: str | None = None  # "8080", "8080-8081", or None: a free port chosen by the engine
    host_ip: str = ""  # "" = every address
    protocol: Literal["tcp", "udp"] = "tcp"
    mode: str = "ingress"


@dataclass
class Mount:
    type: Literal["volume", "bind", "tmpfs"]
    target: str
    source: str | None = None  # volume key (of Project.volumes) or absolute host path; None: anonymous
    read_only: bool = False
    bind_create_host_path: bool = True  # short syntax binds create a missing host folder, as Compose
    bind_propagation: str | None = None  # "rprivate", "rslave", ... (":rslave" in the short syntax)
    bind_selinux: str | None = None  # "z" or "Z": relabel the host folder
    volume_nocopy: bool = False
    tmpfs_size: int | None = None  # bytes
    tmpfs_mode: int | None = None


@dataclass
class ServiceNetwork:
    aliases: list[str] = field(default_factory=list)
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    priority: int = 0


@dataclass
class Dependency:
    condition: DependencyCondition = "service_started"
    restart: bool = False
    required: bool = True


@dataclass
class Healthcheck:
    test: list[str] | None = None  # ["CMD", ...] / ["CMD-SHELL", "..."] / ["NONE"]; None: the image's
    interval: float | None = None  # seconds
    timeout: float | None = None
    retries: int | None = None
    start_period: float | None = None
    start_interval: float | None = None
    disable: bool = False


@dataclass
class Ulimit:
    soft: int
    hard: int


@dataclass
class Logging:
    driver: str | None = None
    options: dict[str, str] = field(default_factory=dict)


@dataclass
class FileUse:
    """A service's use of a top-level config or secret."""

    source: str  # the key in Project.configs / Project.secrets
    target: str  # absolute path in the container (secrets default to /run/secrets/<source>)
    uid: str | None = None
    gid: str | None = None
    mode: int | None = None


@dataclass
class Resources:
    memory: int | None = None  # bytes
    cpus: float | None = None
    pids: int | None = None


@dataclass
class Deploy:
    replicas: int | None = None
    limits: Resources = field(default_factory=Resources)
    reservations: Resources = field(default_factory=Resources)


@dataclass
class Service:
    name: str
    image: str | None = None
    build: Build | None = None
    command: list[str] | None = None  # None: the image's; a string in the file is split as a shell would
    entrypoint: list[str] | None = None
    # env_file entries merged in; a None value: unset (a bare "VAR" with no value anywhere)
    environment: dict[str, str | None] = field(default_factory=dict)
    ports: list[Port] = field(default_factory=list)
    expose: list[str] = field(default_factory=list)  # "80", "8000-8010/udp"
    volumes: list[Mount] = field(default_factory=list)
    tmpfs: list[str] = field(default_factory=list)
    networks: dict[str, ServiceNetwork] = field(default_factory=dict)  # key of Project.networks
    network_mode: str | None = None  # "host", "none", "service:<name>", "container:<id>"
    depends_on: dict[str, Dependency] = field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    restart: str | None = None  # "no", "always", "on-failure[:N]", "unless-stopped"
    deploy: Deploy | None = None
    scale: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    container_name: str | None = None
    hostname: str | None = None
    domainname: str | None = None
    user: str | None = None
    working_dir: str | None = None
    read_only: bool = False
    privileged: bool = False
    init: bool | None = None
    tty: bool = False
    stdin_open: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    stop_signal: str | None = None
    stop_grace_period: float | None = None  # seconds
    ulimits: dict[str, Ulimit] = field(default_factory=dict)
    logging: Logging | None = None
    configs: list[FileUse] = field(default_factory=list)
    secrets: list[FileUse] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)  # "name:ip" (ip may be host-gateway)
    mem_limit: int | None = None  # bytes (the non-deploy form)
    cpus: float | None = None
    pids_limit: int | None = None
    shm_size: int | None = None
    sysctls: dict[str, str] = field(default_factory=dict)
    pull_policy: str | None = None  # "always", "never", "missing", "build"
    platform: str | None = None
    profiles: list[str] = field(default_factory=list)

    def replicas(self) -> int:
        """How many containers ``up`` runs: deploy.replicas, else scale, else 1."""
        if self.deploy is not None and self.deploy.replicas is not None:
            return self.deploy.replicas
        return self.scale if self.scale is not None else 1


@dataclass
class Network:
    name: str  # the engine's name: "<project>_<key>" unless the file names it
    external: bool = False
    driver: str | None = None
    driver_opts: dict[str, str] = field(default_factory=dict)
    internal: bool = False
    attachable: bool = False
    enable_ipv6: bool = False
    ipam_subnets: list[dict[str, str]] = field(default_factory=list)  # {"subnet", "gateway", "ip_range"}
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Volume:
    name: str  # the engine's name: "<project>_<key>" unless the file names it
    external: bool = False
    driver: str | None = None
    driver_opts: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class FileObject:
    """A top-level config or secret."""

    name: str
    file: str | None = None  # absolute path on the host
    content: str | None = None  # configs: inline content
    environment: str | None = None  # the variable that holds the value
    external: bool = False


@dataclass
class Project:
    name: str  # normalized: lower case, [a-z0-9_-], starting with a letter or digit
    working_dir: str  # absolute: relative paths in the files are resolved against it
    config_files: list[str] = field(default_factory=list)  # absolute, in merge order
    services: dict[str, Service] = field(default_factory=dict)  # only the enabled profiles' services
    disabled: dict[str, Service] = field(default_factory=dict)  # services of profiles not enabled
    networks: dict[str, Network] = field(default_factory=dict)  # "default" is always there
    volumes: dict[str, Volume] = field(default_factory=dict)
    configs: dict[str, FileObject] = field(default_factory=dict)
    secrets: dict[str, FileObject] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)  # what interpolation used (.env + process)
    warnings: list[str] = field(default_factory=list)  # for the user: unset variables, ignored keys

    def to_dict(self) -> dict[str, Any]:
        """The canonical form (`compose config`): dataclass fields, None and empty values left out."""
        canonical: dict[str, Any] = _prune(
            {
                "name": self.name,
                "services": {k: asdict(v) for k, v in sorted(self.services.items())},
                "networks": {k: asdict(v) for k, v in sorted(self.networks.items())},
                "volumes": {k: asdict(v) for k, v in sorted(self.volumes.items())},
                "configs": {k: asdict(v) for k, v in sorted(self.configs.items())},
                "secrets": {k: asdict(v) for k, v in sorted(self.secrets.items())},
            }
        )
        return canonical


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value
