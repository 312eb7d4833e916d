"""Daemon addresses (-H, DOCKYARD_HOST, DOCKER_HOST), and TLS to a real TLS server on loopback."""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.client import errors, host, tls
from dockyard.client.api import APIClient
from dockyard.errors import InvalidArgument


@pytest.mark.parametrize(
    ("url", "scheme", "where"),
    [
        ("unix:///run/x.sock", "unix", "/run/x.sock"),
        ("unix://", "unix", host.DEFAULT_SOCKET),
        ("/var/run/docker.sock", "unix", "/var/run/docker.sock"),
        ("tcp://10.0.0.1:2376", "tcp", ("10.0.0.1", 2376)),
        ("tcp://10.0.0.1", "tcp", ("10.0.0.1", 2375)),
        ("tcp://:3000", "tcp", ("127.0.0.1", 3000)),
        ("tcp://[::1]:4000", "tcp", ("::1", 4000)),
        ("localhost:5000", "tcp", ("localhost", 5000)),
        ("", "unix", host.DEFAULT_SOCKET),
    ],
)
def test_parse(url: str, scheme: str, where: object) -> None:
    parsed = host.parse(url)
    assert parsed.scheme == scheme
    assert (parsed.path if scheme == "unix" else (parsed.host, parsed.port)) == where


def test_tls_default_port_and_urls() -> None:
    assert host.parse("tcp://h", tls=True).port == 2376
    assert host.parse("tcp://[::1]:9").url == "tcp://[::1]:9"
    assert host.parse("unix:///a").url == "unix:///a"


@pytest.mark.parametrize("url", ["ssh://me@box", "fd://", "tcp://h:99999", "tcp://h:port"])
def test_parse_refuses(url: str) -> None:
    with pytest.raises(InvalidArgument, match=r"daemon address|port"):
        host.parse(url)


def test_environment_precedence() -> None:
    assert host.from_environment({}) == "unix:///run/dockyard.sock"
    assert host.from_environment({"DOCKER_HOST": "tcp://a:1"}) == "tcp://a:1"
    assert host.from_environment({"DOCKER_HOST": "tcp://a:1", "DOCKYARD_HOST": "unix:///b"}) == "unix:///b"


def test_tls_configure_from_env(tmp_path: Path) -> None:
    assert tls.configure({}) is None
    cfg = tls.configure({"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)})
    assert cfg is not None and cfg.verify
    assert cfg.ca == str(tmp_path / "ca.pem") and cfg.key == str(tmp_path / "key.pem")
    cfg = tls.configure({}, tls=True, ca="/x/ca.pem")
    assert cfg is not None and not cfg.verify and cfg.ca == "/x/ca.pem"


# ---------------------------------------------------------------- a real TLS daemon on loopback


def _cert(subject: str, issuer_key: object, issuer: str, key: object, ca: bool) -> object:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        import ipaddress

        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]


def _write(path: Path, cert: object = None, key: object = None) -> None:
    from cryptography.hazmat.primitives import serialization

    if cert is not None:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))  # type: ignore[attr-defined]
    else:
        path.write_bytes(
            key.private_bytes(  # type: ignore[attr-defined]
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


@pytest.fixture
def tls_daemon(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A TLS server on 127.0.0.1 that requires a client certificate from our CA; (url, cert folder)."""
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives.asymmetric import ec

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("test-ca", ca_key, "test-ca", ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert("127.0.0.1", ca_key, "test-ca", server_key, ca=False)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert("client", ca_key, "test-ca", client_key, ca=False)
    certs = tmp_path / "certs"
    certs.mkdir()
    _write(certs / "ca.pem", ca)
    _write(certs / "cert.pem", client)
    _write(certs / "key.pem", key=client_key)
    _write(tmp_path / "server.pem", server)
    _write(tmp_path / "server-key.pem", key=server_key)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "server.pem", tmp_path / "server-key.pem")
    ctx.load_verify_locations(certs / "ca.pem")
    ctx.verify_mode = ssl.CERT_REQUIRED
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            try:
                with ctx.wrap_socket(raw, server_side=True) as conn:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        data += conn.recv(4096)
                    peer: Any = conn.getpeercert() or {}
                    subject = {k: v for ((k, v),) in peer.get("subject", ())}
                    body = json.dumps({"client": subject.get("commonName")}).encode()
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            except (OSError, ssl.SSLError):
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{port}", certs
    finally:
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the server thread
        listener.close()
        thread.join(5)


def test_mutual_tls_verified(tls_daemon: tuple[str, Path]) -> None:
    url, certs = tls_daemon
    config = tls.configure({"DOCKER_CERT_PATH": str(certs)}, verify=True)
    client = APIClient(url, tls=config, version="1.44")
    assert client.get("/info") == {"client": "client"}  # the server saw our client certificate


def test_tls_verify_refuses_an_unknown_ca(tls_daemon: tuple[str, Path], tmp_path: Path) -> None:
    url, certs = tls_daemon
    other = tmp_path / "other"
    other.mkdir()
    for name in ("cert.pem", "key.pem"):
        (other / name).write_bytes((certs / name).read_bytes())
    from cryptography.hazmat.primitives.asymmetric import ec

    stranger_key = ec.generate_private_key(ec.SECP256R1())
    _write(other / "ca.pem", _cert("stranger", stranger_key, "stranger", stranger_key, ca=True))
    config = tls.configure({"DOCKER_CERT_PATH": str(other)}, verify=True)
    with pytest.raises(errors.DaemonUnreachable, match="TLS handshake failed"):
        APIClient(url, tls=config, version="1.44").get("/info")
    # --tls without --tlsverify encrypts without checking the server, as docker does.
    config = tls.configure({"DOCKER_CERT_PATH": str(other)}, tls=True)
    assert APIClient(url, tls=config, version="1.44").get("/info") == {"client": "client"}


def test_tls_half_key_pair_is_refused(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("x")
    config = tls.configure({"DOCKER_CERT_PATH": str(tmp_path)}, tls=True)
    assert config is not None
    with pytest.raises(InvalidArgument, match="come in pairs"):
        config.context()


def test_cli_tls_flags(tls_daemon: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """``dockyard --tlsverify --tlscacert ... -H tcp://...`` reaches the daemon with our certificate."""
    from dockyard.cli.main import main

    url, certs = tls_daemon
    flags = ["--tlsverify", "--tlscacert", str(certs / "ca.pem"), "--tlscert", str(certs / "cert.pem")]
    flags += ["--tlskey", str(certs / "key.pem"), "-H", url]
    assert main([*flags, "info", "--format", "{{.client}}"]) == 0
    assert capsys.readouterr().out == "client\n"
    assert main(["--tlsverify", "--tlscacert", "/nonexistent/ca.pem", "-H", url, "info"]) == 1
    assert "TLS CA certificate /nonexistent/ca.pem does not exist" in capsys.readouterr().err
