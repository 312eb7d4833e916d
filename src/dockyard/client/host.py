"""Where the daemon listens: ``-H`` / ``DOCKYARD_HOST`` / ``DOCKER_HOST`` URLs, parsed as docker does.

Accepted forms (docker's ``opts.ParseHost``): ``unix:///path``, ``unix://path``, ``tcp://host:port``,
``tcp://host`` (port 2375, or 2376 when TLS is on), ``tcp://:port`` (localhost), ``host:port`` and a
bare path to a socket. ``ssh://`` and ``fd://`` are docker transports this client does not speak.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_SOCKET = "/run/dockyard.sock"
DEFAULT_HOST = f"unix://{DEFAULT_SOCKET}"
#: dockerd's conventional ports: plain HTTP and TLS.
PLAIN_PORT = 2375
TLS_PORT = 2376


class Host:
    """A parsed daemon address: a Unix socket path, or a TCP host and port."""

    __slots__ = ("host", "path", "port", "scheme", "url")

    def __init__(self, scheme: str, *, path: str = "", host: str = "", port: int = 0) -> None:
        self.scheme = scheme
        self.path = path
        self.host = host
        self.port = port
        self.url = f"unix://{path}" if scheme == "unix" else f"tcp://{_bracket(host)}:{port}"

    def __repr__(self) -> str:
        return f"Host({self.url!r})"


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def from_environment(env: Mapping[str, str]) -> str:
    """The host URL the environment names (``DOCKYARD_HOST`` first), or the default socket."""
    return env.get("DOCKYARD_HOST") or env.get("DOCKER_HOST") or DEFAULT_HOST


def parse(url: str, tls: bool = False) -> Host:
    """Parse a ``-H`` value; ``tls`` picks the default TCP port (2376 instead of 2375)."""
    value = url.strip()
    if not value:
        return parse(DEFAULT_HOST)
    if value.startswith("unix://"):
        path = value[len("unix://") :]
        if not path:
            return parse(DEFAULT_HOST)
        return Host("unix", path=path)
    if value.startswith("/"):
        return Host("unix", path=value)
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "tcp", value
    if scheme in ("http", "https"):
        tls = tls or scheme == "https"
        scheme = "tcp"
    if scheme != "tcp":
        raise InvalidArgument(
            f'unsupported daemon address "{url}": use unix:///path/to/socket or tcp://host:port'
        )
    return _parse_tcp(url, rest.split("/", 1)[0], tls)


def _parse_tcp(url: str, hostport: str, tls: bool) -> Host:
    default_port = TLS_PORT if tls else PLAIN_PORT
    if hostport.startswith("["):
        host, _, after = hostport[1:].partition("]")
        port_text = after[1:] if after.startswith(":") else ""
    elif hostport.count(":") == 1:
        host, _, port_text = hostport.partition(":")
    else:
        host, port_text = hostport, ""
    host = host or "127.0.0.1"
    if not port_text:
        return Host("tcp", host=host, port=default_port)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise InvalidArgument(f'invalid port "{port_text}" in daemon address "{url}": use tcp://host:PORT')
    return Host("tcp", host=host, port=int(port_text))
