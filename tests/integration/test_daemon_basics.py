"""The daemon process itself: flags and config file, the data-root lock, signals, listeners
(unix, TCP with mutual TLS), the version prefix and Docker's error shapes."""

from __future__ import annotations

import datetime
import json
import os
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.daemon_harness import DOCKER_CLI, DOCKYARD, DockyardDaemon

pytestmark = pytest.mark.root


def _request(sock_path: str, raw: bytes) -> bytes:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sock_path)
    s.sendall(raw)
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    s.close()
    return out


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def test_ping_version_prefix_and_errors(dockyard_daemon: DockyardDaemon) -> None:
    sock = str(dockyard_daemon.socket)
    head = _request(sock, b"HEAD /_ping HTTP/1.0\r\n\r\n").decode()
    assert head.split(" ")[1] == "200"
    for header in ("Api-Version: 1.45", "Ostype: linux", "Builder-Version: 1"):
        assert header in head
    assert _request(sock, b"GET /v1.24/_ping HTTP/1.0\r\n\r\n").endswith(b"\r\n\r\nOK")
    too_new = _request(sock, b"GET /v1.99/version HTTP/1.0\r\n\r\n").decode()
    assert too_new.split(" ")[1] == "400"
    assert json.loads(too_new.split("\r\n\r\n", 1)[1]) == {
        "message": "client version 1.99 is too new. Maximum supported API version is 1.45"
    }
    too_old = _request(sock, b"GET /v1.12/version HTTP/1.0\r\n\r\n").decode()
    assert "400" in too_old.splitlines()[0] and "Minimum supported API version is 1.24" in too_old
    missing = _request(sock, b"GET /v1.41/nothing/here HTTP/1.0\r\n\r\n").decode()
    assert missing.split(" ")[1] == "404"
    assert json.loads(missing.split("\r\n\r\n", 1)[1]) == {"message": "page not found"}
    # The docker CLI negotiates its version down to ours through /_ping.
    out = dockyard_daemon.docker("version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}").stdout
    assert out.split() == ["1.45", "linux"]
    # Debian's docker 20.10 client pins API 1.41 in its paths.
    old = dockyard_daemon.docker(
        "version", "--format", "{{.Server.MinAPIVersion}}", cli="/usr/bin/docker"
    ).stdout
    assert old.strip() == "1.24"


def test_second_daemon_on_same_data_root_is_refused(dockyard_daemon: DockyardDaemon) -> None:
    d = dockyard_daemon
    other = d.root / "other.sock"
    res = subprocess.run(
        [DOCKYARD, "daemon", "-H", f"unix://{other}", "--data-root", str(d.data_root), "--exec-root",
         str(d.root / "run2"), "--config-file", str(d.root / "daemon.json")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert res.returncode == 1
    assert f"is using the data root {d.data_root}" in res.stderr
    assert str(d.proc.pid if d.proc else "") in res.stderr
    assert not other.exists()
    assert d.ping()


def test_flag_and_file_conflict_and_unknown_key(tmp_path: Path) -> None:
    cfg = tmp_path / "daemon.json"
    cfg.write_text(json.dumps({"data-root": str(tmp_path / "a")}))
    res = subprocess.run([DOCKYARD, "daemon", "--config-file", str(cfg), "--data-root", str(tmp_path / "b")],
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    assert res.returncode == 1
    assert "specified both as a flag and in the configuration file: data_root" in res.stderr
    cfg.write_text('{"no-such-key": 1}')
    res = subprocess.run(
        [DOCKYARD, "daemon", "--config-file", str(cfg)], capture_output=True, text=True, timeout=30
    )
    assert res.returncode == 1 and "unknown key 'no-such-key'" in res.stderr
    cfg.write_text("{not json")
    res = subprocess.run(
        [DOCKYARD, "daemon", "--config-file", str(cfg)], capture_output=True, text=True, timeout=30
    )
    assert res.returncode == 1 and "invalid JSON at line 1" in res.stderr


def test_tcp_needs_mutual_tls_unless_insecure_on_loopback(tmp_path: Path) -> None:
    (tmp_path / "none.json").write_text("{}")
    base = [DOCKYARD, "daemon", "--data-root", str(tmp_path / "d"), "--exec-root", str(tmp_path / "r"),
            "--config-file", str(tmp_path / "none.json")]  # fmt: skip
    res = subprocess.run([*base, "-H", "tcp://127.0.0.1:23750"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 1 and "without mutual TLS" in res.stderr
    res = subprocess.run([*base, "-H", "tcp://0.0.0.0:23750", "--insecure-tcp"],
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    assert res.returncode == 1 and "only allowed on a loopback address" in res.stderr
    res = subprocess.run(
        [*base, "-H", "tcp://127.0.0.1:1", "--tlsverify"], capture_output=True, text=True, timeout=30
    )
    assert res.returncode == 1 and "missing: --tlscacert, --tlscert, --tlskey" in res.stderr
    assert not (tmp_path / "d" / "daemon.lock").exists()  # refused before touching anything


def test_insecure_tcp_on_loopback(tmp_path: Path) -> None:
    port = _free_port()
    with DockyardDaemon("-H", f"tcp://127.0.0.1:{port}", "--insecure-tcp", root=str(tmp_path / "d")) as d:
        env = {**d.env(), "DOCKER_HOST": f"tcp://127.0.0.1:{port}"}
        res = subprocess.run([DOCKER_CLI, "version", "--format", "{{.Server.APIVersion}}"], env=env,
                             capture_output=True, text=True, timeout=30)  # fmt: skip
        assert res.stdout.strip() == "1.45", res.stderr


def _cert(
    name: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer: ec.EllipticCurvePrivateKey, *,
    ca: bool = False, server: bool = False,
) -> x509.Certificate:  # fmt: skip
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


def _write(
    path: Path, cert: x509.Certificate | None = None, key: ec.EllipticCurvePrivateKey | None = None
) -> str:
    if cert is not None:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return str(path)


def test_mutual_tls(tmp_path: Path) -> None:
    ca_key, srv_key, cli_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dockyard test CA")])
    ca = _cert("dockyard test CA", ca_key, ca_name, ca_key, ca=True)
    certs = tmp_path / "certs"
    certs.mkdir()
    _write(certs / "ca.pem", ca)
    _write(certs / "server-cert.pem", _cert("127.0.0.1", srv_key, ca_name, ca_key, server=True))
    _write(certs / "server-key.pem", key=srv_key)
    _write(certs / "cert.pem", _cert("client", cli_key, ca_name, ca_key))
    _write(certs / "key.pem", key=cli_key)
    port = _free_port()
    with DockyardDaemon(
        "-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
        "--tlscert", str(certs / "server-cert.pem"), "--tlskey", str(certs / "server-key.pem"),
        root=str(tmp_path / "d"),
    ) as d:  # fmt: skip
        env = {**d.env(), "DOCKER_HOST": f"tcp://127.0.0.1:{port}", "DOCKER_TLS_VERIFY": "1",
               "DOCKER_CERT_PATH": str(certs)}  # fmt: skip
        res = subprocess.run([DOCKER_CLI, "version", "--format", "{{.Server.APIVersion}}"], env=env,
                             capture_output=True, text=True, timeout=30)  # fmt: skip
        assert res.stdout.strip() == "1.45", res.stderr
        # Without a client certificate the handshake fails.
        ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)),
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            if not tls.recv(100):
                raise ConnectionResetError("closed without an answer")


def test_sigterm_removes_pidfile_and_socket_and_sighup_reloads(tmp_path: Path) -> None:
    d = DockyardDaemon(root=str(tmp_path / "d"))
    with d:
        pidfile = d.exec_root / "dockyard.pid"
        assert d.proc is not None
        assert pidfile.read_text().strip() == str(d.proc.pid)
        (d.root / "daemon.json").write_text(json.dumps({"debug": True, "labels": ["team=a"]}))
        os.kill(d.proc.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "Reloaded configuration" not in d.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert 'changed="debug,labels,log_level"' in d.log()
        assert d.docker("info", "--format", "{{json .Labels}}").stdout.strip() == '["team=a"]'
        assert d.stop() == 0
        assert not pidfile.exists()
        assert not d.socket.exists()
        assert "Daemon shutdown complete" in d.log()


def test_default_runtime_given_as_a_path_runs_containers(tmp_path: Path) -> None:
    runc = "/usr/sbin/runc"
    with DockyardDaemon("--runtime", runc, root=str(tmp_path / "d")) as d:
        d.bootstrap()
        res = d.docker("run", "--rm", "busybox", "echo", "via-path")
        assert res.stdout == "via-path\n"
        cid = d.docker("create", "busybox", "true").stdout.strip()
        assert d.docker("inspect", "-f", "{{.HostConfig.Runtime}}", cid).stdout.strip() == runc
        d.docker("rm", cid)
