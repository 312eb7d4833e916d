"""The flags ``run`` and ``create`` share, with docker's names, shorthands and value checks."""

from __future__ import annotations

from dockyard.cli import units

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.flags import FlagSet


def add_container_flags(f: FlagSet) -> None:
    # identity and process
    f.string("name", help="Assign a name to the container")
    f.bool("interactive", "i", "Keep STDIN open even if not attached")
    f.bool("tty", "t", "Allocate a pseudo-TTY")
    f.strings("attach", "a", "Attach to STDIN, STDOUT or STDERR")
    f.strings("env", "e", "Set environment variables")
    f.strings("env-file", help="Read in a file of environment variables")
    f.string("workdir", "w", "Working directory inside the container")
    f.string("user", "u", "Username or UID (format: <name|uid>[:<group|gid>])")
    f.string("entrypoint", help="Overwrite the default ENTRYPOINT of the image")
    f.strings("label", "l", "Set meta data on a container")
    f.strings("label-file", help="Read in a line delimited file of labels")
    f.string("hostname", "h", "Container host name")
    f.string("domainname", help="Container NIS domain name")
    f.string("stop-signal", help="Signal to stop the container")
    f.int("stop-timeout", help="Timeout (in seconds) to stop a container")
    f.string("cidfile", help="Write the container ID to the file")
    f.string("platform", help="Set platform if server is multi-platform capable")
    f.string("pull", help='Pull image before running ("always", "missing", "never")', default="missing")
    f.bool("quiet", "q", "Suppress the pull output")
    f.bool("disable-content-trust", help="Skip image verification", default=True, hidden=True)
    f.string("runtime", help="Runtime to use for this container")
    f.bool("init", help="Run an init inside the container that forwards signals and reaps processes")
    f.bool("rm", help="Automatically remove the container and its associated anonymous volumes when it exits")
    # storage
    f.strings("volume", "v", "Bind mount a volume")
    f.strings("mount", help="Attach a filesystem mount to the container", metavar="mount")
    f.strings("tmpfs", help="Mount a tmpfs directory")
    f.strings("volumes-from", help="Mount volumes from the specified container(s)")
    f.string("volume-driver", help="Optional volume driver for the container")
    f.bool("read-only", help="Mount the container's root filesystem as read only")
    f.strings("storage-opt", help="Storage driver options for the container")
    # resources
    f.value("memory", units.ram_in_bytes, "m", "Memory limit", metavar="bytes")
    f.value(
        "memory-swap",
        units.memory_swap,
        help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap",
        metavar="bytes",
    )
    f.value("memory-reservation", units.ram_in_bytes, help="Memory soft limit", metavar="bytes")
    f.int("memory-swappiness", help="Tune container memory swappiness (0 to 100)", default=-1)
    f.value("kernel-memory", units.ram_in_bytes, help="Kernel memory limit", metavar="bytes", hidden=True)
    f.bool("oom-kill-disable", help="Disable OOM Killer")
    f.int("oom-score-adj", help="Tune host's OOM preferences (-1000 to 1000)")
    f.value("cpus", units.nano_cpus, help="Number of CPUs", metavar="decimal")
    f.int("cpu-shares", "c", "CPU shares (relative weight)")
    f.int("cpu-period", help="Limit CPU CFS (Completely Fair Scheduler) period")
    f.int("cpu-quota", help="Limit CPU CFS (Completely Fair Scheduler) quota")
    f.string("cpuset-cpus", help="CPUs in which to allow execution (0-3, 0,1)")
    f.string("cpuset-mems", help="MEMs in which to allow execution (0-3, 0,1)")
    f.int("blkio-weight", help="Block IO (relative weight), between 10 and 1000, or 0 to disable")
    f.value("blkio-weight-device", units.weight_device, help="Block IO weight (relative device weight)",
            repeat=True, metavar="list")  # fmt: skip
    f.value("device-read-bps", units.throttle_bps, help="Limit read rate (bytes per second) from a device",
            repeat=True, metavar="list")  # fmt: skip
    f.value("device-write-bps", units.throttle_bps, help="Limit write rate (bytes per second) to a device",
            repeat=True, metavar="list")  # fmt: skip
    f.value("device-read-iops", units.throttle_iops, help="Limit read rate (IO per second) from a device",
            repeat=True, metavar="list")  # fmt: skip
    f.value("device-write-iops", units.throttle_iops, help="Limit write rate (IO per second) to a device",
            repeat=True, metavar="list")  # fmt: skip
    f.int("pids-limit", help="Tune container pids limit (set -1 for unlimited)")
    f.value("ulimit", units.ulimit, help="Ulimit options", repeat=True, metavar="ulimit")
    f.value("shm-size", units.ram_in_bytes, help="Size of /dev/shm", metavar="bytes")
    f.string("cgroup-parent", help="Optional parent cgroup for the container")
    f.string("cgroupns", help="Cgroup namespace to use (host|private)")
    f.string("gpus", help="GPU devices to add to the container ('all' to pass all GPUs)", hidden=True)
    # security
    f.bool("privileged", help="Give extended privileges to this container")
    f.strings("cap-add", help="Add Linux capabilities")
    f.strings("cap-drop", help="Drop Linux capabilities")
    f.strings("security-opt", help="Security Options")
    f.strings("group-add", help="Add additional groups to join")
    f.strings("device", help="Add a host device to the container")
    f.strings("device-cgroup-rule", help="Add a rule to the cgroup allowed devices list")
    f.value("sysctl", units.key_value, help="Sysctl options", repeat=True, metavar="map")
    f.string("userns", help="User namespace to use")
    f.string("ipc", help="IPC mode to use")
    f.string("pid", help="PID namespace to use")
    f.string("uts", help="UTS namespace to use")
    f.string("isolation", help="Container isolation technology", hidden=True)
    # health
    f.string("health-cmd", help="Command to run to check health")
    f.value(
        "health-interval",
        units.go_duration,
        help="Time between running the check (ms|s|m|h)",
        metavar="duration",
    )
    f.value(
        "health-timeout",
        units.go_duration,
        help="Maximum time to allow one check to run (ms|s|m|h)",
        metavar="duration",
    )
    f.int("health-retries", help="Consecutive failures needed to report unhealthy")
    f.value(
        "health-start-period",
        units.go_duration,
        help="Start period for the container to initialize before counting health-retries (ms|s|m|h)",
        metavar="duration",
    )
    f.value(
        "health-start-interval",
        units.go_duration,
        help="Time between running the check during the start period (ms|s|m|h)",
        metavar="duration",
    )
    f.bool("no-healthcheck", help="Disable any container-specified HEALTHCHECK")
    # network
    f.string("network", help="Connect a container to a network", aliases=("net",))
    f.strings("network-alias", help="Add network-scoped alias for the container", aliases=("net-alias",))
    f.strings("publish", "p", "Publish a container's port(s) to the host")
    f.bool("publish-all", "P", "Publish all exposed ports to random ports")
    f.strings("expose", help="Expose a port or a range of ports")
    f.strings("dns", help="Set custom DNS servers")
    f.strings("dns-search", help="Set custom DNS search domains")
    f.strings("dns-option", help="Set DNS options", aliases=("dns-opt",))
    f.strings("add-host", help="Add a custom host-to-IP mapping (host:ip)")
    f.string("ip", help="IPv4 address (e.g., 172.30.100.104)")
    f.string("ip6", help="IPv6 address (e.g., 2001:db8::33)")
    f.string("mac-address", help="Container MAC address (e.g., 92:d0:c6:0a:29:33)")
    f.strings("link", help="Add link to another container")
    # logging and lifecycle
    f.string("log-driver", help="Logging driver for the container")
    f.value("log-opt", units.key_value, help="Log driver options", repeat=True, metavar="list")
    f.value(
        "restart",
        units.restart_policy,
        help="Restart policy to apply when a container exits",
        default=None,
        metavar="string",
    )
    f.strings("annotation", help="Add an annotation to the container (passed through to the OCI runtime)")


def add_run_flags(f: FlagSet) -> None:
    f.bool("detach", "d", "Run container in background and print container ID")
    f.bool("sig-proxy", help="Proxy received signals to the process", default=True)
    f.string("detach-keys", help="Override the key sequence for detaching a container")
