"""The daemon's settings: command-line flags merged with the config file (Docker's daemon.json).

A setting given both as a flag and in the file is an error, as with dockerd: which one should
win is not obvious, so neither does. Keys are dockerd's where they apply, so an existing
daemon.json mostly works. `reload()` returns the settings SIGHUP may change (Docker's list:
debug, log-level, labels, live-restore, max-concurrent-downloads, insecure-registries,
registry-mirrors, default-runtime, runtimes, shutdown-timeout); the rest need a restart.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.errors import InvalidArgument

DEFAULT_SOCKET = "unix:///run/dockyard.sock"
DEFAULT_CONFIG_FILE = "/etc/dockyard/daemon.json"


@dataclass
class DaemonOptions:
    hosts: list[str] = field(default_factory=lambda: [DEFAULT_SOCKET])
    tlsverify: bool = False
    tlscacert: str | None = None
    tlscert: str | None = None
    tlskey: str | None = None
    insecure_tcp: bool = False
    data_root: Path = Path("/var/lib/dockyard")
    exec_root: Path = Path("/run/dockyard")
    pidfile: Path | None = None  # default: <exec-root>/dockyard.pid
    default_runtime: str = "dockyard"
    runtimes: dict[str, str] = field(default_factory=dict)  # name -> path, besides the built-ins
    log_level: str = "info"
    log_format: str = "text"
    live_restore: bool = False
    config_file: Path = Path(DEFAULT_CONFIG_FILE)
    group: str | None = None  # group owning the unix sockets (mode 0660); None: root only
    socket_mode: int = 0o660
    bridge: str = "dockyard0"
    bip: str | None = None  # the bridge's address in CIDR form; None: a free subnet from the pool
    ip_masq: bool = True  # outbound NAT for the bridge's subnet (Docker's default)
    isolate_egress: bool = False  # drop forwarding from our bridges to any other interface
    userns_remap: str = ""  # "default", USER[:GROUP] or UID[:GID]: container root remapped
    icc: bool = True  # traffic between containers of the default bridge (dockerd's --icc)
    # The embedded DNS's upstream resolvers ("ip" or "ip:port"); None: the host's, ["none"]: none.
    dns_upstream: list[str] | None = None
    # Where port and isolation rules go: auto (nftables where `nft` is installed, else
    # iptables), nftables or iptables (network/rulebackends.py).
    firewall_backend: str = "auto"
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5
    image_limits: dict[str, int] = field(default_factory=dict)  # images/options.py LIMIT_KEYS
    sync_layers: bool = False  # fsync each pulled layer blob (images/layers.py)
    insecure_registries: list[str] = field(default_factory=list)
    registry_mirrors: list[str] = field(default_factory=list)
    shutdown_timeout: int = 15
    labels: list[str] = field(default_factory=list)
    debug: bool = False

    @property
    def pid_path(self) -> Path:
        return self.pidfile if self.pidfile is not None else self.exec_root / "dockyard.pid"


# config-file key -> (attribute, converter); the file uses dockerd's spelling
_FILE_KEYS: dict[str, str] = {
    "hosts": "hosts",
    "tlsverify": "tlsverify",
    "tlscacert": "tlscacert",
    "tlscert": "tlscert",
    "tlskey": "tlskey",
    "insecure-tcp": "insecure_tcp",
    "data-root": "data_root",
    "exec-root": "exec_root",
    "pidfile": "pidfile",
    "default-runtime": "default_runtime",
    "runtimes": "runtimes",
    "log-level": "log_level",
    "log-format": "log_format",
    "live-restore": "live_restore",
    "group": "group",
    "bridge": "bridge",
    "bip": "bip",
    "ip-masq": "ip_masq",
    "isolate-egress": "isolate_egress",
    "userns-remap": "userns_remap",
    "icc": "icc",
    "dns-upstream": "dns_upstream",
    "firewall-backend": "firewall_backend",
    "max-concurrent-downloads": "max_concurrent_downloads",
    "max-concurrent-uploads": "max_concurrent_uploads",
    "image-limits": "image_limits",
    "sync-layers": "sync_layers",
    "insecure-registries": "insecure_registries",
    "registry-mirrors": "registry_mirrors",
    "shutdown-timeout": "shutdown_timeout",
    "labels": "labels",
    "debug": "debug",
}
RELOADABLE = frozenset(
    {
        "debug",
        "log_level",
        "labels",
        "live_restore",
        "max_concurrent_downloads",
        "max_concurrent_uploads",
        "insecure_registries",
        "registry_mirrors",
        "default_runtime",
        "runtimes",
        "shutdown_timeout",
    }
)
_LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dockyard daemon",
        description="Run the dockyard daemon: the Docker Engine API on a unix socket (and TCP).",
        argument_default=argparse.SUPPRESS,  # absent flags stay absent: see _merge
    )
    p.add_argument(
        "-H",
        "--host",
        dest="hosts",
        action="append",
        metavar="ADDR",
        help=f"listen on unix:///path or tcp://ip:port (default {DEFAULT_SOCKET}); repeatable",
    )
    p.add_argument("--tlsverify", action="store_true", help="TCP: require client certificates (mutual TLS)")
    p.add_argument("--tlscacert", metavar="FILE", help="CA that signs the client certificates")
    p.add_argument("--tlscert", metavar="FILE", help="the daemon's TLS certificate")
    p.add_argument("--tlskey", metavar="FILE", help="the daemon's TLS key")
    p.add_argument(
        "--insecure-tcp",
        dest="insecure_tcp",
        action="store_true",
        help="allow a TCP listener without mutual TLS (loopback addresses only)",
    )
    p.add_argument(
        "--data-root",
        dest="data_root",
        type=Path,
        metavar="DIR",
        help="persistent state (default /var/lib/dockyard)",
    )
    p.add_argument(
        "--exec-root",
        dest="exec_root",
        type=Path,
        metavar="DIR",
        help="run-time state (default /run/dockyard)",
    )
    p.add_argument(
        "-p", "--pidfile", type=Path, metavar="FILE", help="pid file (default <exec-root>/dockyard.pid)"
    )
    p.add_argument(
        "--runtime",
        "--default-runtime",
        dest="default_runtime",
        metavar="NAME|PATH",
        help="OCI runtime for containers: dockyard (default), runc, crun, a registered name or a path",
    )
    p.add_argument(
        "--add-runtime",
        dest="add_runtime",
        action="append",
        metavar="NAME=PATH",
        help="register another OCI runtime; repeatable",
    )
    p.add_argument("-l", "--log-level", dest="log_level", choices=_LOG_LEVELS, help="default info")
    p.add_argument("--log-format", dest="log_format", choices=("text", "json"), help="default text")
    p.add_argument("-D", "--debug", action="store_true", help="debug logging")
    p.add_argument(
        "--live-restore",
        dest="live_restore",
        action="store_true",
        help="keep containers running while the daemon is down",
    )
    p.add_argument(
        "--config-file",
        dest="config_file",
        type=Path,
        metavar="FILE",
        help=f"daemon.json (default {DEFAULT_CONFIG_FILE})",
    )
    p.add_argument("-G", "--group", metavar="GROUP", help="group that may use the unix sockets")
    p.add_argument(
        "--userns-remap",
        dest="userns_remap",
        metavar="default|USER[:GROUP]",
        help="run containers in a user namespace mapped from the user's /etc/subuid and /etc/subgid "
        "ranges (default: a 'dockyard' user, created with its ranges when missing)",
    )
    p.add_argument("--bridge", metavar="NAME", help="name of the default bridge (default dockyard0)")
    p.add_argument("--bip", metavar="CIDR", help="the default bridge's address, e.g. 10.88.0.1/16")
    p.add_argument(
        "--ip-masq",
        dest="ip_masq",
        type=_bool,
        metavar="BOOL",
        help="outbound NAT for containers (default true)",
    )
    p.add_argument(
        "--isolate-egress",
        dest="isolate_egress",
        type=_bool,
        nargs="?",
        const=True,
        metavar="BOOL",
        help="drop traffic forwarded from dockyard's bridges to other interfaces",
    )
    p.add_argument(
        "--icc",
        dest="icc",
        type=_bool,
        metavar="BOOL",
        help="allow traffic between containers on the default bridge (default true)",
    )
    p.add_argument(
        "--dns-upstream",
        dest="dns_upstream",
        action="append",
        metavar="IP[:PORT]|none",
        help="where the embedded DNS of user networks sends names it does not know "
        "(repeatable; default: the host's resolvers; none: nowhere)",
    )
    p.add_argument(
        "--firewall-backend",
        dest="firewall_backend",
        choices=("auto", "nftables", "iptables"),
        help="where published ports and isolation rules go (default auto: nftables where nft is "
        "installed, else iptables)",
    )
    p.add_argument("--max-concurrent-downloads", dest="max_concurrent_downloads", type=int, metavar="N")
    p.add_argument("--max-concurrent-uploads", dest="max_concurrent_uploads", type=int, metavar="N")
    p.add_argument("--insecure-registry", dest="insecure_registries", action="append", metavar="HOST[:PORT]")
    p.add_argument("--registry-mirror", dest="registry_mirrors", action="append", metavar="URL|DOMAIN=URL")
    p.add_argument(
        "--sync-layers", dest="sync_layers", type=_bool, nargs="?", const=True, metavar="BOOL",
        help="fsync every pulled layer blob before it enters the store (default false)",
    )  # fmt: skip
    p.add_argument(
        "--image-limit",
        dest="image_limit",
        action="append",
        metavar="KEY=N",
        help="max-entries, max-depth, max-layer-size, max-manifest-size, max-index-depth",
    )
    p.add_argument("--shutdown-timeout", dest="shutdown_timeout", type=int, metavar="SECONDS")
    p.add_argument("--label", dest="labels", action="append", metavar="KEY=VALUE")
    return p


def _is_ipv4(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}: use true or false")


def parse(argv: list[str]) -> DaemonOptions:
    """Flags, then the config file, merged; raises InvalidArgument with what to fix."""
    given = vars(_parser().parse_args(argv))
    for spec in given.pop("add_runtime", []):
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise InvalidArgument(f"invalid --add-runtime {spec!r}: use NAME=PATH")
        given.setdefault("runtimes", {})[name] = path
    for spec in given.pop("image_limit", []):
        key, sep, value = spec.partition("=")
        if not sep or not value.isdigit():
            raise InvalidArgument(f"invalid --image-limit {spec!r}: use KEY=N, e.g. max-entries=1000")
        given.setdefault("image_limits", {})[key] = int(value)
    config_path = Path(given.get("config_file", DEFAULT_CONFIG_FILE))
    from_file = load_file(config_path, required="config_file" in given)
    return _merge(given, from_file)


def load_file(path: Path, required: bool) -> dict[str, Any]:
    """The config file's settings, by attribute name. A missing default file is no error."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        if required:
            raise InvalidArgument(
                f"config file {path} does not exist: create it or drop --config-file"
            ) from None
        return {}
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"config file {path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"config file {path}: the top level must be a JSON object")
    out: dict[str, Any] = {}
    for key, value in data.items():
        attr = _FILE_KEYS.get(key)
        if attr is None:
            raise InvalidArgument(
                f"config file {path}: unknown key {key!r}; known keys: {', '.join(sorted(_FILE_KEYS))}"
            )
        if attr == "runtimes":
            if not isinstance(value, dict):
                raise InvalidArgument(f'config file {path}: "runtimes" must map names to {{"path": ...}}')
            value = {n: (v.get("path") if isinstance(v, dict) else v) for n, v in value.items()}
        out[attr] = value
    return out


def _merge(flags: dict[str, Any], from_file: dict[str, Any]) -> DaemonOptions:
    both = sorted(set(flags) & set(from_file) - {"config_file"})
    if both:
        detail = "; ".join(f"{k}: (from flag: {flags[k]}, from file: {from_file[k]})" for k in both)
        raise InvalidArgument(
            f"the following directives are specified both as a flag and in the configuration file: {detail}"
        )
    merged: dict[str, Any] = {**from_file, **flags}
    opts = DaemonOptions()
    types = {f.name: f.type for f in dataclasses.fields(DaemonOptions)}
    for name, value in merged.items():
        if name not in types:
            continue
        if name in ("data_root", "exec_root", "pidfile", "config_file") and value is not None:
            value = Path(value)
        setattr(opts, name, value)
    if opts.debug:
        opts.log_level = "debug"
    validate(opts)
    return opts


def validate(opts: DaemonOptions) -> None:
    if opts.log_level not in _LOG_LEVELS:
        raise InvalidArgument(f"invalid log level {opts.log_level!r}: use one of {', '.join(_LOG_LEVELS)}")
    if opts.max_concurrent_downloads < 1:
        raise InvalidArgument("max-concurrent-downloads must be at least 1")
    if opts.max_concurrent_uploads < 1:
        raise InvalidArgument("max-concurrent-uploads must be at least 1")
    from dockyard.images import options as image_options

    image_options.build(
        insecure_registries=opts.insecure_registries,
        registry_mirrors=opts.registry_mirrors,
        limits=opts.image_limits,
    )  # raises on a bad mirror, insecure registry or limit
    for host in opts.hosts:
        if not (host.startswith("unix://") or host.startswith("tcp://") or host.startswith("fd://")):
            raise InvalidArgument(f"invalid host {host!r}: use unix:///path/to.sock or tcp://ip:port")
    if len(opts.bridge) > 15:
        raise InvalidArgument(
            f"bridge name {opts.bridge!r} is longer than 15 characters (the kernel's limit)"
        )
    if opts.firewall_backend not in ("auto", "nftables", "iptables"):
        raise InvalidArgument(
            f"invalid firewall-backend {opts.firewall_backend!r}: use auto, nftables or iptables"
        )
    for server in opts.dns_upstream or []:
        host = server.rsplit(":", 1)[0] if server.count(":") == 1 else server
        if server != "none" and not _is_ipv4(host):
            raise InvalidArgument(f"invalid --dns-upstream {server!r}: use IP, IP:PORT or none")
    if not opts.data_root.is_absolute() or not opts.exec_root.is_absolute():
        raise InvalidArgument("--data-root and --exec-root must be absolute paths")
    if opts.default_runtime not in ("dockyard", "runc", "crun") and opts.default_runtime not in opts.runtimes:
        path = opts.default_runtime
        if not (os.path.isabs(path) and os.access(path, os.X_OK)):
            raise InvalidArgument(
                f"unknown runtime {path!r}: use dockyard, runc, crun, a name given with --add-runtime,"
                " or the absolute path of an executable"
            )


def reloadable_changes(old: DaemonOptions, new: DaemonOptions) -> dict[str, Any]:
    """What SIGHUP applies: the reloadable settings that differ."""
    return {k: getattr(new, k) for k in RELOADABLE if getattr(old, k) != getattr(new, k)}
