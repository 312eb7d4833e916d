"""TLS to a ``tcp://`` daemon, configured as docker's ``--tls*`` flags and ``DOCKER_*`` variables.

``DOCKER_CERT_PATH`` (default ``~/.docker``) holds ``ca.pem``, ``cert.pem`` and ``key.pem``.
``--tlsverify`` (or a non-empty ``DOCKER_TLS_VERIFY``) checks the daemon's certificate against the
CA and its name against the host; ``--tls`` alone encrypts without checking, as docker does
(``InsecureSkipVerify``). The client certificate is sent whenever its files exist.
"""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping


class TLSConfig:
    __slots__ = ("ca", "cert", "key", "verify")

    def __init__(self, *, ca: str, cert: str, key: str, verify: bool) -> None:
        self.ca = ca
        self.cert = cert
        self.key = key
        self.verify = verify

    def context(self) -> ssl.SSLContext:
        import ssl

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.verify:
            if not os.path.exists(self.ca):
                raise InvalidArgument(
                    f"TLS CA certificate {self.ca} does not exist: set --tlscacert or DOCKER_CERT_PATH"
                )
            ctx.load_verify_locations(self.ca)
        else:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        have_cert, have_key = os.path.exists(self.cert), os.path.exists(self.key)
        if have_cert and have_key:
            ctx.load_cert_chain(self.cert, self.key)
        elif have_cert != have_key:
            missing = self.key if have_cert else self.cert
            raise InvalidArgument(f"TLS client certificate and key come in pairs: {missing} is missing")
        return ctx


def cert_path(env: Mapping[str, str]) -> str:
    return env.get("DOCKER_CERT_PATH") or os.path.join(os.path.expanduser("~"), ".docker")


def configure(
    env: Mapping[str, str],
    *,
    tls: bool = False,
    verify: bool | None = None,
    ca: str | None = None,
    cert: str | None = None,
    key: str | None = None,
) -> TLSConfig | None:
    """The TLS settings for the flags and environment given, or None for plain HTTP / Unix sockets.

    ``verify=None`` means "not on the command line": ``DOCKER_TLS_VERIFY`` decides.
    """
    if verify is None:
        verify = bool(env.get("DOCKER_TLS_VERIFY"))
    if not (tls or verify or env.get("DOCKER_TLS")):
        return None
    base = cert_path(env)
    return TLSConfig(
        ca=ca or os.path.join(base, "ca.pem"),
        cert=cert or os.path.join(base, "cert.pem"),
        key=key or os.path.join(base, "key.pem"),
        verify=verify,
    )
