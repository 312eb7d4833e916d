"""``run``/``create`` flags to the body of ``POST /containers/create``, as the docker CLI builds it.

Only what was asked for is sent; the daemon fills in its defaults (and the image's). The
attach settings follow ``docker run``: a foreground run attaches stdout and stderr (or what
``-a`` names), ``-i`` attaches stdin too, and an attached ``-i`` closes the container's stdin
when ours ends (``StdinOnce``).
"""

from __future__ import annotations

from dockyard.cli import envfile, mounts, ports
from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from dockyard.cli.flags import Options

STREAMS = ("stdin", "stdout", "stderr")


class RunRequest:
    """What ``POST /containers/create`` needs: the body, and the name and platform parameters."""

    __slots__ = ("body", "name", "platform")

    def __init__(self, body: dict[str, Any], name: str, platform: str) -> None:
        self.body = body
        self.name = name
        self.platform = platform


def _healthcheck(opts: Options) -> dict[str, Any] | None:
    given = [
        opts.changed(n)
        for n in (
            "health-cmd",
            "health-interval",
            "health-timeout",
            "health-retries",
            "health-start-period",
            "health-start-interval",
        )
    ]
    if opts.no_healthcheck:
        if any(given):
            raise InvalidArgument("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not any(given):
        return None
    check: dict[str, Any] = {}
    if opts.health_cmd:
        check["Test"] = ["CMD-SHELL", opts.health_cmd]
    for flag, key in (
        ("health_interval", "Interval"),
        ("health_timeout", "Timeout"),
        ("health_start_period", "StartPeriod"),
        ("health_start_interval", "StartInterval"),
    ):
        value = getattr(opts, flag)
        if value is not None:
            if value < 0:
                raise InvalidArgument(f"--{flag.replace('_', '-')} cannot be negative")
            check[key] = value
    if opts.changed("health-retries"):
        if opts.health_retries < 0:
            raise InvalidArgument("--health-retries cannot be negative")
        check["Retries"] = opts.health_retries
    return check


def _security_opts(values: list[str]) -> list[str]:
    """``seccomp=PATH`` sends the profile's content, as the docker CLI does; the rest as given."""
    out = []
    for value in values:
        key, sep, arg = value.partition("=")
        if not sep:
            key, sep, arg = value.partition(":")
        if key == "seccomp" and arg and arg != "unconfined":
            try:
                with open(arg, encoding="utf-8") as f:
                    profile = f.read()
            except OSError as exc:
                raise InvalidArgument(f"opening seccomp profile ({arg}) failed: {exc.strerror}") from None
            import json

            try:
                compact = json.dumps(json.loads(profile), separators=(",", ":"))
            except ValueError as exc:
                raise InvalidArgument(f"compacting json for seccomp profile ({arg}) failed: {exc}") from None
            out.append(f"seccomp={compact}")
        else:
            out.append(value)
    return out


def build(
    opts: Options,
    image: str,
    command: list[str],
    environ: Mapping[str, str],
    *,
    detach: bool,
    console_size: tuple[int, int] | None = None,
) -> RunRequest:
    attach = [s.lower() for s in opts.attach]
    for stream in attach:
        if stream not in STREAMS:
            raise InvalidArgument(f"invalid argument {stream!r} for -a: use stdin, stdout or stderr")
    if detach and attach:
        raise InvalidArgument("Conflicting options: -a and -d")
    if not detach and not attach:
        attach = ["stdout", "stderr"] + (["stdin"] if opts.interactive else [])
    attach_stdin = "stdin" in attach
    config: dict[str, Any] = {
        "Image": image,
        "AttachStdin": attach_stdin,
        "AttachStdout": "stdout" in attach,
        "AttachStderr": "stderr" in attach,
        "Tty": opts.tty,
        "OpenStdin": opts.interactive,
        "StdinOnce": opts.interactive and attach_stdin,
    }
    if command:
        config["Cmd"] = command
    if opts.changed("entrypoint"):
        config["Entrypoint"] = [opts.entrypoint] if opts.entrypoint else [""]
    env = [line for path in opts.env_file for line in envfile.read_env_file(path, environ)]
    env += [envfile.env_value(spec, environ) for spec in opts.env]
    if env:
        config["Env"] = env
    label_specs = [line for path in opts.label_file for line in envfile.read_label_file(path)] + opts.label
    if label_specs:
        config["Labels"] = envfile.labels_map(label_specs)
    for flag, key in (
        ("workdir", "WorkingDir"),
        ("user", "User"),
        ("hostname", "Hostname"),
        ("domainname", "Domainname"),
        ("stop_signal", "StopSignal"),
        ("mac_address", "MacAddress"),
    ):
        value = getattr(opts, flag)
        if value:
            config[key] = value
    if opts.changed("stop-timeout"):
        config["StopTimeout"] = opts.stop_timeout
    health = _healthcheck(opts)
    if health is not None:
        config["Healthcheck"] = health

    host: dict[str, Any] = {"NetworkMode": opts.network or "default"}
    binds: list[str] = []
    volumes: dict[str, Any] = {}
    for spec in opts.volume:
        bind, anonymous = mounts.parse_volume(spec)
        if bind is not None:
            binds.append(bind)
        if anonymous is not None:
            volumes[anonymous] = {}
    if binds:
        host["Binds"] = binds
    if volumes:
        config["Volumes"] = volumes
    if opts.mount:
        host["Mounts"] = [mounts.parse_mount(spec) for spec in opts.mount]
    if opts.tmpfs:
        host["Tmpfs"] = dict(mounts.parse_tmpfs(spec) for spec in opts.tmpfs)
    if opts.device:
        host["Devices"] = [mounts.parse_device(spec) for spec in opts.device]
    exposed, bindings = ports.publish_config(opts.publish, opts.expose)
    if exposed:
        config["ExposedPorts"] = exposed
    if bindings:
        host["PortBindings"] = bindings
    if opts.publish_all:
        host["PublishAllPorts"] = True
    if opts.rm:
        host["AutoRemove"] = True
    if opts.restart is not None:
        if opts.rm and opts.restart["Name"] not in ("", "no"):
            raise InvalidArgument("Conflicting options: --restart and --rm")
        host["RestartPolicy"] = opts.restart
    for flag, key in (
        ("memory", "Memory"),
        ("memory_swap", "MemorySwap"),
        ("memory_reservation", "MemoryReservation"),
        ("kernel_memory", "KernelMemory"),
        ("cpus", "NanoCpus"),
        ("shm_size", "ShmSize"),
    ):
        value = getattr(opts, flag)
        if value is not None:
            host[key] = value
    for flag, key in (
        ("cpu_shares", "CpuShares"),
        ("cpu_period", "CpuPeriod"),
        ("cpu_quota", "CpuQuota"),
        ("blkio_weight", "BlkioWeight"),
        ("oom_score_adj", "OomScoreAdj"),
    ):
        if opts.changed(flag):
            host[key] = getattr(opts, flag)
    if opts.changed("pids-limit"):
        host["PidsLimit"] = opts.pids_limit
    if opts.changed("memory-swappiness") and opts.memory_swappiness != -1:
        host["MemorySwappiness"] = opts.memory_swappiness
    for flag, key in (
        ("cpuset_cpus", "CpusetCpus"),
        ("cpuset_mems", "CpusetMems"),
        ("cgroup_parent", "CgroupParent"),
        ("cgroupns", "CgroupnsMode"),
        ("userns", "UsernsMode"),
        ("ipc", "IpcMode"),
        ("pid", "PidMode"),
        ("uts", "UTSMode"),
        ("runtime", "Runtime"),
        ("volume_driver", "VolumeDriver"),
        ("isolation", "Isolation"),
    ):
        value = getattr(opts, flag)
        if value:
            host[key] = value
    for flag, key in (
        ("privileged", "Privileged"),
        ("read_only", "ReadonlyRootfs"),
        ("oom_kill_disable", "OomKillDisable"),
    ):
        if getattr(opts, flag):
            host[key] = True
    if opts.changed("init"):
        host["Init"] = opts.init
    for flag, key in (
        ("cap_add", "CapAdd"),
        ("cap_drop", "CapDrop"),
        ("group_add", "GroupAdd"),
        ("volumes_from", "VolumesFrom"),
        ("dns", "Dns"),
        ("dns_search", "DnsSearch"),
        ("dns_option", "DnsOptions"),
        ("add_host", "ExtraHosts"),
        ("link", "Links"),
        ("device_cgroup_rule", "DeviceCgroupRules"),
    ):
        value = getattr(opts, flag)
        if value:
            host[key] = list(value)
    if opts.security_opt:
        host["SecurityOpt"] = _security_opts(opts.security_opt)
    if opts.ulimit:
        host["Ulimits"] = list(opts.ulimit)
    if opts.sysctl:
        host["Sysctls"] = dict(opts.sysctl)
    for flag, key in (
        ("blkio_weight_device", "BlkioWeightDevice"),
        ("device_read_bps", "BlkioDeviceReadBps"),
        ("device_write_bps", "BlkioDeviceWriteBps"),
        ("device_read_iops", "BlkioDeviceReadIOps"),
        ("device_write_iops", "BlkioDeviceWriteIOps"),
    ):
        if getattr(opts, flag):
            host[key] = list(getattr(opts, flag))
    if opts.storage_opt:
        host["StorageOpt"] = dict(s.partition("=")[::2] for s in opts.storage_opt)
    if opts.annotation:
        host["Annotations"] = dict(s.partition("=")[::2] for s in opts.annotation)
    if opts.log_driver or opts.log_opt:
        host["LogConfig"] = {"Type": opts.log_driver, "Config": dict(opts.log_opt)}
    if opts.gpus:
        raise InvalidArgument("--gpus is not supported by dockyard: GPU devices can be passed with --device")
    if console_size is not None and opts.tty:
        host["ConsoleSize"] = list(console_size)
    config["HostConfig"] = host

    endpoint: dict[str, Any] = {}
    if opts.ip or opts.ip6:
        endpoint["IPAMConfig"] = {k: v for k, v in (("IPv4Address", opts.ip), ("IPv6Address", opts.ip6)) if v}
    if opts.network_alias:
        endpoint["Aliases"] = list(opts.network_alias)
    if endpoint:
        network = opts.network or "default"
        if network in ("default", "none", "host") or network.startswith("container:"):
            raise InvalidArgument(
                f"--ip, --ip6 and --network-alias need a user-defined network, not {network}: "
                "add --network NAME"
            )
        config["NetworkingConfig"] = {"EndpointsConfig": {network: endpoint}}
    return RunRequest(config, opts.name, opts.platform)
