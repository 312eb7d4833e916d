"""The Engine API client: versioned requests, JSON in and out, streams, hijacked connections.

One ``APIClient`` keeps idle keep-alive connections for reuse; a request that streams (logs -f,
events, a pending wait) holds its own connection until its body is read or closed, so several
can be open at once (``run`` has attach, wait and start in flight together).

The API version is negotiated as the docker CLI does: ``GET /_ping`` answers the daemon's
``API-Version`` and requests go to ``/v<min(ours, theirs)>/...``. ``DOCKER_API_VERSION`` (given
here as ``version``) pins it and skips the ping.
"""

from __future__ import annotations

import _socket
import _thread

from dockyard import __version__
from dockyard.client import errors, host, http11
from dockyard.client.hijack import RawStream

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Iterator, Mapping
    from typing import Any

    from dockyard.client.tls import TLSConfig

API_VERSION = "1.44"
MIN_API_VERSION = "1.24"
USER_AGENT = f"dockyard-cli/{__version__}"
CONNECT_TIMEOUT = 30.0
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE = _SAFE | frozenset(b"/:@!$&'()*+,;=")


def version_tuple(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        return 0, 0


def quote(text: str, safe: frozenset[int] = _SAFE) -> str:
    """Percent-encode (RFC 3986 section 2.1) every byte outside ``safe``."""
    return "".join(chr(b) if b in safe else f"%{b:02X}" for b in text.encode("utf-8"))


def quote_path(text: str) -> str:
    """A path segment that may hold ``/`` and ``:`` (image references in ``/images/{name}/json``)."""
    return quote(text, _PATH_SAFE)


def query_string(params: Mapping[str, Any] | None) -> str:
    """``?k=v&...``: None values left out, booleans as 1/0, lists as repeated keys."""
    if not params:
        return ""
    parts = []
    for key, value in params.items():
        if value is None:
            continue
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            text = ("1" if item else "0") if isinstance(item, bool) else str(item)
            parts.append(f"{quote(key)}={quote(text)}")
    return "?" + "&".join(parts) if parts else ""


def encode_filters(filters: Mapping[str, list[str]] | None) -> str | None:
    """The ``filters`` parameter in the docker CLI's shape, ``{"label": {"a=b": true}}``."""
    if not filters:
        return None
    from dockyard.oci import fastjson

    return fastjson.dumps({key: dict.fromkeys(values, True) for key, values in filters.items()})


class APIClient:
    def __init__(
        self, url: str = host.DEFAULT_HOST, *, tls: TLSConfig | None = None, version: str = ""
    ) -> None:
        self.host = host.parse(url, tls is not None)
        self.tls = tls
        self._version = version
        self._idle: list[tuple[socket.socket, http11.SocketReader]] = []
        self._lock = _thread.allocate_lock()
        self.server_version = ""

    @property
    def url(self) -> str:
        return self.host.url

    # ------------------------------------------------------------------ connections

    def _open(self) -> socket.socket:
        h = self.host
        try:
            if h.scheme == "unix":
                # The C socket type (the base of socket.socket, with every method used here):
                # importing `socket` costs enum and selectors, several ms of every command.
                sock: socket.socket = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)  # type: ignore[assignment]
                try:
                    sock.connect(h.path)
                except BaseException:
                    sock.close()
                    raise
                return sock
            import socket

            sock = socket.create_connection((h.host, h.port), timeout=CONNECT_TIMEOUT)
            sock.settimeout(None)
        except PermissionError as exc:
            raise errors.DaemonUnreachable(self.url, "permission", exc.errno or 0) from None
        except OSError as exc:
            raise errors.DaemonUnreachable(self.url, errno=exc.errno or 0) from None
        if self.tls is None:
            return sock
        import ssl

        try:
            return self.tls.context().wrap_socket(sock, server_hostname=h.host)
        except ssl.SSLError as exc:
            sock.close()
            raise errors.DaemonUnreachable(self.url, f"TLS handshake failed: {exc.reason or exc}") from None
        except OSError as exc:
            sock.close()
            raise errors.DaemonUnreachable(self.url, f"TLS: {exc}") from None

    def _acquire(self, fresh: bool) -> tuple[socket.socket, http11.SocketReader, bool]:
        if not fresh:
            with self._lock:
                if self._idle:
                    sock, reader = self._idle.pop()
                    return sock, reader, True
        sock = self._open()
        return sock, http11.SocketReader(sock), False

    def _release(self, sock: socket.socket, reader: http11.SocketReader) -> None:
        if reader.buffer:  # bytes beyond the response: the connection's state is unknown
            sock.close()
            return
        with self._lock:
            self._idle.append((sock, reader))

    def _releaser(self, sock: socket.socket, reader: http11.SocketReader) -> Callable[[], None]:
        return lambda: self._release(sock, reader)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for sock, _ in idle:
            sock.close()

    # ------------------------------------------------------------------ requests

    def api_version(self) -> str:
        if not self._version:
            resp = self.request("GET", "/_ping", versioned=False, check=False)
            resp.read()
            theirs = resp.header("api-version")
            self.server_version = theirs
            ours = API_VERSION
            if theirs and version_tuple(theirs) < version_tuple(ours):
                ours = theirs
            self._version = ours
        return self._version

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        body: http11.Body = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        versioned: bool = True,
        check: bool = True,
        upgrade: bool = False,
    ) -> http11.Response:
        """Send one request; return the response with its body unread.

        ``check``: an error status raises the matching :mod:`dockyard.client.errors` error.
        ``upgrade``: ask for a hijacked connection (``Connection: Upgrade``, ``Upgrade: tcp``).
        """
        target = (f"/v{self.api_version()}" if versioned else "") + path + query_string(params)
        hdrs = [("Host", "api.moby.localhost" if self.host.scheme == "unix" else self.host.host)]
        hdrs.append(("User-Agent", USER_AGENT))
        if json is not None:
            from dockyard.oci import fastjson

            body = fastjson.dumps(json).encode()
            hdrs.append(("Content-Type", "application/json"))
        if upgrade:
            hdrs += [("Connection", "Upgrade"), ("Upgrade", "tcp")]
        if headers:
            hdrs.extend(headers.items())
        replayable = body is None or isinstance(body, bytes)
        for attempt in (0, 1):
            sock, reader, reused = self._acquire(fresh=upgrade or not replayable or attempt > 0)
            try:
                http11.send_request(sock, method, target, hdrs, body)
                resp = http11.Response(sock, reader, method, self._releaser(sock, reader))
                break
            except (ConnectionResetError, BrokenPipeError) as exc:
                sock.close()
                # A keep-alive connection the daemon closed while idle: send again on a new one.
                if reused and attempt == 0:
                    continue
                raise errors.DaemonUnreachable(self.url, f"connection lost: {exc}") from None
            except BaseException:
                sock.close()
                raise
        if check and resp.status >= 400:
            raise errors.from_response(resp.status, resp.reason, resp.read())
        return resp

    def call(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        json: Any = None,
        body: http11.Body = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """A request whose answer is JSON (or empty: None)."""
        return self.request(method, path, params, json=json, body=body, headers=headers).json()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.call("GET", path, params)

    def post(self, path: str, params: Mapping[str, Any] | None = None, json: Any = None) -> Any:
        return self.call("POST", path, params, json=json)

    def delete(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.call("DELETE", path, params)

    def stream_json(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        body: http11.Body = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Newline-delimited JSON messages of a streamed answer (events, progress, stats)."""
        from dockyard.oci import fastjson

        resp = self.request(method, path, params, body=body, json=json, headers=headers)
        try:
            for line in resp.iter_lines():
                message = fastjson.loads(line)
                if isinstance(message, dict):
                    yield message
        finally:
            if not resp.done:
                resp.close()

    def hijack(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        json: Any = None,
        multiplexed: bool = True,
    ) -> RawStream:
        """POST ``path`` asking to take the connection over; the raw stream once the daemon agrees.

        dockerd before API 1.24 answered 200 with the raw stream instead of 101; both are taken.
        The Content-Type tells the framing only from API 1.42 on: before, dockerd always said
        ``raw-stream``, so ``multiplexed`` (the container's or exec's TTY setting) decides.
        """
        resp = self.request("POST", path, params, json=json, upgrade=True)
        content_type = resp.header("content-type")
        if version_tuple(self.api_version()) >= (1, 42):
            if "multiplexed-stream" in content_type:
                multiplexed = True
            elif "raw-stream" in content_type:
                multiplexed = False
        sock, reader = resp.detach()
        return RawStream(sock, reader, multiplexed)
