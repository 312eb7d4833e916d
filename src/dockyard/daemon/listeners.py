"""The daemon's sockets: unix sockets (mode and group settable) and TCP with mutual TLS.

A TCP listener without client certificates lets anyone who reaches the port run containers as
root, so it is refused unless --insecure-tcp is given, and even then only on a loopback address.
"""

from __future__ import annotations

import grp
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dockyard.daemon.options import DaemonOptions
from dockyard.errors import InvalidArgument


@dataclass
class Listener:
    kind: str  # "unix" or "tcp"
    address: str  # the path, or host
    port: int = 0
    ssl_context: ssl.SSLContext | None = None


def plan(opts: DaemonOptions) -> list[Listener]:
    """Check every -H address and build what main.py binds; raises InvalidArgument."""
    out: list[Listener] = []
    for host in opts.hosts:
        if host.startswith("unix://"):
            path = host[len("unix://") :]
            if not path.startswith("/"):
                raise InvalidArgument(f"invalid host {host!r}: the socket path must be absolute")
            out.append(Listener("unix", path))
        elif host.startswith("tcp://"):
            parts = urlsplit(host)
            if not parts.hostname:
                raise InvalidArgument(f"invalid host {host!r}: use tcp://IP:PORT")
            port = parts.port or (2376 if opts.tlsverify else 2375)
            out.append(Listener("tcp", parts.hostname, port, _tls(opts, host, parts.hostname)))
        else:
            raise InvalidArgument(f"invalid host {host!r}: use unix:///path/to.sock or tcp://ip:port")
    return out


def _tls(opts: DaemonOptions, host: str, hostname: str) -> ssl.SSLContext | None:
    if opts.tlsverify:
        missing = [n for n in ("tlscacert", "tlscert", "tlskey") if not getattr(opts, n)]
        if missing:
            raise InvalidArgument(
                f"--tlsverify for {host} needs --tlscacert, --tlscert and --tlskey; missing: "
                + ", ".join("--" + m for m in missing)
            )
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=opts.tlscacert)
        ctx.load_cert_chain(str(opts.tlscert), str(opts.tlskey))
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx
    if not opts.insecure_tcp:
        raise InvalidArgument(
            f"refusing to listen on {host} without mutual TLS: anyone reaching it could run containers as "
            "root. Give --tlsverify --tlscacert --tlscert --tlskey, or --insecure-tcp on a loopback address"
        )
    if not _is_loopback(hostname):
        raise InvalidArgument(f"--insecure-tcp is only allowed on a loopback address, not {hostname!r}")
    return None


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def bind_unix(path: str, opts: DaemonOptions) -> socket.socket:
    """A listening unix socket at path; a stale socket file left by a killed daemon is replaced
    (we hold the data root's lock, so no live daemon of ours owns it)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.is_socket():
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            p.unlink()
        else:
            probe.close()
            raise InvalidArgument(f"{path} is in use by another process: stop it or choose another -H")
    elif p.exists():
        raise InvalidArgument(f"{path} exists and is not a socket: remove it or choose another -H")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    gid = -1
    if opts.group:
        try:
            gid = grp.getgrnam(opts.group).gr_gid
        except KeyError:
            sock.close()
            p.unlink()
            raise InvalidArgument(f"group {opts.group!r} does not exist: create it or drop --group") from None
    os.chown(path, 0, gid)
    os.chmod(path, opts.socket_mode if opts.group else 0o600)
    sock.listen(1024)
    sock.setblocking(False)
    return sock
